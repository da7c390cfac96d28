package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/store"
)

var (
	// at is Mon 2 Dec 2024 13:05 UTC.
	at = time.Unix(1733144700, 0)
	// dateToken is how at reads in mrkdwn: Slack's date token, which each viewer sees in their own zone, and
	// UTC beside it; after | the UTC text for clients that cannot show the token.
	dateToken = "<!date^1733144700^{date_short_pretty} {time}|Mon 2 Dec 13:05 UTC> (13:05 UTC)"
	// utcText is how at reads where Slack has no mrkdwn.
	utcText = "Mon 2 Dec 13:05 UTC"
)

// A time in a shared message reaches Slack as a date token in mrkdwn, and as UTC text in plain_text and in
// the notification text; fakeslack keeps it exactly as posted.
func TestTimesShowInEachViewersZone(t *testing.T) {
	msg := bot.Message{
		Text: "Request expires " + bot.Time(at),
		Blocks: []bot.Block{
			{Kind: bot.BlockHeader, Text: "Expires " + bot.Time(at)},
			{Kind: bot.BlockSection, Text: "Expires " + bot.Time(at) + "."},
			{Kind: bot.BlockSection, Fields: []string{"*Requested*\n" + bot.Time(at)}},
			{Kind: bot.BlockContext, Text: "Approved by " + bot.Mention("slack", bob, "Bob") + " at " + bot.Time(at) + "."},
			{Kind: bot.BlockActions, Buttons: []bot.Button{{ID: "approve", Label: "Approve by " + bot.Time(at), Value: "R1",
				Confirm: &bot.Confirm{Title: "Before " + bot.Time(at) + "?", Text: "Until " + bot.Time(at), OK: "Yes", Cancel: "Back"}}}},
		},
	}
	got := postOne(t, msg)
	if want := "Request expires " + utcText; got.Text != want {
		t.Errorf("text = %q, want %q", got.Text, want)
	}
	var texts []string
	for _, o := range textObjects(got.Blocks) {
		texts = append(texts, o["type"].(string)+": "+o["text"].(string))
	}
	// Text objects in block order; within the button, as slack-go encodes it: the label, then the confirm's
	// title, text, confirm and deny.
	want := []string{
		"plain_text: Expires " + utcText,
		"mrkdwn: Expires " + dateToken + ".",
		"mrkdwn: *Requested*\n" + dateToken,
		"mrkdwn: Approved by <@" + bob + "> at " + dateToken + ".",
	}
	if len(texts) < len(want) || strings.Join(texts[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("text objects:\n%s\nwant them to start with:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{"plain_text: Approve by " + utcText, "plain_text: Before " + utcText + "?", "mrkdwn: Until " + dateToken} {
		if !strings.Contains(all, w) {
			t.Errorf("button lacks %q:\n%s", w, all)
		}
	}
	if strings.ContainsAny(all+got.Text, "\ue004\ue005") {
		t.Errorf("time delimiters reached Slack: %q", all)
	}
}

// A time marker that is broken (never closed, or not a number) must not turn into a token or any markup.
func TestBrokenTimeMarkersStayLiteral(t *testing.T) {
	for name, text := range map[string]string{
		"unclosed":   "at \ue0041733144700 <!here>",
		"not number": "at \ue004<!here>|x\ue005",
	} {
		t.Run(name, func(t *testing.T) {
			got := postOne(t, bot.Message{Text: text, Blocks: []bot.Block{{Kind: bot.BlockSection, Text: text}}})
			section := textObjects(got.Blocks)[0]["text"].(string)
			for _, s := range []string{section, got.Text} {
				if strings.Contains(s, "<") || strings.ContainsAny(s, "\ue004\ue005") || !strings.Contains(s, "&lt;!here&gt;") {
					t.Errorf("broken time marker rendered as %q", s)
				}
			}
		})
	}
}

// Ephemeral messages (the requester told privately of the outcome) render the markup like any other message.
func TestEphemeralRendersMarkup(t *testing.T) {
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	fs.AddUser(fakeslack.User{ID: alice, Name: "alice"})
	m := slackbot.NewMessenger(token, fs.APIURL())
	conv := store.MessageRef{Platform: slackbot.Platform, Channel: channel}
	text := "✅ Your request R1 for " + bot.Literal("*Mallory* <!channel>") + " was approved by " + bot.Mention("slack", bob, "Bob") +
		" at " + bot.Time(at) + "."
	msg := bot.Message{Text: text, Blocks: []bot.Block{{Kind: bot.BlockSection, Text: text}}}
	if err := m.Private(context.Background(), conv, alice, msg); err != nil {
		t.Fatal(err)
	}
	eph := fs.Ephemerals(alice)
	if len(eph) != 1 || eph[0].Channel != channel {
		t.Fatalf("ephemerals = %+v; want one in %s", eph, channel)
	}
	wantSection := "✅ Your request R1 for \u2217Mallory\u2217 &lt;!channel&gt; was approved by <@" + bob + "> at " + dateToken + "."
	if objs := textObjects(eph[0].Blocks); len(objs) != 1 || objs[0]["text"] != wantSection || objs[0]["verbatim"] != true {
		t.Errorf("section = %v\nwant %q", objs, wantSection)
	}
	if want := "✅ Your request R1 for *Mallory* &lt;!channel&gt; was approved by <@" + bob + "> at " + utcText + "."; eph[0].Text != want {
		t.Errorf("text = %q\nwant %q", eph[0].Text, want)
	}
	// Slack refuses someone who cannot see the channel; the error says which call failed.
	if err := m.Private(context.Background(), conv, "UNOBODY", msg); err == nil || !strings.Contains(err.Error(), "chat.postEphemeral") ||
		!strings.Contains(err.Error(), "user_not_in_channel") {
		t.Errorf("err = %v", err)
	}
}
