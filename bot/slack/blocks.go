package slack

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
)

// Block Kit limits that matter here (in characters, as Slack counts them).
const (
	maxSectionText = 3000
	maxFieldText   = 2000
	maxHeaderText  = 150
	maxButtonText  = 75
	maxBlocks      = 50
)

// The delimiters of bot.Literal, bot.Mention and bot.Time in the neutral markup.
const (
	literalOpen  = '\ue000'
	literalClose = '\ue001'
	mentionOpen  = '\ue002'
	mentionClose = '\ue003'
	timeOpen     = '\ue004'
	timeClose    = '\ue005'
	mentionSep   = "\x1f"
)

// escape turns &, < and > into the entities Slack requires, so text never becomes a link, a mention or
// <!channel>. Every text the bot writes goes through it; the markup's *bold*, _italic_ and `code` are
// Slack's own mrkdwn and pass unchanged.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// segment is one run of the neutral markup: the bot's own markup, a literal (user text), a mention, or a time.
type segment struct {
	literal, mention, time bool
	text                   string    // markup or literal text
	platform, id           string    // mention
	at                     time.Time // time
}

// segments splits markup at literal, mention and time delimiters. A literal, mention or time that is never
// closed, or a time that is not a number, runs to its end as a literal: user text must never turn into markup
// because a delimiter went missing. Stray closing delimiters are dropped.
func segments(s string) []segment {
	var out []segment
	for s != "" {
		i := strings.IndexAny(s, string([]rune{literalOpen, mentionOpen, timeOpen}))
		if i < 0 {
			out = append(out, segment{text: s})
			break
		}
		if i > 0 {
			out = append(out, segment{text: s[:i]})
		}
		open, size := utf8.DecodeRuneInString(s[i:])
		closer := map[rune]rune{literalOpen: literalClose, mentionOpen: mentionClose, timeOpen: timeClose}[open]
		body := s[i+size:]
		s = ""
		closed := false
		if j := strings.IndexRune(body, closer); j >= 0 {
			body, s, closed = body[:j], body[j+utf8.RuneLen(closer):], true
		}
		body = stripMarkers(body)
		if open == timeOpen && closed {
			if sec, err := strconv.ParseInt(body, 10, 64); err == nil {
				out = append(out, segment{time: true, at: time.Unix(sec, 0).UTC()})
				continue
			}
		}
		parts := strings.Split(body, mentionSep)
		if open == mentionOpen && len(parts) == 3 {
			out = append(out, segment{mention: true, platform: parts[0], id: parts[1], text: parts[2]})
			continue
		}
		out = append(out, segment{literal: true, text: strings.ReplaceAll(body, mentionSep, "")})
	}
	for i := range out {
		if !out[i].literal && !out[i].mention && !out[i].time {
			out[i].text = stripMarkers(out[i].text)
		}
	}
	return out
}

var markers = strings.NewReplacer(string(literalOpen), "", string(literalClose), "", string(mentionOpen), "", string(mentionClose), "",
	string(timeOpen), "", string(timeClose), "")

// utcText is a time where Slack cannot show it in the viewer's zone (plain_text, notifications, and the
// fallback inside a date token): UTC, said so.
func utcText(t time.Time) string { return t.UTC().Format("Mon 2 Jan 15:04 UTC") }

// dateToken renders a time as Slack's date token, which each client shows in its viewer's own time zone, with
// UTC beside it: people in different zones deciding together can quote one unambiguous time. The text after |
// is what clients that cannot read the token show instead.
func dateToken(t time.Time) string {
	return "<!date^" + strconv.FormatInt(t.Unix(), 10) + "^{date_short_pretty} {time}|" + utcText(t) + "> (" +
		t.UTC().Format("15:04") + " UTC)"
}

func stripMarkers(s string) string { return markers.Replace(s) }

