package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// TestSocketModeStory runs the approval through Socket Mode: the real slack-go socketmode client connects to the
// fake Slack, acknowledges each envelope before working, and the request completes as over HTTP.
func TestSocketModeStory(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slack.AppToken = "xapp-1-test"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.handler.RunSocketMode(ctx, "xapp-1-test") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("socket mode: %v", err)
		}
	})
	waitFor(t, "the socket mode connection", 10*time.Second, e.slack.SocketConnected)

	ack, err := e.slack.SendEnvelope("slash_commands", map[string]any{"command": "/signout", "text": "user lester@contoso.com",
		"user_id": alice, "user_name": "alice", "channel_id": channel, "trigger_id": "sm.1"}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("slash command acknowledged over Socket Mode in %s", ack)
	var r store.Request
	waitFor(t, "the request", 10*time.Second, func() bool {
		reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
		if len(reqs) == 1 {
			r = e.request(reqs[0].ID)
		}
		return r.Message.ID != ""
	})
	click := func(user string, trigger string) {
		t.Helper()
		payload := map[string]any{
			"type": "block_actions", "trigger_id": trigger,
			"user":      map[string]any{"id": user, "name": strings.ToLower(user[1:])},
			"channel":   map[string]any{"id": channel},
			"container": map[string]any{"type": "message", "message_ts": r.Message.ID, "channel_id": channel},
			"actions":   []map[string]any{{"action_id": "approve", "block_id": "signout_actions", "value": r.ID, "type": "button"}},
		}
		if _, err := e.slack.SendEnvelope("interactive", payload, 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	click(alice, "sm.2")
	waitFor(t, "alice's refusal", 10*time.Second, func() bool { return strings.Contains(e.lastEphemeral(alice), "cannot approve it") })
	click(bob, "sm.3")
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
}

func TestSocketModeRefusesAWrongAppToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.handler.RunSocketMode(ctx, "xoxb-not-an-app-token"); err == nil || !strings.Contains(err.Error(), "xapp-") {
		t.Fatalf("err = %v; want a refusal naming the app token's form", err)
	}
}

// invalid_auth is fatal: retrying a revoked or mistyped token would only hide the problem.
func TestSocketModeInvalidAuthIsFatal(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slack.AppToken = "xapp-1-right"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	err := e.handler.RunSocketMode(ctx, "xapp-1-wrong")
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v after %s; want invalid_auth to stop socket mode at once", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("err = %v; want it to say invalid_auth", err)
	}
}
