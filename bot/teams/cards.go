package teams

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/signoutbot/signoutbot/bot"
)

// CardVersion is the Adaptive Card schema version of every card: Universal Actions (Action.Execute) need 1.5.
const CardVersion = "1.5"

// maxCardBytes keeps a card well under Teams' limit for a bot message (about 40 KB for the whole activity).
const maxCardBytes = 34 << 10

// The Adaptive Card elements the adapter uses.

type adaptiveCard struct {
	Type         string   `json:"type"`
	Schema       string   `json:"$schema,omitempty"`
	Version      string   `json:"version,omitempty"`
	FallbackText string   `json:"fallbackText,omitempty"`
	Body         []any    `json:"body"`
	Actions      []any    `json:"actions,omitempty"`
	MSTeams      *msteams `json:"msteams,omitempty"`
}

type msteams struct {
	Width string `json:"width,omitempty"`
}

type textBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Weight   string `json:"weight,omitempty"`
	Size     string `json:"size,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
	Color    string `json:"color,omitempty"`
	Spacing  string `json:"spacing,omitempty"`
}

type container struct {
	Type      string `json:"type"`
	Items     []any  `json:"items"`
	Style     string `json:"style,omitempty"`
	Separator bool   `json:"separator,omitempty"`
	Spacing   string `json:"spacing,omitempty"`
}

type columnSet struct {
	Type      string   `json:"type"`
	Columns   []column `json:"columns"`
	Separator bool     `json:"separator,omitempty"`
}

type column struct {
	Type  string `json:"type"`
	Width string `json:"width"`
	Items []any  `json:"items"`
}

type actionSet struct {
	Type      string `json:"type"`
	Actions   []any  `json:"actions"`
	Separator bool   `json:"separator,omitempty"`
}

type actionExecute struct {
	Type             string       `json:"type"`
	Title            string       `json:"title"`
	Verb             string       `json:"verb"`
	Data             any          `json:"data,omitempty"`
	Style            string       `json:"style,omitempty"`
	AssociatedInputs string       `json:"associatedInputs,omitempty"`
	Fallback         actionSubmit `json:"fallback"`
}

type actionSubmit struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	Data  any    `json:"data,omitempty"`
	Style string `json:"style,omitempty"`
}

type actionShowCard struct {
	Type  string       `json:"type"`
	Title string       `json:"title"`
	Style string       `json:"style,omitempty"`
	Card  adaptiveCard `json:"card"`
}

type inputText struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Label       string `json:"label,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	IsMultiline bool   `json:"isMultiline,omitempty"`
	MaxLength   int    `json:"maxLength,omitempty"`
}

// ReasonInput is the id of the deny reason's input; Teams merges its value into the action's data as "reason".
const ReasonInput = "reason"

// maxReason matches the core's limit on a reason (commands.MaxReasonLen).
const maxReason = 1500

// renderCard renders a neutral message as an Adaptive Card 1.5, with notes for one viewer above it (a refusal
// answered to the person who clicked):
//
//   - header: a bold, medium TextBlock; section text: TextBlocks, one per line (Teams' card markdown joins
//     single line breaks, and a blank line between every line would spread the card out); fields: a ColumnSet;
//     context: small, subtle TextBlocks; a divider: a separator line.
//   - The markup's *bold* becomes **bold**, _italic_ stays, `code` keeps its text (cards have no inline code).
//   - Literals are escaped so that Markdown characters show as typed (see escapeLiteral); mentions are the
//     person's name in bold (a Teams @mention would notify them, which a status card should not).
//   - Times are {{DATE(…, SHORT)}} {{TIME(…)}}, which Teams shows in each viewer's own time zone, followed by
//     the time in UTC, which is also what a client that cannot format them shows beside the raw value.
//   - Buttons are Action.Execute (Universal Actions: the click comes back as an adaptiveCard/action invoke and
//     is answered with the refreshed card), each with an Action.Submit fallback for clients without Universal
//     Actions. Cards have no confirmation dialog, so a button with a confirmation opens an inline card
//     (Action.ShowCard) that states the consequence, with the button that acts; Deny opens one with an
//     optional reason (Input.Text, 1,500 characters at most).
func renderCard(msg bot.Message, notes []bot.Message) adaptiveCard {
	c := adaptiveCard{Type: "AdaptiveCard", Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Version: CardVersion,
		FallbackText: summaryText(msg), MSTeams: &msteams{Width: "Full"}}
	if len(notes) > 0 {
		var items []any
		for _, n := range notes {
			for _, line := range noteLines(n) {
				items = append(items, textBlock{Type: "TextBlock", Text: line, Wrap: true, Weight: "Bolder", Color: "Attention", Spacing: "None"})
			}
		}
		c.Body = append(c.Body, container{Type: "Container", Style: "attention", Items: items})
	}
	separate := false
	for _, b := range msg.Blocks {
		el := renderBlock(b)
		if el == nil {
			separate = separate || b.Kind == bot.BlockDivider
			continue
		}
		if separate {
			el = withSeparator(el)
			separate = false
		}
		c.Body = append(c.Body, el)
	}
	if len(c.Body) == 0 {
		c.Body = append(c.Body, lineBlocks(markdownLines(msg.Text), textBlock{})...)
	}
	return shorten(c)
}

