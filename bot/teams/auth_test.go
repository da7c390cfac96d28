package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
)

// TestRefusedRequests sends a valid command with each kind of bad token or mismatched activity: every one is
// refused with 401 (the token) or 403 (the activity), logged, and nothing reaches the core or the store.
func TestRefusedRequests(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.p("alice")
	now := time.Now()
	var last fakeconnector.Activity
	for _, tc := range []struct {
		name   string
		opts   []fakeconnector.Option
		change func(*fakeconnector.Activity)
		want   int
	}{
		{name: "no token", opts: []fakeconnector.Option{fakeconnector.WithAuthorization("")}, want: 401},
		{name: "not a bearer token", opts: []fakeconnector.Option{fakeconnector.WithAuthorization("Basic Ym90OnNlY3JldA==")}, want: 401},
		{name: "garbage", opts: []fakeconnector.Option{fakeconnector.WithAuthorization("Bearer not.a.jwt")}, want: 401},
		{name: "wrong audience", opts: []fakeconnector.Option{fakeconnector.WithAudience("another-bot")}, want: 401},
		{name: "wrong issuer", opts: []fakeconnector.Option{fakeconnector.WithIssuer("https://sts.windows.net/evil/")}, want: 401},
		{name: "expired beyond the skew", opts: []fakeconnector.Option{
			fakeconnector.WithTimes(now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-6*time.Minute))}, want: 401},
		{name: "not yet valid", opts: []fakeconnector.Option{
			fakeconnector.WithTimes(now, now.Add(10*time.Minute), now.Add(time.Hour))}, want: 401},
		{name: "alg none", opts: []fakeconnector.Option{fakeconnector.AlgNone()}, want: 401},
		{name: "HS256 with the public key", opts: []fakeconnector.Option{fakeconnector.HS256WithPublicKey()}, want: 401},
		{name: "key not in the key set", opts: []fakeconnector.Option{fakeconnector.SignedBy(fakeconnector.KeyUnpublished)}, want: 401},
		{name: "no key id", opts: []fakeconnector.Option{fakeconnector.WithoutKeyID()}, want: 401},
		{name: "no serviceurl claim", opts: []fakeconnector.Option{fakeconnector.WithoutServiceURL()}, want: 401},
		{name: "serviceurl mismatch", opts: []fakeconnector.Option{fakeconnector.WithServiceURL("https://smba.evil.example/")}, want: 403},
		{name: "key not endorsed for msteams", opts: []fakeconnector.Option{fakeconnector.SignedBy(fakeconnector.KeyWebchat)}, want: 403},
		{name: "channel not served", opts: []fakeconnector.Option{fakeconnector.SignedBy(fakeconnector.KeyWebchat)},
			change: func(a *fakeconnector.Activity) { a.ChannelID = "webchat" }, want: 403},
		{name: "another tenant", change: func(a *fakeconnector.Activity) {
			a.ChannelData.Tenant.ID = "99999999-9999-9999-9999-999999999999"
			a.Conversation.TenantID = "99999999-9999-9999-9999-999999999999"
		}, want: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.channelMessage(alice, "user lester@contoso.com")
			if tc.change != nil {
				tc.change(&a)
			}
			before := len(e.logs.String())
			if resp := e.send(a, tc.opts...); resp.Status != tc.want {
				t.Errorf("HTTP %d %s, want %d", resp.Status, resp.Body, tc.want)
			}
			if logged := e.logs.String()[before:]; !strings.Contains(logged, "refused") {
				t.Errorf("no log line for the refusal: %q", logged)
			}
			if n := len(e.requests()); n != 0 {
				t.Fatalf("%d requests stored", n)
			}
			last = a
		})
	}
	if n := len(e.fc.Calls()); n != 0 {
		t.Errorf("the bot called the Connector %d times for refused activities", n)
	}
	// Nothing was stored for the refused deliveries either: the last one, sent again with a valid token, acts.
	last.ChannelID = "msteams"
	last.ChannelData.Tenant.ID, last.Conversation.TenantID = e.fc.TenantID(), e.fc.TenantID()
	if resp := e.send(last); resp.Status != http.StatusOK {
		t.Fatalf("valid resend: HTTP %d %s", resp.Status, resp.Body)
	}
	if n := len(e.requests()); n != 1 {
		t.Errorf("%d requests after the valid resend, want 1", n)
	}
}

// TestTokenChecks covers what the table above cannot: the clock skew allowed, an oversized body, and that the
// token is checked before the body is read.
func TestTokenChecks(t *testing.T) {
	e := newEnv(t, envOpts{})
	now := time.Now()
	update := fakeconnector.Activity{Type: "conversationUpdate", ID: "upd-1", ServiceURL: e.fc.ServiceURL(), ChannelID: "msteams",
		From:         &fakeconnector.Account{ID: e.p("alice").id},
		Conversation: &fakeconnector.Conversation{ID: channelConv, ConversationType: "channel", TenantID: e.fc.TenantID()},
		Recipient:    &fakeconnector.Account{ID: e.fc.BotID()}, ChannelData: e.channelData()}
	// Expired two minutes ago, issued a minute in the future: within the 5 minutes of skew.
	resp := e.send(update, fakeconnector.WithTimes(now.Add(time.Minute), now.Add(time.Minute), now.Add(-2*time.Minute)))
	if resp.Status != http.StatusOK {
		t.Errorf("token within the clock skew: HTTP %d %s", resp.Status, resp.Body)
	}

	big := bytes.Repeat([]byte("x"), teams.MaxBody+1)
	resp, err := e.fc.SendRaw(context.Background(), e.endpoint(), big, "Bearer "+e.fc.Token(e.fc.ServiceURL()))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: HTTP %d", resp.Status)
	}
	// A bad token is refused before the body is read: even a malformed body gets 401, not 400.
	resp, err = e.fc.SendRaw(context.Background(), e.endpoint(), []byte("{not json"), "Bearer forged")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("forged token with a malformed body: HTTP %d", resp.Status)
	}
}

