package commands

import (
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// normalize undoes what chat platforms do to typed text, so the grammar only
// ever sees plain words separated by single spaces:
//
//   - Slack sends its own markup in raw angle brackets (<mailto:a@b.com|a@b.com>,
//     <http://x|x>, <@U123>) and escapes the user's own &, <, > as entities;
//     Teams sends HTML (<p>, <at>Bot</at>, &nbsp;). Markup is resolved first and
//     entities decoded after, so a user's literal "&lt;" survives as "<".
//   - Phones and Teams substitute typographic quotes and non-breaking spaces,
//     and copy-paste drags in invisible characters that would make a correct
//     address fail to match.
//
// It also drops a leading "/signout" in case an adapter passes the whole
// message, and rejects what cannot be repaired: oversized or binary text.
func normalize(text string) (string, *Error) {
	if len(text) > maxTextBytes {
		return "", &Error{Msg: fmt.Sprintf("the message is too long (%d bytes; the limit is %d). "+
			`To sign out many people use "group <name>", or split the list into several requests`, len(text), maxTextBytes)}
	}
	if !utf8.ValidString(text) {
		return "", &Error{Msg: "the message contains garbled characters (it is not valid UTF-8 text); retype the command instead of pasting it"}
	}
	if e := checkControl(text); e != nil {
		return "", e
	}
	s := html.UnescapeString(unmarkup(text))
	// Entities such as &#7; can smuggle in what the first check refused.
	if e := checkControl(s); e != nil {
		return "", e
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case invisible(r):
			// dropped: zero-width and direction marks only hide or reorder text
		case r == '\u201C' || r == '\u201D' || r == '\u201E' || r == '\u201F':
			b.WriteByte('"')
		case r == '\u2018' || r == '\u2019' || r == '\u201A' || r == '\u201B':
			b.WriteByte('\'')
		default:
			b.WriteRune(r)
		}
	}
	words := strings.Fields(b.String())
	if len(words) > 0 && (strings.EqualFold(words[0], "/signout") || strings.EqualFold(words[0], "signout")) {
		words = words[1:]
	}
	return strings.Join(words, " "), nil
}

// checkControl refuses control characters: they are never typed on purpose,
// and passing them on would let a pasted message corrupt logs or chat output.
func checkControl(s string) *Error {
	for _, r := range s {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return &Error{Msg: fmt.Sprintf("the message contains an invisible control character (U+%04X); retype the command instead of pasting it", r)}
		}
	}
	return nil
}

// invisible reports characters that display as nothing. They arrive from
// copy-paste (soft hyphens, zero-width spaces, byte-order marks) or could be
// used to make the approver read a different name than the one acted on
// (bidirectional overrides), so they are removed rather than kept.
// Zero-width joiners are kept: they are part of emoji and some scripts.
func invisible(r rune) bool {
	switch {
	case r == '\u00AD', r == '\u061C', r == '\u180E', r == '\u200B', r == '\u200E', r == '\u200F', r == '\uFEFF':
		return true
	case r >= '\u202A' && r <= '\u202E', r >= '\u2060' && r <= '\u2064', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// unmarkup resolves the raw-angle-bracket markup of Slack and Teams. A raw '<'
// is always markup: both platforms escape a '<' the user typed as "&lt;".
func unmarkup(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	leading := true // only whitespace and block tags so far: a mention here addresses the bot
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' {
			b.WriteByte(c)
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				leading = false
			}
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '>')
		if j < 0 || strings.IndexByte(s[i+1:i+1+j], '<') >= 0 {
			// Not a complete tag; keep the bracket as text.
			b.WriteByte(c)
			leading = false
			i++
			continue
		}
		inner := s[i+1 : i+1+j]
		next := i + 1 + j + 1
		name, closing, isTag := htmlTag(inner)
		switch {
		case !isTag:
			b.WriteString(slackLink(inner))
			leading = false
		case name == "at" && !closing && leading:
			// Teams prefixes a message to a bot with "<at>BotName</at>"; the
			// name is not part of the command.
			if k := indexFold(s[next:], "</at>"); k >= 0 {
				next += k + len("</at>")
			}
			b.WriteByte(' ')
			leading = false
		case name == "at" && !closing:
			// Any other Teams mention names a person by display name, which is
			// not a usable reference; keep it recognisable as a mention so the
			// error can say so.
			b.WriteByte('@')
		case blockTag(name):
			b.WriteByte(' ')
		}
		// Inline tags (<a href…>, <span>, <b>) vanish without a space so that
		// text split across them, like smtp:<a …>addr</a>, stays one word.
		i = next
	}
	return b.String()
}

// htmlTag recognises the inside of an HTML tag ("p", "/p", "br/", `a href="…"`)
// and returns its lower-cased name. Slack markup never looks like this: its
// contents start with a scheme ("mailto:", "http:") or a sigil (@, #, !).
func htmlTag(inner string) (name string, closing, ok bool) {
	if strings.HasPrefix(inner, "/") {
		closing, inner = true, inner[1:]
	}
	n := 0
	for n < len(inner) && (isASCIILetter(inner[n]) || (n > 0 && inner[n] >= '0' && inner[n] <= '9')) {
		n++
	}
	if n == 0 {
		return "", false, false
	}
	if n < len(inner) {
		switch inner[n] {
		case ' ', '\t', '\n', '\r', '/':
		default:
			return "", false, false
		}
	}
	return strings.ToLower(inner[:n]), closing, true
}

// blockTag reports tags that separate words when rendered; dropping them
// without a space would glue "<p>a</p><p>b</p>" into "ab".
func blockTag(name string) bool {
	switch name {
	case "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "blockquote", "pre", "hr",
		"h1", "h2", "h3", "h4", "h5", "h6":
		return true
	}
	return false
}

// slackLink turns Slack's <target|label> markup back into what the user typed:
// the label if there is one, else the target without "mailto:". Mentions and
// channel links (<@U123>, <#C1>, <!here>) keep their sigil so that the error
// can say a mention is not an address.
func slackLink(inner string) string {
	if k := strings.IndexByte(inner, '|'); k >= 0 {
		if inner[0] == '@' || inner[0] == '#' {
			return inner[:1] + inner[k+1:] // <@U123|bob> → @bob
		}
		return inner[k+1:]
	}
	if len(inner) >= 7 && strings.EqualFold(inner[:7], "mailto:") {
		return inner[7:]
	}
	if strings.HasPrefix(inner, "!") {
		return "@" + inner[1:]
	}
	return inner
}

// indexFold is strings.Index ignoring ASCII case, enough for tag names.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isASCIILetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// escapeMarkup makes canonical text survive normalize unchanged: a raw '<'
// would be read as markup, and an '&' that starts something html.Unescape
// would decode (like the "&amp;" of a group literally named "R&amp;D") must be
// escaped. Other '&' stay as they are so "R&D" reads naturally.
func escapeMarkup(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b.WriteString("&lt;")
		case '&':
			// An entity name or number ends at the next '&' at the latest, so
			// decoding up to there shows whether this '&' would be consumed.
			end := strings.IndexByte(s[i+1:], '&')
			if end < 0 {
				end = len(s)
			} else {
				end += i + 1
			}
			if seg := s[i:end]; html.UnescapeString(seg) != seg {
				b.WriteString("&amp;")
			} else {
				b.WriteByte('&')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