func noteLines(n bot.Message) []string {
	var lines []string
	for _, b := range n.Blocks {
		if b.Text != "" {
			lines = append(lines, markdownLines(b.Text)...)
		}
	}
	if len(lines) == 0 {
		lines = markdownLines(n.Text)
	}
	return lines
}

func withSeparator(el any) any {
	switch x := el.(type) {
	case container:
		x.Separator = true
		return x
	case columnSet:
		x.Separator = true
		return x
	case actionSet:
		x.Separator = true
		return x
	}
	return container{Type: "Container", Items: []any{el}, Separator: true}
}

// lineBlocks makes one TextBlock of each line, styled like proto, with no gap between lines.
func lineBlocks(lines []string, proto textBlock) []any {
	out := make([]any, 0, len(lines))
	for i, l := range lines {
		tb := proto
		tb.Type, tb.Text, tb.Wrap = "TextBlock", l, true
		if i > 0 {
			tb.Spacing = "None"
		}
		if strings.TrimSpace(l) == "" {
			tb.Text = " " // an empty TextBlock is dropped by some clients, and the blank line with it
		}
		out = append(out, tb)
	}
	return out
}

func renderBlock(b bot.Block) any {
	switch b.Kind {
	case bot.BlockHeader:
		return textBlock{Type: "TextBlock", Text: strings.Join(markdownLines(b.Text), " "), Wrap: true, Weight: "Bolder", Size: "Medium"}
	case bot.BlockSection:
		var items []any
		if b.Text != "" {
			items = append(items, lineBlocks(markdownLines(b.Text), textBlock{})...)
		}
		if len(b.Fields) > 0 {
			var cols []column
			for _, f := range b.Fields {
				cols = append(cols, column{Type: "Column", Width: "stretch", Items: lineBlocks(markdownLines(f), textBlock{})})
			}
			items = append(items, columnSet{Type: "ColumnSet", Columns: cols})
		}
		if len(items) == 0 {
			return nil
		}
		return container{Type: "Container", Items: items}
	case bot.BlockContext:
		if b.Text == "" {
			return nil
		}
		return container{Type: "Container", Items: lineBlocks(markdownLines(b.Text), textBlock{Size: "Small", IsSubtle: true})}
	case bot.BlockActions:
		var actions []any
		for _, btn := range b.Buttons {
			actions = append(actions, renderButton(btn))
		}
		if len(actions) == 0 {
			return nil
		}
		return actionSet{Type: "ActionSet", Actions: actions}
	}
	return nil
}

var buttonStyle = map[string]string{"primary": "positive", "danger": "destructive"}

// execute is a button's Action.Execute, with the Action.Submit that clients without Universal Actions show
// instead. Both carry the request id; Action.Submit also carries the verb, which only Action.Execute has a
// field for.
func execute(title, verb, requestID, style string, inputs bool) actionExecute {
	a := actionExecute{Type: "Action.Execute", Title: title, Verb: verb, Data: map[string]string{"requestId": requestID}, Style: style,
		Fallback: actionSubmit{Type: "Action.Submit", Title: title, Data: map[string]string{"action": verb, "requestId": requestID}, Style: style}}
	if inputs {
		a.AssociatedInputs = "auto"
	}
	return a
}

func renderButton(btn bot.Button) any {
	label := bot.PlainText(btn.Label)
	style := buttonStyle[btn.Style]
	switch {
	case btn.ID == "deny":
		return actionShowCard{Type: "Action.ShowCard", Title: label, Style: style, Card: adaptiveCard{Type: "AdaptiveCard",
			Body: []any{inputText{Type: "Input.Text", ID: ReasonInput, Label: "Reason (optional)", IsMultiline: true, MaxLength: maxReason,
				Placeholder: "Shown on the card and to the requester"}},
			Actions: []any{execute(label, btn.ID, btn.Value, style, true)}}}
	case btn.Confirm != nil:
		ok := bot.PlainText(btn.Confirm.OK)
		if ok == "" {
			ok = label
		}
		body := []any{textBlock{Type: "TextBlock", Text: strings.Join(markdownLines(btn.Confirm.Title), " "), Wrap: true, Weight: "Bolder"}}
		body = append(body, lineBlocks(markdownLines(btn.Confirm.Text), textBlock{})...)
		return actionShowCard{Type: "Action.ShowCard", Title: label, Style: style, Card: adaptiveCard{Type: "AdaptiveCard", Body: body,
			Actions: []any{execute(ok, btn.ID, btn.Value, style, false)}}}
	}
	return execute(label, btn.ID, btn.Value, style, false)
}

