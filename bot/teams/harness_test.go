package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

const (
	testFileKey = "test key that signs download links, 32+ bytes"
	channelConv = "19:secops@thread.tacv2" // the channel's conversation id
	teamID      = "19:team-general@thread.tacv2"
	botName     = "signoutbot"
)

// person is a Teams user with an Entra account in the simulated tenant.
type person struct {
	id, name, upn, tz string
	entra             string // object id, filled in by newEnv
}

// The cast: alice, bob and carol are admins (by Entra object id, SIGNOUTBOT_TEAMS_ADMINS); eve is not.
func cast() map[string]*person {
	return map[string]*person{
		"alice": {id: "29:alice", name: "Alice Admin", upn: "alice@contoso.com", tz: "Europe/Berlin"},
		"bob":   {id: "29:bob", name: "Bob Builder", upn: "bob@contoso.com", tz: "America/New_York"},
		"carol": {id: "29:carol", name: "Carol Checker", upn: "carol@contoso.com", tz: "Asia/Tokyo"},
		"eve":   {id: "29:eve", name: "Eve Eavesdropper", upn: "eve@contoso.com", tz: "Europe/London"},
	}
}

// env is one running bot: simulated tenant, fake Bot Framework, SQLite store, the real core and the adapter.
type env struct {
	t       testing.TB
	tenant  *graphtest.Server
	fc      *fakeconnector.Server
	dbPath  string
	st      store.Store
	app     *bot.App
	msgr    *teams.Messenger
	auth    *teams.Authenticator
	handler *teams.Handler
	http    *httptest.Server
	cancel  context.CancelFunc
	logs    *syncBuffer
	seq     atomic.Int64
	people  map[string]*person
}

type envOpts struct {
	tenant   graphtest.Options
	policy   approvals.Policy
	lifetime time.Duration
	// anonymous runs the handler without an app id (a local emulator's mode).
	anonymous bool
	// pace overrides the test pace (fast, so that tests do not wait on Teams' real limits).
	pace *teams.Pace
	// invokeTimeout overrides how long a click waits for the core.
	invokeTimeout time.Duration
	// writeRate is the bot's Graph write pace (default 1,000/s); minEdit the card editor's MinEditInterval
	// (default 1 ms, so that tests do not wait on it).
	writeRate float64
	minEdit   time.Duration
	// noPublicURL runs the bot without SIGNOUTBOT_PUBLIC_URL: it can make no download links.
	noPublicURL bool
}

// testPace keeps the pacing code on the path of every call, at a rate no test waits on.
var testPace = teams.Pace{PerSecond: rate.Limit(500), Burst: 100, PerHour: rate.Limit(500), HourBurst: 100, Global: rate.Limit(500), GlobalBurst: 100}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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
	fc := fakeconnector.New(fakeconnector.Options{TenantID: tenant.TenantID()})
	t.Cleanup(fc.Close)
	people := cast()
	for _, p := range people {
		u := tenant.AddUser(graphtest.User{UserPrincipalName: p.upn, DisplayName: p.name, Mail: p.upn, UserType: "Member", AccountEnabled: true})
		p.entra = u.ID
		fc.AddMember(fakeconnector.Member{ID: p.id, Name: p.name, AADObjectID: u.ID, Email: p.upn, UPN: p.upn})
	}
	if o.lifetime == 0 {
		o.lifetime = 2 * time.Second
	}
	tenant.SetOrganizationDefaultPolicy("Test policy", o.lifetime)
	e := &env{t: t, tenant: tenant, fc: fc, dbPath: filepath.Join(t.TempDir(), "signoutbot.db"), logs: &syncBuffer{}, people: people}
	e.start(o)
	return e
}

func (e *env) p(name string) *person { return e.people[name] }