// TestKeyRotation: a token signed with a key the bot has not seen makes it fetch the keys again (a rotation
// is picked up at once), but unknown keys cannot make it fetch more than once a minute.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.p("alice")
	e.command(alice, "help")
	if n := e.auth.KeyFetches(); n != 1 {
		t.Fatalf("%d key fetches after the first activity", n)
	}
	e.command(alice, "help")
	if n := e.auth.KeyFetches(); n != 1 {
		t.Errorf("keys fetched again (%d) within a day", n)
	}
	e.fc.RotateKey()
	e.command(alice, "help") // fails the test unless accepted
	if n := e.auth.KeyFetches(); n != 2 {
		t.Errorf("%d key fetches after the rotation, want 2", n)
	}
	if resp := e.send(e.channelMessage(alice, "help"), fakeconnector.SignedBy(fakeconnector.KeyUnpublished)); resp.Status != http.StatusUnauthorized {
		t.Errorf("unpublished key: HTTP %d", resp.Status)
	}
	if n := e.auth.KeyFetches(); n != 2 {
		t.Errorf("%d key fetches: an unknown key right after a fetch must not cause another", n)
	}
}

// TestKeyRefresh: keys are fetched again once they are a day old.
func TestKeyRefresh(t *testing.T) {
	fc := fakeconnector.New(fakeconnector.Options{})
	t.Cleanup(fc.Close)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	auth, err := teams.NewAuthenticator(teams.AuthConfig{AppID: fc.AppID(), OpenIDMetadataURL: fc.OpenIDURL(), HTTPClient: fc.Client(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		now := clock()
		tok := fc.Token(fc.ServiceURL(), fakeconnector.WithTimes(now, now, now.Add(time.Hour)))
		got, err := auth.Authenticate(context.Background(), "Bearer "+tok)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if err := got.Covers(fc.ServiceURL(), "msteams"); err != nil {
			t.Errorf("%s: %v", when, err)
		}
		if err := got.Covers(fc.ServiceURL(), "webchat"); !errors.Is(err, teams.ErrForbidden) {
			t.Errorf("%s: a key endorsed for msteams covers webchat: %v", when, err)
		}
	}
	check("first")
	offset.Store(int64(23 * time.Hour))
	check("after 23 h")
	if n := auth.KeyFetches(); n != 1 {
		t.Errorf("%d fetches within a day", n)
	}
	offset.Store(int64(25 * time.Hour))
	check("after 25 h")
	if n := auth.KeyFetches(); n != 2 {
		t.Errorf("%d fetches after a day, want 2", n)
	}
}

// TestAnonymousMode: without an app id, on loopback, activities without a token are accepted (a local
// emulator); the mode cannot be combined with an app id and refuses any other address.
func TestAnonymousMode(t *testing.T) {
	e := newEnv(t, envOpts{anonymous: true})
	e.fc.AcceptAnonymous()
	alice := e.p("alice")
	if !strings.Contains(e.logs.String(), "ANONYMOUS MODE") {
		t.Errorf("anonymous mode not logged at start:\n%s", e.logs.String())
	}
	resp := e.send(e.channelMessage(alice, "user lester@contoso.com"), fakeconnector.WithAuthorization(""))
	if resp.Status != http.StatusOK {
		t.Fatalf("HTTP %d %s", resp.Status, resp.Body)
	}
	r := e.onlyRequest()
	e.card(r) // posted without a token, as the emulator accepts
	if strings.Count(e.logs.String(), "ANONYMOUS MODE") < 2 {
		t.Errorf("anonymous request not logged")
	}

	// The handler itself refuses any address but loopback (httptest.NewRequest comes from 192.0.2.1).
	body, _ := json.Marshal(e.channelMessage(alice, "user lester@contoso.com"))
	req := httptest.NewRequest(http.MethodPost, "/api/messages", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	e.handler.Wait()
	if rec.Code != http.StatusForbidden {
		t.Errorf("non-loopback anonymous request: HTTP %d", rec.Code)
	}
	if n := len(e.requests()); n != 1 {
		t.Errorf("%d requests: the non-loopback one reached the core", n)
	}

	// With an app id there is no anonymous mode.
	auth, err := teams.NewAuthenticator(teams.AuthConfig{AppID: e.fc.AppID(), OpenIDMetadataURL: e.fc.OpenIDURL()})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := e.fc.Credential()
	if err != nil {
		t.Fatal(err)
	}
	withID, err := teams.NewMessenger(teams.MessengerConfig{AppID: e.fc.AppID(), Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	noID, err := teams.NewMessenger(teams.MessengerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []teams.HandlerConfig{
		{App: e.app, Messenger: noID, Auth: auth, Anonymous: true},
		{App: e.app, Messenger: withID, Anonymous: true},
		{App: e.app, Messenger: noID}, // neither anonymous nor an authenticator
	} {
		if _, err := teams.NewHandler(cfg); err == nil {
			t.Errorf("NewHandler accepted %+v", cfg)
		}
	}
}
