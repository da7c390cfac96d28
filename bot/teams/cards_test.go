package teams

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
)

func TestEscapeLiteral(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		lineStart bool
		want      string
	}{
		{"plain", "Lester Tester", false, "Lester Tester"},
		{"bold", "*urgent*", false, `\*urgent\*`},
		{"link", "[click](https://evil.example)", false, `\[click\](https:` + "\u2060" + `//evil.example)`},
		{"html and mention", "<at>Bob</at> & co", false, `\<at\>Bob\</at\> \& co`},
		{"entity", "&lt;b&gt;", false, `\&lt;b\&gt;`},
		{"strike and code", "~~gone~~ `x`", false, `\~\~gone\~\~ \` + "`" + `x\` + "`"},
		{"heading and pipe", "# a | b", false, `\# a \| b`},
		{"backslash", `C:\temp`, false, `C:\\temp`},
		{"snake case stays", "jane_doe@contoso.com", false, "jane_doe@contoso.com"},
		{"guest UPN stays", "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", false, `jane_fabrikam.com\#EXT\#@contoso.onmicrosoft.com`},
		{"italic underscores", "_x_", false, `\_x\_`},
		{"list item at line start", "- item", true, `\- item`},
		{"plus at line start", "  + item", true, `  \+ item`},
		{"dash mid-line", "- item", false, "- item"},
		{"numbered list at line start", "12. item", true, `12\. item`},
		{"number mid-line", "12. item", false, "12. item"},
		{"date function", "{{DATE(2020-01-01T00:00:00Z)}}", false, "{\u200b{DATE(2020-01-01T00:00:00Z)}}"},
		{"unicode letters", "Zoë_Ångström", false, "Zoë_Ångström"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeLiteral(tc.in, tc.lineStart); got != tc.want {
				t.Errorf("escapeLiteral(%q, %v) = %q, want %q", tc.in, tc.lineStart, got, tc.want)
			}
		})
	}
}

