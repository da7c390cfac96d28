package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/store"
)

// visible is what Slack shows for rendered user text: entities decoded, the look-alikes read as the characters
// they stand for, the invisible soft hyphen gone. It lets the test say "shown as typed".
var visible = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "\u2217", "*", "\u02cd", "_", "\u223c", "~",
	"\u02cb", "`", "\u00ad", "")

// activeMarks lists the mrkdwn formatting characters in rendered user text that Slack could act on: any of
// * _ ~ that is not between two ASCII letters or digits (Slack formats only at word boundaries), and any
// backtick.
func activeMarks(s string) []string {
	rs := []rune(s)
	word := func(i int) bool {
		if i < 0 || i >= len(rs) {
			return false
		}
		r := rs[i]
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	var out []string
	for i, r := range rs {
		switch {
		case r == '`', strings.ContainsRune("*_~", r) && !(word(i-1) && word(i+1)):
			out = append(out, string(rs[max(0, i-5):min(len(rs), i+6)]))
		}
	}
	return out
}

// textObjects returns every text object in the blocks (type, text, verbatim).
func textObjects(blocks []map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["type"].(string); ok && (t == "mrkdwn" || t == "plain_text") {
				out = append(out, x)
				return
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, b := range blocks {
		walk(b)
	}
	return out
}

func postOne(t *testing.T, msg bot.Message) fakeslack.Message {
	t.Helper()
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	m := slackbot.NewMessenger(token, fs.APIURL())
	if _, err := m.Post(context.Background(), store.MessageRef{Platform: slackbot.Platform, Channel: channel}, msg); err != nil {
		t.Fatal(err)
	}
	msgs := fs.Messages(channel)
	if len(msgs) != 1 {
		t.Fatalf("%d messages posted, want 1", len(msgs))
	}
	return msgs[0]
}

// TestUserTextCannotRestyleOrInject posts a card whose names and reason were typed by an attacker and checks
// the Block Kit Slack receives: the text shows as typed, with no formatting, no @channel, no link.
func TestUserTextCannotRestyleOrInject(t *testing.T) {
	const (
		reason = "*bold* _x_ ~s~ <!channel> <https://evil|click> `code` https://evil.example #general @here & co"
		name   = "*Mallory* _the_ <@U999> jane_fabrikam.com#EXT# 2*3"
		quote  = "> not a quote\n> nor this"
	)
	msg := bot.Message{
		Text: "Sign-out requested by " + bot.Literal(name) + ", approve: " + bot.Mention("slack", "U123", "Bob"),
		Blocks: []bot.Block{
			{Kind: bot.BlockHeader, Text: "Request from " + bot.Literal(name)},
			{Kind: bot.BlockSection, Text: "*Requested by* " + bot.Literal(name) + " for " + bot.Mention("slack", "U123", "Bob")},
			{Kind: bot.BlockSection, Fields: []string{"*Reason*\n" + bot.Literal(reason), "*Note*\n" + bot.Literal(quote),
				"*Approver*\n" + bot.Mention("teams", "29:1abc", "Tina *T*")}},
			{Kind: bot.BlockContext, Text: "by " + bot.Mention("slack", "U1> <!channel", "Eve")},
		},
	}
	got := postOne(t, msg)

	// plain_text (the header) is never parsed for markup, so it is checked separately below; everything else
	// Slack reads as mrkdwn.
	all, marked := got.Text, got.Text
	for _, o := range textObjects(got.Blocks) {
		all += "\n" + o["text"].(string)
		if o["type"] == "mrkdwn" {
			marked += "\n" + o["text"].(string)
		}
	}
	if strings.ContainsAny(all, "\ue000\ue001\ue002\ue003\x1f") {
		t.Errorf("markup delimiters reached Slack: %q", all)
	}
	// The only Slack markup allowed is the one real mention.
	if rest := strings.ReplaceAll(marked, "<@U123>", ""); strings.Contains(rest, "<") {
		t.Errorf("Slack markup (link, mention or <!channel>) from user text: %s", rest)
	}

	var mrkdwn []string
	for _, o := range textObjects(got.Blocks) {
		if o["type"] == "mrkdwn" {
			if o["verbatim"] != true {
				t.Errorf("mrkdwn text without verbatim (Slack would auto-link URLs and #channels): %v", o)
			}
			mrkdwn = append(mrkdwn, o["text"].(string))
		}
	}
	if len(mrkdwn) != 5 {
		t.Fatalf("%d mrkdwn texts, want 5: %q", len(mrkdwn), mrkdwn)
	}
	section, reasonField, noteField, approverField, context := mrkdwn[0], mrkdwn[1], mrkdwn[2], mrkdwn[3], mrkdwn[4]

	// The user's parts are shown as typed and cannot format; the bot's own markup still does.
	userText := func(field, prefix, suffix, typed string) {
		t.Helper()
		if !strings.HasPrefix(field, prefix) || !strings.HasSuffix(field, suffix) {
			t.Fatalf("%q does not read %q … %q", field, prefix, suffix)
		}
		lit := strings.TrimSuffix(strings.TrimPrefix(field, prefix), suffix)
		if v := visible.Replace(lit); v != typed {
			t.Errorf("shown as %q, typed %q", v, typed)
		}
		if m := activeMarks(lit); len(m) > 0 {
			t.Errorf("formatting characters Slack would act on in %q: %q", lit, m)
		}
	}
	userText(section, "*Requested by* ", " for <@U123>", name)
	userText(reasonField, "*Reason*\n", "", reason)
	userText(noteField, "*Note*\n", "", quote)
	userText(approverField, "*Approver*\n*", "*", "Tina *T*")
	userText(context, "by *", "*", "Eve")

	// Where formatting is impossible anyway, underscores between letters stay real, so a guest UPN copied
	// from the card is the UPN.
	if !strings.Contains(section, "jane_fabrikam.com#EXT#") || !strings.Contains(section, "2*3") {
		t.Errorf("inert characters were replaced: %q", section)
	}
	// A > that starts a line would open a blockquote.
	for _, line := range strings.Split(noteField, "\n")[1:] {
		if strings.HasPrefix(line, "&gt;") {
			t.Errorf("line %q starts a blockquote", line)
		}
	}

	// plain_text shows exactly what it is given: the header is the name as typed.
	if h := textObjects(got.Blocks[:1]); len(h) != 1 || h[0]["type"] != "plain_text" || h[0]["text"] != "Request from "+name {
		t.Errorf("header = %v, want plain text %q", h, "Request from "+name)
	}
	// The notification text shows literals as plain text (only &, <, > escaped, as Slack requires).
	if want := "Sign-out requested by *Mallory* _the_ &lt;@U999&gt; jane_fabrikam.com#EXT# 2*3, approve: <@U123>"; got.Text != want {
		t.Errorf("text = %q\nwant  %q", got.Text, want)
	}
}

// A literal that never closes, or a forged delimiter, must not turn the rest of the text into markup.
func TestBrokenDelimitersStayLiteral(t *testing.T) {
	unclosed := "\ue000*all* <!here>"
	got := postOne(t, bot.Message{Text: "x", Blocks: []bot.Block{{Kind: bot.BlockSection, Text: "*Reason* " + unclosed}}})
	text := textObjects(got.Blocks)[0]["text"].(string)
	lit := strings.TrimPrefix(text, "*Reason* ")
	if visible.Replace(lit) != "*all* <!here>" || len(activeMarks(lit)) > 0 || strings.Contains(lit, "<") {
		t.Errorf("unclosed literal rendered as %q", text)
	}
}

// The immediate "Working on …" answer echoes the typed command inside a code span: the text must neither
// close the span nor reach Slack as markup, and Slack's own escaping must not show twice.
func TestAckEchoesCommandAsTyped(t *testing.T) {
	e := newEnv(t, envOpts{})
	// What Slack sends for: help `x` *y* <!channel> R&D
	body := slashBody(alice, "help `x` *y* &lt;!channel&gt; R&amp;D", e.nextTrigger())
	ts := time.Now().Unix()
	code, resp := e.postSigned("/slack/commands", body, ts, sign(ts, body))
	e.handler.Wait()
	if code != http.StatusOK {
		t.Fatalf("slash command: %d %s", code, resp)
	}
	var ack struct{ Text string }
	if err := json.Unmarshal([]byte(resp), &ack); err != nil {
		t.Fatal(err)
	}
	if want := "Working on `/signout help \u02cbx\u02cb \u2217y\u2217 &lt;!channel&gt; R&amp;D`…"; ack.Text != want {
		t.Errorf("ack = %q\nwant  %q", ack.Text, want)
	}
}

// Escaping lengthens user text (& becomes &amp;), so a reason the parser accepts can exceed Slack's field
// limit once rendered; Slack would then refuse the whole card. Long fields are cut with a visible mark and
// long sections split, never inside an entity.
func TestLongEscapedTextStillPosts(t *testing.T) {
	reason := strings.Repeat("&", 1500) // 7,500 characters once escaped
	got := postOne(t, bot.Message{Text: "x", Blocks: []bot.Block{
		{Kind: bot.BlockHeader, Text: bot.Literal(strings.Repeat("é", 200))},
		{Kind: bot.BlockSection, Text: bot.Literal(strings.Repeat("<", 2000))},
		{Kind: bot.BlockSection, Fields: []string{"*Reason*\n" + bot.Literal(reason)}},
	}})
	var section strings.Builder
	for _, o := range textObjects(got.Blocks) {
		text := o["text"].(string)
		if o["type"] == "mrkdwn" && strings.HasPrefix(text, "*Reason*") {
			if !strings.HasSuffix(text, "&amp;…") {
				t.Errorf("long field not cut after a whole entity: …%q", text[len(text)-12:])
			}
			continue
		}
		if o["type"] == "mrkdwn" {
			section.WriteString(text)
		}
	}
	if section.String() != strings.Repeat("&lt;", 2000) {
		t.Errorf("split section lost or broke entities: %d characters", len(section.String()))
	}
}
