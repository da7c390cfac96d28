package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
)

// slackSettings are the settings this file's tests add to allSettings.
var slackSettings = []string{"SLACK_TEAM_ID", "SLACK_APP_ID"}

// Every phase of a connection to the public endpoints is bounded, so slow or idle clients cannot pile up.
func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NewServeMux())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if d <= 0 {
			t.Errorf("%s is not set", name)
		}
	}
	// Slack gives up on an answer after 3 s; a write timeout below that would cut off answers Slack still waits for.
	if srv.WriteTimeout < 3*time.Second || srv.ReadTimeout < srv.ReadHeaderTimeout {
		t.Errorf("timeouts out of order: %+v", srv)
	}
}

func TestServeRefusesMalformedSlackIDs(t *testing.T) {
	for setting, value := range map[string]string{"SLACK_TEAM_ID": "contoso", "SLACK_APP_ID": "T0123"} {
		t.Run(setting, func(t *testing.T) {
			for _, k := range append(allSettings, slackSettings...) {
				t.Setenv(k, "")
			}
			for k, v := range map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SIGNOUTBOT_ADMINS": "U1", setting: value} {
				t.Setenv(k, v)
			}
			t.Setenv("SIGNOUTBOT_DB", filepath.Join(t.TempDir(), "x.db"))
			root := newRoot()
			root.SetArgs([]string{"serve", "--listen", "127.0.0.1:0"})
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := root.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), setting) || !strings.Contains(err.Error(), strconv.Quote(value)) {
				t.Fatalf("err = %v; want a refusal naming %s and %q", err, setting, value)
			}
		})
	}
}

// `serve` with SLACK_TEAM_ID (from the environment) and --slack-app-id (a flag) refuses a correctly signed
// command from another workspace, and accepts one from the configured workspace and app.
func TestServeChecksWorkspaceAndApp(t *testing.T) {
	tenant, ca := startTenant(t)
	fs := fakeslack.New("xoxb-serve")
	t.Cleanup(fs.Close)
	fs.AddUser(fakeslack.User{ID: "UALICE", Name: "alice", RealName: "Alice", TZ: "Europe/Paris"})
	base := serveFor(t, map[string]string{
		"SIGNOUTBOT_DB": filepath.Join(t.TempDir(), "bot.db"), "SIGNOUTBOT_ADMINS": "UALICE,UBOB",
		"SIGNOUTBOT_GRAPH_URL": tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA": ca,
		"SLACK_SIGNING_SECRET": "shh", "SLACK_BOT_TOKEN": "xoxb-serve", "SLACK_API_URL": fs.APIURL(), "SLACK_TEAM_ID": "T9",
	}, "--slack-app-id", "A9")
	post := func(teamID, appID string) int {
		t.Helper()
		body := url.Values{"command": {"/signout"}, "text": {"help"}, "user_id": {"UALICE"}, "user_name": {"alice"},
			"channel_id": {"C1"}, "trigger_id": {"t-" + teamID + appID}, "team_id": {teamID}, "api_app_id": {appID}}.Encode()
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte("shh"))
		fmt.Fprintf(mac, "v0:%s:%s", ts, body)
		req, _ := http.NewRequest(http.MethodPost, base+"/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("T1", "A9"); code != http.StatusForbidden {
		t.Errorf("command from another workspace: %d, want 403", code)
	}
	if code := post("T9", "A1"); code != http.StatusForbidden {
		t.Errorf("command for another app: %d, want 403", code)
	}
	if code := post("T9", "A9"); code != http.StatusOK {
		t.Fatalf("command from the configured workspace and app: %d, want 200", code)
	}
	// Only the accepted command is answered (its help); the refused ones came first and started nothing.
	waitUntil(t, "the help", func() bool { return len(fs.Ephemerals("UALICE")) > 0 })
	if n := fs.Calls("chat.postEphemeral"); n != 1 {
		t.Errorf("%d ephemeral answers, want 1", n)
	}
}