func TestMarkdownLines(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"bold and italic", "*Revoked 1/1* · _none given_", []string{"**Revoked 1/1** · _none given_"}},
		{"code keeps its text", "see `/signout status <user>`", []string{"see /signout status <user>"}},
		{"lines", "*Reason*\nnone", []string{"**Reason**", "none"}},
		{"literal inside bold", "group *" + bot.Literal("Sales *EU*") + "*", []string{`group **Sales \*EU\***`}},
		{"literal with a line break starts a line", "Reason: " + bot.Literal("a\n- b"), []string{"Reason: a", `\- b`}},
		{"literal at line start", bot.Literal("1. first"), []string{`1\. first`}},
		{"mention", "by " + bot.Mention("teams", "29:bob", "Bob *B*"), []string{`by **Bob \*B\***`}},
		{"mention without a name", bot.Mention("teams", "29:bob", ""), []string{"**29:bob**"}},
		{"time", "at " + bot.Time(at), []string{"at {{DATE(2026-12-02T13:05:00Z, SHORT)}} {{TIME(2026-12-02T13:05:00Z)}} (13:05 UTC)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := markdownLines(tc.in)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("markdownLines(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// decode renders a message and reads it back as Teams would receive it.
func decode(t *testing.T, c adaptiveCard) map[string]any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// find returns every object in v whose "type" is typ.
func find(v any, typ string) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == typ {
			out = append(out, x)
		}
		for _, c := range x {
			out = append(out, find(c, typ)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, find(c, typ)...)
		}
	}
	return out
}

func TestRenderCardButtons(t *testing.T) {
	msg := bot.Message{Text: "Sign-out request R1", Blocks: []bot.Block{
		{Kind: bot.BlockHeader, Text: "Sign-out request R1"},
		{Kind: bot.BlockActions, Buttons: []bot.Button{
			{ID: "approve", Label: "Approve", Value: "R1", Style: "primary", Confirm: &bot.Confirm{Title: "Sign out 3 users?",
				Text: "This revokes every sign-in session of 3 users now.", OK: "Sign them out", Cancel: "Back"}},
			{ID: "deny", Label: "Deny", Value: "R1", Style: "danger"},
			{ID: "other", Label: "Other", Value: "R1"},
		}},
	}}
	c := decode(t, renderCard(msg, nil))
	if c["version"] != "1.5" || c["type"] != "AdaptiveCard" {
		t.Fatalf("card = %v", c)
	}
	exec := find(c, "Action.Execute")
	if len(exec) != 3 {
		t.Fatalf("%d Action.Execute, want 3: %v", len(exec), exec)
	}
	byVerb := map[string]map[string]any{}
	for _, x := range exec {
		byVerb[x["verb"].(string)] = x
		fb, _ := x["fallback"].(map[string]any)
		data, _ := fb["data"].(map[string]any)
		if fb["type"] != "Action.Submit" || data["action"] != x["verb"] || data["requestId"] != "R1" {
			t.Errorf("%s: fallback = %v", x["verb"], fb)
		}
		if d, _ := x["data"].(map[string]any); d["requestId"] != "R1" {
			t.Errorf("%s: data = %v", x["verb"], x["data"])
		}
	}
	// Approve acts only from the inline confirmation, whose button says what it does.
	if a := byVerb["approve"]; a["title"] != "Sign them out" || a["style"] != "positive" {
		t.Errorf("approve = %v", a)
	}
	shows := find(c, "Action.ShowCard")
	if len(shows) != 2 || shows[0]["title"] != "Approve" || shows[1]["title"] != "Deny" {
		t.Fatalf("show cards = %v", shows)
	}
	if !strings.Contains(mustJSON(t, shows[0]), "This revokes every sign-in session of 3 users now.") {
		t.Errorf("approve's confirmation does not state the consequence: %v", shows[0])
	}
	// Deny asks for an optional reason, sent with the action.
	inputs := find(shows[1], "Input.Text")
	if len(inputs) != 1 || inputs[0]["id"] != ReasonInput || inputs[0]["maxLength"] != float64(1500) || inputs[0]["isRequired"] != nil {
		t.Errorf("deny inputs = %v", inputs)
	}
	if d := byVerb["deny"]; d["associatedInputs"] != "auto" || d["style"] != "destructive" {
		t.Errorf("deny = %v", d)
	}
	if o := byVerb["other"]; o["title"] != "Other" {
		t.Errorf("other = %v", o)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderCardBlocks(t *testing.T) {
	msg := bot.Message{Text: "summary", Blocks: []bot.Block{
		{Kind: bot.BlockHeader, Text: "Title " + bot.Literal("*x*")},
		{Kind: bot.BlockSection, Text: "line one\nline two", Fields: []string{"*Reason*\n" + bot.Literal("because"), "*When*\nnow"}},
		{Kind: bot.BlockDivider},
		{Kind: bot.BlockContext, Text: "small print"},
	}}
	c := decode(t, renderCard(msg, []bot.Message{{Text: "⛔ no", Blocks: []bot.Block{{Kind: bot.BlockSection, Text: "⛔ no"}}}}))
	body := c["body"].([]any)
	if len(body) != 4 {
		t.Fatalf("%d body elements: %s", len(body), mustJSON(t, body))
	}
	notice := body[0].(map[string]any)
	if notice["style"] != "attention" || !strings.Contains(mustJSON(t, notice), "⛔ no") {
		t.Errorf("notice = %v", notice)
	}
	header := body[1].(map[string]any)
	if header["type"] != "TextBlock" || header["weight"] != "Bolder" || header["size"] != "Medium" || header["text"] != `Title \*x\*` {
		t.Errorf("header = %v", header)
	}
	if cols := find(body[2], "Column"); len(cols) != 2 || !strings.Contains(mustJSON(t, cols[0]), "**Reason**") {
		t.Errorf("fields = %v", cols)
	}
	if lines := find(body[2], "TextBlock"); len(lines) != 6 || lines[1]["spacing"] != "None" {
		t.Errorf("section lines = %v", lines)
	}
	ctx := body[3].(map[string]any)
	if ctx["separator"] != true {
		t.Errorf("the divider did not separate the next block: %v", ctx)
	}
	if tb := find(ctx, "TextBlock"); len(tb) != 1 || tb[0]["size"] != "Small" || tb[0]["isSubtle"] != true {
		t.Errorf("context = %v", tb)
	}
}

// TestRenderCardShortens: a message too large for Teams is cut, and says so.
func TestRenderCardShortens(t *testing.T) {
	var blocks []bot.Block
	for range 400 {
		blocks = append(blocks, bot.Block{Kind: bot.BlockSection, Text: strings.Repeat("word ", 40)})
	}
	c := renderCard(bot.Message{Text: "long", Blocks: blocks}, nil)
	b := mustJSON(t, c)
	if len(b) > maxCardBytes {
		t.Errorf("card is %d bytes", len(b))
	}
	if !strings.Contains(b, "message shortened") {
		t.Error("the cut is not marked")
	}
}

func TestSummaryText(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC)
	got := summaryText(bot.Message{Text: "Done at " + bot.Time(at) + " by " + bot.Mention("teams", "29:b", "Bob") + "\nmore"})
	if got != "Done at Wed 2 Dec 13:05:00 UTC by Bob" {
		t.Errorf("summary = %q", got)
	}
}
