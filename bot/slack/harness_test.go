package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

const (
	secret  = "8f742231b10e8888abcd99yyyzzz85a5"
	token   = "xoxb-test-token"
	channel = "CSECOPS"
	alice   = "UALICE" // admin, Berlin
	bob     = "UBOB"   // admin, New York
	carol   = "UCAROL" // admin
	eve     = "UEVE"   // not an admin
)

// env is one running bot: simulated tenant, fake Slack, SQLite store, the real slack-go client and handler.
type env struct {
	t       testing.TB
	tenant  *graphtest.Server
	slack   *fakeslack.Server
	dir     *graph.Client
	dbPath  string
	st      store.Store
	app     *bot.App
	handler *slackbot.Handler
	http    *httptest.Server
	cancel  context.CancelFunc
	trigger atomic.Int64
}

type envOpts struct {
	tenant    graphtest.Options
	policy    approvals.Policy
	lifetime  time.Duration
	writeRate float64
	dbPath    string
	// threadRetry: how soon refused thread replies are tried again (default 1 min, the product's default).
	threadRetry time.Duration
	// adminIDs defaults to alice, bob and carol; userGroups and adminGroup configure the other admin rules.
	adminIDs   []string
	userGroups []string
	adminGroup string
	// identities maps Slack user ids to Entra UPNs or object ids (SIGNOUTBOT_IDENTITIES).
	identities map[string]string
	// teamID and appID configure the handler's workspace and app checks (SLACK_TEAM_ID, SLACK_APP_ID).
	teamID, appID string
	// setup runs against the tenant and Slack before the bot starts.
	setup func(*graphtest.Server, *fakeslack.Server)
	// minEdit is the card editor's MinEditInterval (default 1 ms, so that tests do not wait on it); editPace the
	// messenger's chat.update pace (default testEditPace).
	minEdit  time.Duration
	editPace *slackbot.EditPace
}

// testEditPace keeps the chat.update pacing on the path of every edit, at a rate no test waits on.
var testEditPace = slackbot.EditPace{PerMinute: 60000, Burst: 100}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.tenant.Users == 0 {
		o.tenant.Users = 30
	}
	if o.tenant.BigGroupSize == 0 {
		o.tenant.BigGroupSize = 5
	}
	tenant := graphtest.New(o.tenant)
	if err := tenant.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tenant.Close)
	// The admins' Entra accounts: four-eyes binds each Slack account to one, by the e-mail on its profile.
	for _, name := range []string{"alice", "bob", "carol", "eve"} {
		tenant.AddUser(graphtest.User{UserPrincipalName: name + "@contoso.com", DisplayName: strings.ToUpper(name[:1]) + name[1:],
			Mail: name + "@contoso.com", UserType: "Member", AccountEnabled: true})
	}
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	for _, u := range []fakeslack.User{
		{ID: alice, Name: "alice", RealName: "Alice Admin", Email: "alice@contoso.com", TZ: "Europe/Berlin"},
		{ID: bob, Name: "bob", RealName: "Bob Builder", Email: "bob@contoso.com", TZ: "America/New_York"},
		{ID: carol, Name: "carol", RealName: "Carol Checker", Email: "carol@contoso.com", TZ: "Asia/Tokyo"},
		{ID: eve, Name: "eve", RealName: "Eve Eavesdropper", Email: "eve@contoso.com", TZ: "Europe/London"},
	} {
		fs.AddUser(u)
	}
	if o.lifetime == 0 {
		o.lifetime = 2 * time.Second
	}
	tenant.SetOrganizationDefaultPolicy("Test policy", o.lifetime)
	if o.setup != nil {
		o.setup(tenant, fs)
	}
	e := &env{t: t, tenant: tenant, slack: fs, dbPath: o.dbPath}
	if e.dbPath == "" {
		e.dbPath = filepath.Join(t.TempDir(), "signoutbot.db")
	}
	e.start(o)
	return e
}

