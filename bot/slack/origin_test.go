package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

const (
	team = "T1"
	app  = "A1"
)

// slashFrom is a signed-ready slash command body from the given workspace and app.
func slashFrom(teamID, appID, user, text, trigger string) string {
	v, _ := url.ParseQuery(slashBody(user, text, trigger))
	v.Set("team_id", teamID)
	v.Set("api_app_id", appID)
	return v.Encode()
}

// clickFrom is a button click body from the given workspace and app.
func clickFrom(teamID, appID, user, action string, r store.Request, trigger string) string {
	payload := map[string]any{
		"type": "block_actions", "trigger_id": trigger, "api_app_id": appID,
		"user":      map[string]any{"id": user, "name": strings.ToLower(user[1:]), "team_id": teamID},
		"team":      map[string]any{"id": teamID},
		"channel":   map[string]any{"id": channel},
		"container": map[string]any{"type": "message", "message_ts": r.Message.ID, "channel_id": channel},
		"actions":   []map[string]any{{"action_id": action, "block_id": "signout_actions", "value": r.ID, "type": "button"}},
	}
	raw, _ := json.Marshal(payload)
	return url.Values{"payload": {string(raw)}}.Encode()
}

func (e *env) postBody(path, body string) int {
	e.t.Helper()
	ts := time.Now().Unix()
	code, _ := e.postSigned(path, body, ts, sign(ts, body))
	e.handler.Wait()
	return code
}

func (e *env) eventCount(id string) int {
	e.t.Helper()
	ev, err := e.st.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ev)
}

// With SLACK_TEAM_ID and SLACK_APP_ID set, signed requests from another workspace or for another app are
// refused with 403 and change nothing; the configured ones still work.
func TestWrongWorkspaceOrAppRefusedOverHTTP(t *testing.T) {
	e := newEnv(t, envOpts{teamID: team, appID: app})
	for name, body := range map[string]string{
		"other workspace": slashFrom("T2", app, alice, "user lester@contoso.com", "trig.t2"),
		"other app":       slashFrom(team, "A2", alice, "user lester@contoso.com", "trig.a2"),
		"no workspace":    slashFrom("", app, alice, "user lester@contoso.com", "trig.none"),
	} {
		if code := e.postBody("/slack/commands", body); code != http.StatusForbidden {
			t.Errorf("command from %s: %d, want 403", name, code)
		}
	}
	if reqs, _ := e.st.ListRequests(context.Background(), store.Filter{}); len(reqs) != 0 {
		t.Fatalf("%d requests stored from refused commands", len(reqs))
	}
	if n := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.postEphemeral"); n != 0 {
		t.Errorf("bot spoke %d times", n)
	}

	if code := e.postBody("/slack/commands", slashFrom(team, app, alice, "user lester@contoso.com", "trig.ok")); code != http.StatusOK {
		t.Fatalf("command from the configured workspace and app: %d", code)
	}
	r := e.onlyRequest()
	before := e.eventCount(r.ID)
	for name, body := range map[string]string{
		"other workspace": clickFrom("T2", app, bob, "approve", r, "trig.c1"),
		"other app":       clickFrom(team, "A2", bob, "approve", r, "trig.c2"),
	} {
		if code := e.postBody("/slack/interactions", body); code != http.StatusForbidden {
			t.Errorf("click from %s: %d, want 403", name, code)
		}
	}
	if r2 := e.request(r.ID); r2.Status != store.StatusPending || e.eventCount(r.ID) != before {
		t.Fatalf("refused clicks changed the request: %s, %d events (was %d)", r2.Status, e.eventCount(r.ID), before)
	}
	if code := e.postBody("/slack/interactions", clickFrom(team, app, bob, "approve", r, "trig.c3")); code != http.StatusOK {
		t.Fatalf("click from the configured workspace and app: %d", code)
	}
	if e.request(r.ID).Status == store.StatusPending {
		t.Error("the configured workspace's approval was not taken")
	}
}

// Over Socket Mode a refused envelope is acknowledged (Slack would resend it otherwise) and ignored.
func TestWrongWorkspaceIgnoredOverSocketMode(t *testing.T) {
	e := newEnv(t, envOpts{teamID: team, appID: app})
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
	send := func(kind string, payload any) {
		t.Helper()
		if _, err := e.slack.SendEnvelope(kind, payload, 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	slash := func(teamID, user, text string) map[string]any {
		return map[string]any{"command": "/signout", "text": text, "user_id": user, "user_name": strings.ToLower(user[1:]),
			"channel_id": channel, "trigger_id": "sm." + teamID + user + text, "team_id": teamID, "api_app_id": app}
	}
	// Envelopes are handled in order, so once the help that follows has been answered, the refused command
	// has been handled too; Wait then covers any work it might wrongly have started.
	helped := func(user string, n int) {
		t.Helper()
		send("slash_commands", slash(team, user, "help"))
		waitFor(t, "the help", 10*time.Second, func() bool { return len(e.slack.Ephemerals(user)) == n })
		e.handler.Wait()
	}

	send("slash_commands", slash("T2", alice, "user lester@contoso.com"))
	helped(alice, 1)
	if reqs, _ := e.st.ListRequests(context.Background(), store.Filter{}); len(reqs) != 0 {
		t.Fatalf("%d requests stored from another workspace's command", len(reqs))
	}

	if code := e.postBody("/slack/commands", slashFrom(team, app, alice, "user lester@contoso.com", "trig.ok")); code != http.StatusOK {
		t.Fatalf("command from the configured workspace: %d", code)
	}
	r := e.onlyRequest()
	before := e.eventCount(r.ID)
	var click map[string]any
	if err := json.Unmarshal([]byte(mustPayload(clickFrom("T2", app, bob, "approve", r, "sm.click"))), &click); err != nil {
		t.Fatal(err)
	}
	send("interactive", click)
	helped(bob, 1)
	if r2 := e.request(r.ID); r2.Status != store.StatusPending || e.eventCount(r.ID) != before {
		t.Fatalf("another workspace's click changed the request: %s, %d events (was %d)", r2.Status, e.eventCount(r.ID), before)
	}
}

func mustPayload(body string) string {
	v, _ := url.ParseQuery(body)
	return v.Get("payload")
}