// shorten drops trailing elements of a card too large for a Teams message, and says so: nothing is cut silently.
func shorten(c adaptiveCard) adaptiveCard {
	note := textBlock{Type: "TextBlock", Text: "…message shortened: Teams allows about 40 KB per message.", Wrap: true, Size: "Small", IsSubtle: true}
	for len(c.Body) > 1 {
		b, err := json.Marshal(c)
		if err != nil || len(b) <= maxCardBytes {
			return c
		}
		c.Body = append(c.Body[:len(c.Body)-2], note)
	}
	return c
}

// summaryText is a message's one-line plain text: notifications, the activity feed and fallbackText.
func summaryText(msg bot.Message) string {
	s := bot.PlainText(msg.Text)
	if s == "" {
		for _, b := range msg.Blocks {
			if b.Text != "" {
				s = bot.PlainText(b.Text)
				break
			}
		}
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if utf8.RuneCountInString(s) > 300 {
		s = string([]rune(s)[:299]) + "…"
	}
	return s
}

// markdownLines renders neutral markup as Teams card markdown, one string per line.
func markdownLines(s string) []string {
	var lines []string
	var b strings.Builder
	lineStart := true
	newLine := func() {
		lines = append(lines, b.String())
		b.Reset()
		lineStart = true
	}
	for _, p := range bot.Parse(s) {
		switch p.Kind {
		case bot.KindText, bot.KindLiteral:
			for i, seg := range strings.Split(p.Text, "\n") {
				if i > 0 {
					newLine()
				}
				if p.Kind == bot.KindText {
					b.WriteString(ownMarkdown(seg))
				} else {
					b.WriteString(escapeLiteral(seg, lineStart))
				}
				if strings.TrimSpace(seg) != "" {
					lineStart = false
				}
			}
		case bot.KindMention:
			name := strings.TrimSpace(p.Name)
			if name == "" {
				name = p.ID
			}
			b.WriteString("**" + escapeLiteral(name, false) + "**")
			lineStart = false
		case bot.KindTime:
			b.WriteString(cardTime(p.Time))
			lineStart = false
		}
	}
	return append(lines, b.String())
}

// ownMarkdown renders the bot's own markup: *bold* is **bold** in card markdown, _italic_ is the same, and code
// spans lose their backticks, since cards cannot show inline code and a backtick would show as one.
func ownMarkdown(s string) string {
	return strings.NewReplacer("*", "**", "`", "").Replace(s)
}

// cardTime shows a moment in each viewer's own time zone (Adaptive Cards' DATE and TIME functions, which need
// RFC 3339 in UTC) with the UTC time beside it, so people in different zones can quote one unambiguous time.
func cardTime(t time.Time) string {
	u := t.UTC()
	iso := u.Format("2006-01-02T15:04:05Z")
	return "{{DATE(" + iso + ", SHORT)}} {{TIME(" + iso + ")}} (" + u.Format("15:04") + " UTC)"
}

// escapeLiteral renders user text (names, UPNs, reasons) so that a card shows it as typed, never as formatting,
// a link, a list or a date:
//
//   - Markdown's punctuation (\ * ~ ` [ ] < > # & |) is escaped with a backslash, which CommonMark defines for
//     every ASCII punctuation character; & too, so "&lt;" cannot turn into "<".
//   - An underscore between two letters or digits stays as typed, because Markdown never starts or ends
//     emphasis there: snake_case and guest UPNs (jane_fabrikam.com#EXT#@…) read, and copy, unchanged.
//   - A "-", "+" or "1." that would start a line (a list item) is escaped.
//   - "{{" gets a zero-width space inside, so that user text cannot call the card's DATE()/TIME() functions, and
//     "://" a word joiner, so that Teams does not turn a bare URL into a link.
func escapeLiteral(s string, lineStart bool) string {
	rs := []rune(s)
	word := func(i int) bool {
		if i < 0 || i >= len(rs) {
			return false // the literal's edges count as boundaries: the text around it is not the user's
		}
		return unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])
	}
	var b strings.Builder
	escapeAt := -1 // the '.' or ')' after a number that starts a line
	for i, r := range rs {
		if lineStart && r != ' ' && r != '\t' {
			lineStart = false
			switch {
			case r == '-' || r == '+':
				b.WriteString(`\` + string(r))
				continue
			case r >= '0' && r <= '9':
				j := i
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					j++
				}
				if j < len(rs) && (rs[j] == '.' || rs[j] == ')') {
					escapeAt = j
				}
			}
		}
		switch {
		case i == escapeAt:
			b.WriteString(`\` + string(r))
		case strings.ContainsRune("\\*~`[]<>#&|", r):
			b.WriteString(`\` + string(r))
		case r == '_':
			if word(i-1) && word(i+1) {
				b.WriteRune(r)
			} else {
				b.WriteString(`\_`)
			}
		case r == '{' && i+1 < len(rs) && rs[i+1] == '{':
			b.WriteString("{\u200b")
		case r == ':' && i+2 < len(rs) && rs[i+1] == '/' && rs[i+2] == '/':
			b.WriteString(":\u2060")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