// start (re)starts the bot process on the same tenant, Slack and database.
func (e *env) start(o envOpts) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	cred, err := graph.SimulatedCredential(ctx, e.tenant.GraphURL(), e.tenant.CertPool())
	if err != nil {
		t.Fatal(err)
	}
	if o.writeRate == 0 {
		o.writeRate = 1000
	}
	if o.adminIDs == nil {
		o.adminIDs = []string{alice, bob, carol}
	}
	if o.minEdit == 0 {
		o.minEdit = time.Millisecond
	}
	dir, err := graph.New(graph.Config{GraphURL: e.tenant.GraphURL(), Credential: cred, RootCAs: e.tenant.CertPool(),
		WriteRate: o.writeRate, RetryBaseDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass},
		AdminIDs: o.adminIDs, AdminUserGroups: o.userGroups, AdminEntraGroup: o.adminGroup, Identities: o.identities, Policy: o.policy,
		VerifyBackoff: []time.Duration{100 * time.Millisecond}, MinEditInterval: o.minEdit, Owner: fmt.Sprintf("test-%p", ctx),
		ThreadRetry: o.threadRetry})
	if err != nil {
		t.Fatal(err)
	}
	if o.editPace == nil {
		o.editPace = &testEditPace
	}
	msgr := slackbot.NewMessenger(token, e.slack.APIURL(), slackbot.WithEditPace(*o.editPace))
	app.AddMessenger(msgr)
	h := &slackbot.Handler{App: app, Messenger: msgr, SigningSecret: secret, TeamID: o.teamID, AppID: o.appID, Log: app.Log,
		Background: ctx}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	go app.RunScheduler(ctx, 50*time.Millisecond)
	e.dir, e.st, e.app, e.handler, e.http, e.cancel = dir, st, app, h, srv, cancel
	t.Cleanup(e.stop)
}

// stop ends the bot process as a crash would: in-flight work is cancelled, nothing is cleaned up by the app.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.http.Close()
	e.handler.Wait()
	time.Sleep(50 * time.Millisecond) // let the scheduler goroutine notice
	_ = e.st.Close()
	e.cancel = nil
}

// sign signs a body exactly as Slack does (v0 HMAC-SHA256 over "v0:timestamp:body").
func sign(ts int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:%s", ts, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func (e *env) postSigned(path, body string, ts int64, signature string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) nextTrigger() string { return fmt.Sprintf("trig.%d", e.trigger.Add(1)) }

func slashBody(user, text, trigger string) string {
	v := url.Values{"token": {"legacy"}, "team_id": {"T1"}, "channel_id": {channel}, "channel_name": {"secops"},
		"user_id": {user}, "user_name": {strings.ToLower(user[1:])}, "command": {"/signout"}, "text": {text},
		"response_url": {"https://hooks.slack.invalid/commands/1"}, "trigger_id": {trigger}}
	return v.Encode()
}

// slash sends a signed /signout command and waits until the bot has handled it.
func (e *env) slash(user, text string) {
	e.slashWithTrigger(user, text, e.nextTrigger())
}

func (e *env) slashWithTrigger(user, text, trigger string) {
	e.t.Helper()
	body := slashBody(user, text, trigger)
	ts := time.Now().Unix()
	code, resp := e.postSigned("/slack/commands", body, ts, sign(ts, body))
	if code != http.StatusOK {
		e.t.Fatalf("slash command: %d %s", code, resp)
	}
	e.handler.Wait()
}

func interactionBody(user, action, requestID, messageTS, trigger string) string {
	payload := map[string]any{
		"type": "block_actions", "trigger_id": trigger,
		"user":      map[string]any{"id": user, "name": strings.ToLower(user[1:])},
		"channel":   map[string]any{"id": channel, "name": "secops"},
		"team":      map[string]any{"id": "T1"},
		"container": map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel},
		"actions": []map[string]any{{"action_id": action, "block_id": "signout_actions", "value": requestID,
			"type": "button", "action_ts": "1.2"}},
	}
	raw, _ := json.Marshal(payload)
	return url.Values{"payload": {string(raw)}}.Encode()
}

// click sends a signed button click and waits until the bot has handled it.
func (e *env) click(user, action string, req store.Request) {
	e.t.Helper()
	e.clickWithTrigger(user, action, req, e.nextTrigger())
}

func (e *env) clickWithTrigger(user, action string, req store.Request, trigger string) {
	e.t.Helper()
	body := interactionBody(user, action, req.ID, req.Message.ID, trigger)
	ts := time.Now().Unix()
	if code, resp := e.postSigned("/slack/interactions", body, ts, sign(ts, body)); code != http.StatusOK {
		e.t.Fatalf("click: %d %s", code, resp)
	}
	e.handler.Wait()
}

// clickDeny clicks Deny on the request's card and returns the modal the bot opened with the click's trigger_id.
func (e *env) clickDeny(user string, req store.Request) fakeslack.View {
	e.t.Helper()
	trigger := e.nextTrigger()
	e.clickWithTrigger(user, "deny", req, trigger)
	v, ok := e.slack.ViewByTrigger(trigger)
	if !ok {
		e.t.Fatalf("Deny opened no modal for trigger %s (views.open called %d times)", trigger, e.slack.Calls("views.open"))
	}
	return v
}

