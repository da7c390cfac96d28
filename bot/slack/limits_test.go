package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/store"
)

// A body over MaxBody is refused before its signature is checked (anyone can send one), even when it is
// signed, and nothing comes of it.
func TestOversizedBodyRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	pad := "&pad=" + strings.Repeat("x", slackbot.MaxBody)
	for path, body := range map[string]string{
		"/slack/commands":     slashBody(alice, "user lester@contoso.com", "trig.big") + pad,
		"/slack/interactions": interactionBody(bob, "approve", "R1", "1.2", "trig.big2") + pad,
	} {
		ts := time.Now().Unix()
		if code, resp := e.postSigned(path, body, ts, sign(ts, body)); code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with a %d-byte body: %d %s, want 413", path, len(body), code, resp)
		}
	}
	e.handler.Wait()
	if reqs, err := e.st.ListRequests(context.Background(), store.Filter{}); err != nil || len(reqs) != 0 {
		t.Errorf("store has %d requests after oversized requests (%v)", len(reqs), err)
	}
	if n := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.postEphemeral"); n != 0 {
		t.Errorf("bot spoke %d times", n)
	}
	// A body just under the limit is still read and verified (the limit is not off by much).
	body := slashBody(alice, "help", "trig.fits")
	body += "&pad=" + strings.Repeat("x", slackbot.MaxBody-len(body)-len("&pad="))
	ts := time.Now().Unix()
	if code, resp := e.postSigned("/slack/commands", body, ts, sign(ts, body)); code != http.StatusOK {
		t.Errorf("a %d-byte body: %d %s, want 200", len(body), code, resp)
	}
	e.handler.Wait()
}

// A Web API call that Slack never answers fails after the messenger's timeout instead of holding the caller
// (card edits, the thread outbox) forever.
func TestWebAPICallTimesOut(t *testing.T) {
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	fs.SetDelay(10 * time.Second)
	m := slackbot.NewMessenger(token, fs.APIURL(), slackbot.WithAPITimeout(200*time.Millisecond))
	// No deadline on the context: only the client's timeout can end the call.
	_, err := m.Post(context.Background(), store.MessageRef{Platform: slackbot.Platform, Channel: channel}, bot.Message{Text: "hello"})
	if err == nil {
		t.Fatal("Post succeeded against a Slack that does not answer")
	}
	if !strings.Contains(err.Error(), "chat.postMessage") {
		t.Errorf("error %q does not name the call", err)
	}
	if n := len(fs.Messages(channel)); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	fs.SetDelay(0)
	if _, err := m.Post(context.Background(), store.MessageRef{Platform: slackbot.Platform, Channel: channel}, bot.Message{Text: "hello"}); err != nil {
		t.Fatalf("Post once Slack answers again: %v", err)
	}
}
