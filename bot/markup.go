package bot

import (
	"strconv"
	"strings"
	"time"
)

// The neutral markup of every Message's text, which each adapter renders in its platform's terms:
//
//   - *bold*, _italic_ and `code`, as in Slack's mrkdwn and Markdown.
//   - Emoji are Unicode characters (✅ ⛔ ⏳ 🔒 …), never a platform's short codes.
//   - Literal(s): user-supplied text (display names, UPNs, group names, reasons), shown exactly as typed:
//     never as formatting, links or mentions. Delimited by U+E000 … U+E001.
//   - Mention(platform, id, name): a chat user, shown as the platform's mention (<@U…> in Slack), or as the
//     name where the platform has none. U+E002 platform U+001F id U+001F name U+E003.
//   - Time(t): a moment, shown in each viewer's own time zone with UTC beside it where the platform can do so
//     (Slack's <!date^…> tokens, Adaptive Cards' DATE()/TIME(), the console's browser). U+E004 unix-seconds
//     U+E005. Shared messages (cards, thread replies) use it; private replies may format a time for their one
//     viewer with FormatTime instead.
//
// Platform wording ("/invite @signoutbot") stays in the adapters.
const (
	literalOpen, literalClose = "\ue000", "\ue001"
	mentionOpen, mentionClose = "\ue002", "\ue003"
	timeOpen, timeClose       = "\ue004", "\ue005"
	mentionSep                = "\x1f"
)

// markerStripper removes the markup's delimiters from user text, so nobody can forge or break a marker.
var markerStripper = strings.NewReplacer(literalOpen, "", literalClose, "", mentionOpen, "", mentionClose, "",
	timeOpen, "", timeClose, "")

// Literal marks user-supplied text (names, reasons) inside a message's markup: adapters show it as typed,
// never as formatting, links or mentions.
func Literal(s string) string { return literalOpen + markerStripper.Replace(s) + literalClose }

// Mention marks a reference to a chat user (platform user id and display name); adapters render it as
// their platform's mention, or the name where they have none.
func Mention(platform, id, name string) string {
	clean := func(s string) string { return strings.ReplaceAll(markerStripper.Replace(s), mentionSep, "") }
	return mentionOpen + clean(platform) + mentionSep + clean(id) + mentionSep + clean(name) + mentionClose
}

// Time marks a moment that each viewer should see in their own time zone, with UTC beside it.
func Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return timeOpen + strconv.FormatInt(t.Unix(), 10) + timeClose
}

// Part is one piece of marked-up text, as adapters walk it.
type Part struct {
	Kind PartKind
	Text string // KindText: markup text; KindLiteral: the user's text
	// KindMention:
	Platform, ID, Name string
	// KindTime:
	Time time.Time
}

// PartKind says what a Part is.
type PartKind int

const (
	KindText PartKind = iota
	KindLiteral
	KindMention
	KindTime
)

// Parse splits marked-up text into its parts, in order. Malformed markers (never produced by this package) are
// kept as text.
func Parse(s string) []Part {
	var out []Part
	for s != "" {
		i := strings.IndexAny(s, literalOpen+mentionOpen+timeOpen)
		if i < 0 {
			out = append(out, Part{Kind: KindText, Text: s})
			break
		}
		if i > 0 {
			out = append(out, Part{Kind: KindText, Text: s[:i]})
			s = s[i:]
		}
		open := s[:len(literalOpen)] // every opener is one 3-byte rune
		closer := map[string]string{literalOpen: literalClose, mentionOpen: mentionClose, timeOpen: timeClose}[open]
		j := strings.Index(s, closer)
		if j < 0 {
			out = append(out, Part{Kind: KindText, Text: s})
			break
		}
		body := s[len(open):j]
		s = s[j+len(closer):]
		switch open {
		case literalOpen:
			out = append(out, Part{Kind: KindLiteral, Text: body})
		case mentionOpen:
			f := strings.SplitN(body, mentionSep, 3)
			for len(f) < 3 {
				f = append(f, "")
			}
			out = append(out, Part{Kind: KindMention, Platform: f[0], ID: f[1], Name: f[2]})
		case timeOpen:
			sec, err := strconv.ParseInt(body, 10, 64)
			if err != nil {
				out = append(out, Part{Kind: KindText, Text: body})
				continue
			}
			out = append(out, Part{Kind: KindTime, Time: time.Unix(sec, 0).UTC()})
		}
	}
	return out
}

// PlainText renders marked-up text for places without formatting (notification text, logs, tests): literals
// as typed, mentions as names, times in UTC.
func PlainText(s string) string {
	var b strings.Builder
	for _, p := range Parse(s) {
		switch p.Kind {
		case KindText, KindLiteral:
			b.WriteString(p.Text)
		case KindMention:
			b.WriteString(p.Name)
		case KindTime:
			b.WriteString(FormatTime(p.Time, time.UTC))
		}
	}
	return b.String()
}