// postInteraction sends an interaction payload to /slack/interactions, signed as Slack signs it, and returns
// the bot's answer once the work it started is done.
func (e *env) postInteraction(payload map[string]any) (int, string) {
	e.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	body := url.Values{"payload": {string(raw)}}.Encode()
	ts := time.Now().Unix()
	code, resp := e.postSigned("/slack/interactions", body, ts, sign(ts, body))
	e.handler.Wait()
	return code, resp
}

// submitView submits the modal as user with values typed into its inputs (by action_id) and returns the bot's
// answer to the view_submission.
func (e *env) submitView(user string, v fakeslack.View, values map[string]string) (int, string) {
	e.t.Helper()
	payload, err := e.slack.ViewSubmission(v.ID, user, values)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postInteraction(payload)
}

// clickDenyWithReason clicks Deny and submits the modal with reason ("" leaves it empty). The bot must answer
// the submission with the empty 200 that closes the modal.
func (e *env) clickDenyWithReason(user string, req store.Request, reason string) {
	e.t.Helper()
	v := e.clickDeny(user, req)
	if code, resp := e.submitView(user, v, map[string]string{"reason": reason}); code != http.StatusOK || resp != "" {
		e.t.Fatalf("deny submission answered %d %q; want an empty 200, which closes the modal", code, resp)
	}
}

// onlyRequest returns the single request in the store.
func (e *env) onlyRequest() store.Request {
	e.t.Helper()
	reqs, err := e.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(reqs) != 1 {
		e.t.Fatalf("%d requests in the store, want 1", len(reqs))
	}
	r, err := e.st.GetRequest(context.Background(), reqs[0].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// requests lists every request in the store.
func (e *env) requests() []store.Request {
	e.t.Helper()
	reqs, err := e.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return reqs
}

func (e *env) request(id string) store.Request {
	e.t.Helper()
	r, err := e.st.GetRequest(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) targets(id string) []store.Target {
	e.t.Helper()
	ts, err := e.st.Targets(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

// card is the request's channel message as Slack shows it now.
func (e *env) card(r store.Request) fakeslack.Message {
	e.t.Helper()
	for _, m := range e.slack.TopLevel(channel) {
		if m.TS == r.Message.ID {
			return m
		}
	}
	e.t.Fatalf("no channel message for request %s (ref %+v)", r.ID, r.Message)
	return fakeslack.Message{}
}

func (e *env) threadText(r store.Request) string {
	var b strings.Builder
	for _, m := range e.slack.Thread(channel, r.Message.ID) {
		b.WriteString(m.AllText() + "\n")
	}
	return b.String()
}

// waitThread waits until the request's thread says every want (thread replies are posted in the background).
func (e *env) waitThread(r store.Request, want ...string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text := e.threadText(r)
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return text
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("thread still lacks %q after 10s:\n%s", missing, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) lastEphemeral(user string) string {
	eph := e.slack.Ephemerals(user)
	if len(eph) == 0 {
		return ""
	}
	return eph[len(eph)-1].AllText()
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) waitStatus(id string, want store.RequestStatus, timeout time.Duration) store.Request {
	e.t.Helper()
	var r store.Request
	waitFor(e.t, fmt.Sprintf("request %s to be %s", id, want), timeout, func() bool {
		r = e.request(id)
		return r.Status == want
	})
	return r
}

func revokedUPNs(tenant *graphtest.Server) map[string]int {
	out := map[string]int{}
	for _, rv := range tenant.Revocations() {
		if u, ok := tenant.User(rv.UserID); ok {
			out[strings.ToLower(u.UserPrincipalName)]++
		} else {
			out[rv.UserID]++
		}
	}
	return out
}

func hasButtons(m fakeslack.Message) bool {
	for _, b := range m.Blocks {
		if b["type"] == "actions" {
			return true
		}
	}
	return false
}

// waitCard waits until the request's card shows every want (edits follow the store, so they land a moment later).
func (e *env) waitCard(r store.Request, want ...string) string {
	e.t.Helper()
	var text string
	waitFor(e.t, fmt.Sprintf("card of %s to show %q", r.ID, want), 10*time.Second, func() bool {
		text = e.card(r).AllText()
		for _, w := range want {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	})
	return text
}

// countEvents counts the request's audit events of one type.
func (e *env) countEvents(id, typ string) int {
	e.t.Helper()
	ev, err := e.st.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, x := range ev {
		if x.Type == typ {
			n++
		}
	}
	return n
}