// slackUserID reports whether id is a Slack user id (U… or W…, upper-case letters and digits). Only such an
// id is put inside <@…>: anything else could close the mention early and smuggle in <!channel>.
func slackUserID(id string) bool {
	if len(id) < 2 || id[0] != 'U' && id[0] != 'W' {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// mentionName is what a mention shows where Slack cannot mention: the name, or the id when there is none.
func mentionName(sg segment) string {
	if n := strings.TrimSpace(sg.text); n != "" {
		return n
	}
	return sg.id
}

// mrkdwnText renders neutral markup as a Slack mrkdwn string.
func mrkdwnText(s string) string {
	var b strings.Builder
	for _, sg := range segments(s) {
		// A blockquote starts only at the beginning of a line, so literals need to know where they start.
		before := strings.TrimRight(b.String(), " \t")
		lineStart := before == "" || strings.HasSuffix(before, "\n")
		switch {
		case sg.mention && sg.platform == Platform && slackUserID(sg.id):
			b.WriteString("<@" + sg.id + ">")
		case sg.mention:
			if n := mentionName(sg); n != "" {
				b.WriteString("*" + literalMrkdwn(n, false) + "*")
			}
		case sg.literal:
			b.WriteString(literalMrkdwn(sg.text, lineStart))
		case sg.time:
			b.WriteString(dateToken(sg.at))
		default:
			b.WriteString(escape(sg.text))
		}
	}
	return b.String()
}

// plainTextOf renders neutral markup for a plain_text object (headers, buttons, dialog titles), which Slack
// shows exactly as given: literals lose only their delimiters, mentions become names, times are UTC.
func plainTextOf(s string) string {
	var b strings.Builder
	for _, sg := range segments(s) {
		switch {
		case sg.mention:
			b.WriteString(mentionName(sg))
		case sg.time:
			b.WriteString(utcText(sg.at))
		default:
			b.WriteString(sg.text)
		}
	}
	return b.String()
}

// fallbackText renders neutral markup for a message's top-level text, which Slack shows in notifications and
// where blocks cannot be shown. Notifications show no formatting, so literals are plain text there, as typed
// (only &, < and > escaped, which Slack requires of this field too); Slack mentions stay mentions, which
// notifications show as the person's current name. Times are UTC text, as in plain_text: notifications show
// no formatting, so nothing there can turn a date token into the viewer's zone.
func fallbackText(s string) string {
	var b strings.Builder
	for _, sg := range segments(s) {
		switch {
		case sg.mention && sg.platform == Platform && slackUserID(sg.id):
			b.WriteString("<@" + sg.id + ">")
		case sg.mention:
			b.WriteString(escape(mentionName(sg)))
		case sg.time:
			b.WriteString(utcText(sg.at))
		default:
			b.WriteString(escape(sg.text))
		}
	}
	return b.String()
}

// Look-alikes that stand in for mrkdwn's formatting characters inside user text. Slack has no escape for
// *, _, ~ and ` (a backslash shows as a backslash), and zero-width spaces are no help: Slack treats them as a
// word boundary, which is exactly what lets formatting start. These characters look the same and never
// format (jsx-slack's <Escape> uses the same ones).
var lookAlike = map[rune]string{
	'*': "\u2217", // ∗ ASTERISK OPERATOR
	'_': "\u02cd", // ˍ MODIFIER LETTER LOW MACRON
	'~': "\u223c", // ∼ TILDE OPERATOR
	'`': "\u02cb", // ˋ MODIFIER LETTER GRAVE ACCENT
}

// literalMrkdwn renders user text so that Slack shows it as typed, never as formatting, links or mentions:
//
//   - &, < and > become entities, so <!channel>, <https://…|click> and <@U…> stay text;
//   - *, _ and ~ between two ASCII letters or digits stay as typed: Slack formats only at word boundaries
//     (snake_case and guest UPNs like jane_fabrikam.com#EXT#@… show unchanged), and an admin who copies such
//     a UPN from the card must get the real one. Anywhere else they, and every backtick, become look-alikes;
//   - a > that would start a line gets an invisible soft hyphen before it, so it cannot open a blockquote.
//
// Auto-linking of bare URLs and channel names is switched off by verbatim on every mrkdwn object.
func literalMrkdwn(s string, lineStart bool) string {
	rs := []rune(s)
	word := func(i int) bool {
		if i < 0 || i >= len(rs) {
			return false // the literal's edges count as boundaries: the text around it is not the user's
		}
		r := rs[i]
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	var b strings.Builder
	for i, r := range rs {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			if lineStart {
				b.WriteString("\u00ad")
			}
			b.WriteString("&gt;")
		case '*', '_', '~':
			if word(i-1) && word(i+1) {
				b.WriteRune(r)
			} else {
				b.WriteString(lookAlike[r])
			}
		case '`':
			b.WriteString(lookAlike[r])
		default:
			b.WriteRune(r)
		}
		switch {
		case r == '\n':
			lineStart = true
		case r != ' ' && r != '\t':
			lineStart = false
		}
	}
	return b.String()
}

// mrkdwn makes a text object from neutral markup. verbatim stops Slack from turning bare URLs, #channel
// names and @here in the text into links and mentions.
func mrkdwn(s string) *slack.TextBlockObject {
	return mrkdwnObject(mrkdwnText(s))
}

func mrkdwnObject(rendered string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, rendered, false, true)
}

func plain(s string, limit int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, truncatePlain(plainTextOf(s), limit), false, false)
}