// start (re)starts the bot process on the same tenant, Bot Framework and database.
func (e *env) start(o envOpts) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cred, err := graph.SimulatedCredential(ctx, e.tenant.GraphURL(), e.tenant.CertPool())
	if err != nil {
		t.Fatal(err)
	}
	if o.writeRate == 0 {
		o.writeRate = 1000
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
	admins := []string{e.p("alice").entra, e.p("bob").entra, e.p("carol").entra}
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass}, TeamsAdmins: admins,
		Policy: o.policy, VerifyBackoff: []time.Duration{100 * time.Millisecond}, MinEditInterval: o.minEdit,
		Owner: fmt.Sprintf("test-%p", ctx), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	pace := o.pace
	if pace == nil {
		pace = &testPace
	}
	mcfg := teams.MessengerConfig{HTTPClient: e.fc.Client(), RetryBase: 20 * time.Millisecond, Pace: pace, Log: log}
	hcfg := teams.HandlerConfig{App: app, TenantID: e.fc.TenantID(), Background: ctx, Log: log, InvokeTimeout: o.invokeTimeout}
	if o.anonymous {
		hcfg.Anonymous = true
	} else {
		botCred, err := e.fc.Credential()
		if err != nil {
			t.Fatal(err)
		}
		mcfg.AppID, mcfg.Credential = e.fc.AppID(), botCred
		auth, err := teams.NewAuthenticator(teams.AuthConfig{AppID: e.fc.AppID(), OpenIDMetadataURL: e.fc.OpenIDURL(),
			HTTPClient: e.fc.Client(), Log: log})
		if err != nil {
			t.Fatal(err)
		}
		hcfg.Auth, e.auth = auth, auth
	}
	msgr, err := teams.NewMessenger(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	app.AddMessenger(msgr)
	hcfg.Messenger = msgr
	h, err := teams.NewHandler(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	// Report files: Teams threads link to the bot's own download route, as serve mounts it.
	mux.Handle("GET /files/{token}", app.FileHandler())
	srv := httptest.NewUnstartedServer(mux)
	// The links' address is the server's, known once it listens; set before it serves anything.
	app.Files = bot.FileLinks{Key: []byte(testFileKey), BaseURL: "http://" + srv.Listener.Addr().String()}
	if o.noPublicURL {
		app.Files.BaseURL = ""
	}
	srv.Start()
	go app.RunScheduler(ctx, 50*time.Millisecond)
	e.st, e.app, e.msgr, e.handler, e.http, e.cancel = st, app, msgr, h, srv, cancel
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

func (e *env) endpoint() string { return e.http.URL + "/api/messages" }

func (e *env) nextID() string { return fmt.Sprintf("act-%d", e.seq.Add(1)) }

func (e *env) from(u *person) *fakeconnector.Account {
	return &fakeconnector.Account{ID: u.id, Name: u.name, AADObjectID: u.entra}
}

func (e *env) channelData() *fakeconnector.ChannelData {
	return &fakeconnector.ChannelData{Tenant: &fakeconnector.IDName{ID: e.fc.TenantID()}, Team: &fakeconnector.IDName{ID: teamID},
		Channel: &fakeconnector.IDName{ID: channelConv}}
}

// channelMessage is a new post in the channel that @mentions the bot, as Teams delivers it.
func (e *env) channelMessage(u *person, text string) fakeconnector.Activity {
	id := e.nextID()
	mention := "<at>" + botName + "</at>"
	return fakeconnector.Activity{Type: "message", ID: id, ServiceURL: e.fc.ServiceURL(), ChannelID: "msteams", From: e.from(u),
		Recipient:    &fakeconnector.Account{ID: e.fc.BotID(), Name: botName},
		Conversation: &fakeconnector.Conversation{ID: channelConv + ";messageid=" + id, ConversationType: "channel", TenantID: e.fc.TenantID(), IsGroup: true},
		Text:         mention + " " + text,
		Entities: []fakeconnector.Entity{{Type: "mention", Text: mention, Mentioned: &fakeconnector.Account{ID: e.fc.BotID(), Name: botName}},
			{Type: "clientInfo", Timezone: u.tz, Locale: "en-US", Text: ""}},
		ChannelData: e.channelData()}
}

// personalMessage is a message in the person's 1:1 chat with the bot.
func (e *env) personalMessage(u *person, text string) fakeconnector.Activity {
	return fakeconnector.Activity{Type: "message", ID: e.nextID(), ServiceURL: e.fc.ServiceURL(), ChannelID: "msteams", From: e.from(u),
		Recipient:    &fakeconnector.Account{ID: e.fc.BotID(), Name: botName},
		Conversation: &fakeconnector.Conversation{ID: "a:dm-" + strings.TrimPrefix(u.id, "29:"), ConversationType: "personal", TenantID: e.fc.TenantID()},
		Text:         text, Entities: []fakeconnector.Entity{{Type: "clientInfo", Timezone: u.tz}},
		ChannelData: &fakeconnector.ChannelData{Tenant: &fakeconnector.IDName{ID: e.fc.TenantID()}}}
}

// cardActivity is an activity from the card of request r (a click): Teams addresses it to the card's thread.
func (e *env) cardActivity(u *person, typ string, r store.Request) fakeconnector.Activity {
	return fakeconnector.Activity{Type: typ, ID: e.nextID(), ServiceURL: e.fc.ServiceURL(), ChannelID: "msteams", From: e.from(u),
		Recipient:    &fakeconnector.Account{ID: e.fc.BotID(), Name: botName},
		Conversation: &fakeconnector.Conversation{ID: channelConv + ";messageid=" + r.Message.ID, ConversationType: "channel", TenantID: e.fc.TenantID(), IsGroup: true},
		ReplyToID:    r.Message.ID, Entities: []fakeconnector.Entity{{Type: "clientInfo", Timezone: u.tz}}, ChannelData: e.channelData()}
}

// send delivers an activity signed like the Bot Connector and waits until the bot's background work is done.
func (e *env) send(a fakeconnector.Activity, opts ...fakeconnector.Option) fakeconnector.Response {
	e.t.Helper()
	resp, err := e.fc.Send(context.Background(), e.endpoint(), a, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.handler.Wait()
	return resp
}

// command has u @mention the bot in the channel with text and waits until the bot has handled it.
func (e *env) command(u *person, text string) {
	e.t.Helper()
	if resp := e.send(e.channelMessage(u, text)); resp.Status != http.StatusOK {
		e.t.Fatalf("command %q: HTTP %d %s", text, resp.Status, resp.Body)
	}
}

// invokeAnswer is the bot's answer to an adaptiveCard/action invoke.
type invokeAnswer struct {
	StatusCode int             `json:"statusCode"`
	Type       string          `json:"type"`
	Value      json.RawMessage `json:"value"`
}

// text is what the answer shows: the card's texts, or the message.
func (a invokeAnswer) text() string {
	var s string
	if json.Unmarshal(a.Value, &s) == nil {
		return s
	}
	return fakeconnector.CardText(a.Value)
}

// invoke has u click an Action.Execute button (verb) on r's card and returns the bot's answer.
func (e *env) invoke(u *person, verb string, r store.Request, reason string) invokeAnswer {
	e.t.Helper()
	a := e.cardActivity(u, "invoke", r)
	a.Name = "adaptiveCard/action"
	data := map[string]any{"requestId": r.ID}
	if reason != "" {
		data[teams.ReasonInput] = reason
	}
	a.Value = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
	resp := e.send(a)
	if resp.Status != http.StatusOK {
		e.t.Fatalf("invoke %s: HTTP %d %s", verb, resp.Status, resp.Body)
	}
	var ans invokeAnswer
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		e.t.Fatalf("invoke answer %q: %v", resp.Body, err)
	}
	return ans
}

// submit has u click the Action.Submit fallback of a button (clients without Universal Actions).
func (e *env) submit(u *person, action string, r store.Request, reason string) {
	e.t.Helper()
	a := e.cardActivity(u, "message", r)
	v := map[string]any{"action": action, "requestId": r.ID}
	if reason != "" {
		v[teams.ReasonInput] = reason
	}
	a.Value = v
	if resp := e.send(a); resp.Status != http.StatusOK || len(resp.Body) != 0 {
		e.t.Fatalf("submit %s: HTTP %d %q; want an empty 200", action, resp.Status, resp.Body)
	}
}

func (e *env) requests() []store.Request {
	e.t.Helper()
	reqs, err := e.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return reqs
}

func (e *env) onlyRequest() store.Request {
	e.t.Helper()
	reqs := e.requests()
	if len(reqs) != 1 {
		e.t.Fatalf("%d requests in the store, want 1", len(reqs))
	}
	return e.request(reqs[0].ID)
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

// card is the request's card as Teams shows it now.
func (e *env) card(r store.Request) fakeconnector.Message {
	e.t.Helper()
	m, ok := e.fc.Message(channelConv, r.Message.ID)
	if !ok {
		e.t.Fatalf("no message %s in the channel for request %s", r.Message.ID, r.ID)
	}
	return m
}

func (e *env) threadText(r store.Request) string {
	var b strings.Builder
	for _, m := range e.fc.Thread(channelConv, r.Message.ID) {
		b.WriteString(m.AllText() + "\n")
	}
	return b.String()
}

func (e *env) privateText(u *person) string {
	var b strings.Builder
	for _, m := range e.fc.Personal(u.id) {
		b.WriteString(m.AllText() + "\n")
	}
	return b.String()
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) waitStatus(id string, want store.RequestStatus) store.Request {
	e.t.Helper()
	var r store.Request
	waitFor(e.t, fmt.Sprintf("request %s to be %s", id, want), 20*time.Second, func() bool {
		r = e.request(id)
		return r.Status == want
	})
	return r
}

// waitText waits until text() contains every want (cards and replies are sent in the background).
func (e *env) waitText(what string, text func() string, want ...string) string {
	e.t.Helper()
	var s string
	waitFor(e.t, fmt.Sprintf("%s to show %q", what, want), 15*time.Second, func() bool {
		s = text()
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
	return s
}

func (e *env) waitThread(r store.Request, want ...string) string {
	e.t.Helper()
	return e.waitText("thread of "+r.ID, func() string { return e.threadText(r) }, want...)
}

func (e *env) waitCard(r store.Request, want ...string) string {
	e.t.Helper()
	return e.waitText("card of "+r.ID, func() string { return e.card(r).AllText() }, want...)
}

func (e *env) waitPrivate(u *person, want ...string) string {
	e.t.Helper()
	return e.waitText("1:1 chat of "+u.name, func() string { return e.privateText(u) }, want...)
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

// actionTypes lists the action types anywhere in a card (Action.Execute, Action.ShowCard, …).
func actionTypes(card map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["type"].(string); ok && strings.HasPrefix(t, "Action.") {
				out = append(out, t)
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
	walk(card)
	return out
}

func countEvents(t testing.TB, st store.Store, id, typ string) int {
	t.Helper()
	ev, err := st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range ev {
		if x.Type == typ {
			n++
		}
	}
	return n
}