// truncatePlain shortens plain text to limit characters, marking the cut.
func truncatePlain(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit-1]) + "…"
}

// safeCut returns the byte offset of the limit-th character of rendered mrkdwn, moved back so the cut falls
// neither inside an entity (&amp;) nor inside Slack markup (<@U…>): half of either would show as garbage.
func safeCut(s string, limit int) int {
	cut := len(s)
	for i := range s {
		if limit == 0 {
			cut = i
			break
		}
		limit--
	}
	head := s[:cut]
	if a := strings.LastIndexByte(head, '&'); a >= 0 && !strings.Contains(head[a:], ";") {
		cut = a
	}
	if l := strings.LastIndexByte(s[:cut], '<'); l >= 0 && !strings.Contains(s[l:cut], ">") {
		cut = l
	}
	return cut
}

// truncateMrkdwn shortens rendered mrkdwn to limit characters, marking the cut. The parser caps what users
// type (commands.MaxReasonLen), but escaping can still lengthen it, and Slack refuses the whole message
// rather than one long field.
func truncateMrkdwn(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return s[:safeCut(s, limit-1)] + "…"
}

// splitText cuts long rendered mrkdwn into pieces Slack accepts in one section, at line breaks where it can.
func splitText(s string, limit int) []string {
	var out []string
	for utf8.RuneCountInString(s) > limit {
		cut := safeCut(s, limit)
		if nl := strings.LastIndexByte(s[:cut], '\n'); nl > 0 {
			cut = nl
		}
		if cut == 0 { // only when a single entity or mention is longer than limit, which none is
			cut = len(string([]rune(s)[:limit]))
		}
		out = append(out, s[:cut])
		s = strings.TrimPrefix(s[cut:], "\n")
	}
	return append(out, s)
}

// blocks renders a platform-neutral message as Block Kit.
func blocks(m bot.Message) []slack.Block {
	var out []slack.Block
	for _, b := range m.Blocks {
		switch b.Kind {
		case bot.BlockHeader:
			out = append(out, slack.NewHeaderBlock(plain(b.Text, maxHeaderText)))
		case bot.BlockSection:
			if b.Text != "" {
				for _, part := range splitText(mrkdwnText(b.Text), maxSectionText) {
					out = append(out, slack.NewSectionBlock(mrkdwnObject(part), nil, nil))
				}
			}
			if len(b.Fields) > 0 {
				var fields []*slack.TextBlockObject
				for _, f := range b.Fields {
					fields = append(fields, mrkdwnObject(truncateMrkdwn(mrkdwnText(f), maxFieldText)))
				}
				out = append(out, slack.NewSectionBlock(nil, fields, nil))
			}
		case bot.BlockContext:
			for _, part := range splitText(mrkdwnText(b.Text), maxSectionText) {
				out = append(out, slack.NewContextBlock("", mrkdwnObject(part)))
			}
		case bot.BlockDivider:
			out = append(out, slack.NewDividerBlock())
		case bot.BlockActions:
			var els []slack.BlockElement
			for _, btn := range b.Buttons {
				e := slack.NewButtonBlockElement(btn.ID, btn.Value, plain(btn.Label, maxButtonText))
				switch btn.Style {
				case "primary":
					e.Style = slack.StylePrimary
				case "danger":
					e.Style = slack.StyleDanger
				}
				if c := btn.Confirm; c != nil {
					// Slack's limits for a confirmation dialog: title 100, text 300, buttons 30 characters.
					e.Confirm = slack.NewConfirmationBlockObject(plain(c.Title, 100), mrkdwnObject(truncateMrkdwn(mrkdwnText(c.Text), 300)),
						plain(c.OK, 30), plain(c.Cancel, 30))
				}
				els = append(els, e)
			}
			out = append(out, slack.NewActionBlock("signout_actions", els...))
		}
	}
	if len(out) > maxBlocks {
		// Never cut silently: say that the message was too long for Slack.
		out = append(out[:maxBlocks-1], slack.NewContextBlock("", mrkdwn("…message shortened: Slack allows 50 blocks.")))
	}
	return out
}

func msgOptions(m bot.Message) []slack.MsgOption {
	return []slack.MsgOption{slack.MsgOptionText(fallbackText(m.Text), false), slack.MsgOptionBlocks(blocks(m)...)}
}
