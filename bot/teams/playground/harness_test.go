package playground_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// person is one of the Playground's mock users. The Playground's config file names exactly one current user (the
// person at the keyboard of its web page) and five others; each has a Teams user id and an Entra object id, which
// the test also gives to an account in the simulated tenant.
type person struct {
	id, name, given, surname, upn string
	entra                         string // filled in by newCast
}

func (p *person) yaml(indent string) string {
	return fmt.Sprintf("%sid: %q\n%sname: %q\n%suserPrincipleName: %q\n%saadObjectId: %q\n%sgivenName: %q\n%ssurname: %q\n%semail: %q\n",
		indent, p.id, indent, p.name, indent, p.upn, indent, p.entra, indent, p.given, indent, p.surname, indent, p.upn)
}

// cast is who takes part: alex is the Playground's current user (the page types and clicks as him), megan the
// second admin; the other four are only there because the Playground's config file wants five users.
type cast struct {
	alex, megan *person
	others      []*person
}

func newCast() cast {
	c := cast{
		alex:  &person{id: "29:1alex-wilber", name: "Alex Wilber", given: "Alex", surname: "Wilber", upn: "alexw@contoso.com"},
		megan: &person{id: "29:1megan-bowen", name: "Megan Bowen", given: "Megan", surname: "Bowen", upn: "meganb@contoso.com"},
		others: []*person{
			{id: "29:1adele-vance", name: "Adele Vance", given: "Adele", surname: "Vance", upn: "adelev@contoso.com"},
			{id: "29:1isaiah-langer", name: "Isaiah Langer", given: "Isaiah", surname: "Langer", upn: "isaiahl@contoso.com"},
			{id: "29:1patti-fernandez", name: "Patti Fernandez", given: "Patti", surname: "Fernandez", upn: "pattif@contoso.com"},
			{id: "29:1lynne-robbins", name: "Lynne Robbins", given: "Lynne", surname: "Robbins", upn: "lynner@contoso.com"},
		},
	}
	for _, p := range c.all() {
		p.entra = newGUID()
	}
	return c
}

func (c cast) all() []*person { return append([]*person{c.alex, c.megan}, c.others...) }

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// The Teams world the Playground emulates, with ids shaped like Teams' own.
const (
	botName  = "signoutbot"
	teamName = "Security Operations"
	// teamID is also the General channel's conversation id, as in Teams.
	teamID         = "19:secops-general@thread.tacv2"
	otherChannelID = "19:secops-announcements@thread.tacv2"
)

// world is the Playground's config file (.m365agentsplayground.yml): the tenant, the bot, the users, the chats
// and the team.
type world struct {
	tenantID, botID, personalChat, groupChat, teamGroup string
	people                                              cast
}

func (w world) yaml() string {
	var b strings.Builder
	b.WriteString("version: \"0.1.1\"\n")
	fmt.Fprintf(&b, "tenantId: %q\n", w.tenantID)
	fmt.Fprintf(&b, "bot:\n  id: %q\n  name: %q\n", w.botID, botName)
	b.WriteString("currentUser:\n" + w.people.alex.yaml("  "))
	b.WriteString("users:\n")
	for _, p := range append([]*person{w.people.megan}, w.people.others...) {
		b.WriteString("  - " + strings.TrimPrefix(p.yaml("    "), "    "))
	}
	fmt.Fprintf(&b, "personalChat:\n  id: %q\n", w.personalChat)
	fmt.Fprintf(&b, "groupChat:\n  id: %q\n  name: \"Sign-out admins\"\n", w.groupChat)
	fmt.Fprintf(&b, "team:\n  id: %q\n  name: %q\n  aadGroupId: %q\n  channels:\n    - id: %q\n      name: \"Announcements\"\n",
		teamID, teamName, w.teamGroup, otherChannelID)
	return b.String()
}

// syncBuffer collects output from many goroutines.
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

// botEnv is the bot process: simulated tenant, SQLite store, the real core and the Teams adapter in anonymous
// mode (the mode a local emulator needs) on a loopback port.
type botEnv struct {
	tenant   *graphtest.Server
	st       store.Store
	app      *bot.App
	handler  *teams.Handler
	endpoint string
	logs     *syncBuffer
}

func startBot(t *testing.T, people cast) *botEnv {
	t.Helper()
	tenant := graphtest.New(graphtest.Options{Users: 30, BigGroupSize: 5})
	if err := tenant.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tenant.Close)
	for _, p := range people.all() {
		u := tenant.AddUser(graphtest.User{ID: p.entra, UserPrincipalName: p.upn, DisplayName: p.name, GivenName: p.given,
			Surname: p.surname, Mail: p.upn, UserType: "Member", AccountEnabled: true})
		if u.ID != p.entra {
			t.Fatalf("the simulated tenant gave %s the object id %s, not %s", p.upn, u.ID, p.entra)
		}
	}
	// Short-lived access tokens, so that the run reaches "every client is signed out" within the test.
	tenant.SetOrganizationDefaultPolicy("Test policy", 2*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cred, err := graph.SimulatedCredential(ctx, tenant.GraphURL(), tenant.CertPool())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := graph.New(graph.Config{GraphURL: tenant.GraphURL(), Credential: cred, RootCAs: tenant.CertPool(),
		WriteRate: 1000, RetryBaseDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "signoutbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass},
		TeamsAdmins: []string{people.alex.entra, people.megan.entra}, VerifyBackoff: []time.Duration{100 * time.Millisecond},
		MinEditInterval: 100 * time.Millisecond, Owner: "playground-test", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// No app id and no credential: the anonymous mode, in which the Messenger only calls loopback service URLs.
	// The pace is Teams' real one (DefaultPace).
	msgr, err := teams.NewMessenger(teams.MessengerConfig{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	app.AddMessenger(msgr)
	h, err := teams.NewHandler(teams.HandlerConfig{App: app, Messenger: msgr, Anonymous: true, TenantID: tenant.TenantID(),
		Background: ctx, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux) // 127.0.0.1, as anonymous mode requires
	go app.RunScheduler(ctx, 50*time.Millisecond)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		h.Wait()
		time.Sleep(50 * time.Millisecond) // let the scheduler notice
		_ = st.Close()
	})
	return &botEnv{tenant: tenant, st: st, app: app, handler: h, endpoint: srv.URL + "/api/messages", logs: logs}
}

func (b *botEnv) requests(t *testing.T) []store.Request {
	t.Helper()
	reqs, err := b.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

func (b *botEnv) request(t *testing.T, id string) store.Request {
	t.Helper()
	r, err := b.st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// playground is a running Microsoft 365 Agents Playground.
type playground struct {
	url     string // its web page, http://127.0.0.1:PORT
	logFile string
	stderr  *syncBuffer
}

var listening = regexp.MustCompile(`^Listening on (\d+)$`)

// startPlayground runs the Playground against the bot's endpoint, on an ephemeral loopback port, with its
// telemetry off, no browser of its own, and the given world as its config file.
func startPlayground(t *testing.T, bin, botEndpoint string, w world) *playground {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".m365agentsplayground.yml")
	if err := os.WriteFile(cfg, []byte(w.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	preload, err := filepath.Abs("loopback.cjs")
	if err != nil {
		t.Fatal(err)
	}
	pg := &playground{logFile: filepath.Join(dir, "playground.log"), stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	// -p 0: an ephemeral port, read back from its "Listening on" line (a busy port would make it pick a random
	// one anyway). Its web page and its mock Bot Connector (serviceUrl http://localhost:PORT/_connector) share it.
	cmd := exec.CommandContext(ctx, bin, "-e", botEndpoint, "-c", "msteams", "-p", "0", "--disable-telemetry")
	cmd.Dir = dir
	cmd.Env = append(playgroundEnv(os.Environ()),
		"TEAMSAPPTESTER_BROWSER=none",         // don't open a browser
		"APPLICATION_INSIGHTS_NO_STATSBEAT=1", // with --disable-telemetry: no connection leaves the machine
		"M365_AGENTS_PLAYGROUND_CONFIG_PATH="+cfg,
		"M365_AGENTS_PLAYGROUND_LOGFILE="+pg.logFile,
		"NODE_OPTIONS=--require="+preload,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	cmd.Stderr = pg.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("SIGNOUTBOT_PLAYGROUND=%s does not start (it needs node on PATH): %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("the Playground's stderr:\n%s", pg.stderr.String())
			if b, err := os.ReadFile(pg.logFile); err == nil {
				t.Logf("the Playground's log (%s), last 6000 bytes:\n%s", pg.logFile, tail(string(b), 6000))
			}
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p := <-port:
		pg.url = "http://127.0.0.1:" + p
	case err := <-exited:
		exited <- err
		t.Fatalf("SIGNOUTBOT_PLAYGROUND=%s exited at start (%v); its stderr:\n%s", bin, err, pg.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("SIGNOUTBOT_PLAYGROUND=%s did not say which port it listens on within 30 s; its stderr:\n%s", bin, pg.stderr.String())
	}
	// Its routes are mounted right after it printed the port, once it has read its config file; wait until they
	// answer.
	waitFor(t, "the Playground to answer", 15*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("SIGNOUTBOT_PLAYGROUND=%s exited at start (%v)", bin, err)
		default:
		}
		resp, err := http.Get(pg.url + "/_debug/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return pg
}

// playgroundEnv is the environment without the variables that would change what the Playground does: its own
// settings (a port, a config file, credentials that switch on authentication, an endpoint) and proxies.
func playgroundEnv(env []string) []string {
	drop := []string{"M365_AGENTS_PLAYGROUND_", "TEAMSAPPTESTER_", "TEAMS_APP_TEST_TOOL_", "AUTH_CLIENT_", "AUTH_TENANT_ID=",
		"BOT_ENDPOINT=", "DEFAULT_CHANNEL_ID=", "SEND_INSTALLATION_ACTIVITY=", "NODE_OPTIONS=", "APPLICATION_INSIGHTS_",
		"APPLICATIONINSIGHTS_", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "NO_PROXY=", "no_proxy="}
	var out []string
next:
	for _, kv := range env {
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// post sends a JSON body to one of the Playground's endpoints and decodes its answer into out (when not nil).
func (pg *playground) post(t *testing.T, path string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(pg.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Logf("the Playground answered POST %s with %d: %s", path, resp.StatusCode, raw)
	} else if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("the Playground's answer to POST %s, %q: %v", path, raw, err)
		}
	}
	return resp.StatusCode
}

// invoke posts to the Playground's /_conversation/v1/invoke, the endpoint its page calls when a card's
// Action.Execute is clicked, and returns the answer it relays from the bot.
func (pg *playground) invoke(t *testing.T, body map[string]any) (int, invokeAnswer) {
	t.Helper()
	var ans invokeAnswer
	status := pg.post(t, "/_conversation/v1/invoke", body, &ans)
	return status, ans
}

// invokeAnswer is the bot's answer to an adaptiveCard/action invoke, as the Playground relays it: the type and
// value of the bot's invoke response (its statusCode is not passed on).
type invokeAnswer struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// texts lists the texts of a card (TextBlocks, button titles, input labels), in order.
func texts(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"text", "title", "label"} {
				if s, ok := x[k].(string); ok {
					out = append(out, s)
				}
			}
			for k, c := range x {
				if k != "fallback" {
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

func (a invokeAnswer) text() string {
	var s string
	if json.Unmarshal(a.Value, &s) == nil {
		return s
	}
	var card any
	_ = json.Unmarshal(a.Value, &card)
	return strings.Join(texts(card), "\n")
}

// browser starts headless Chromium (the flags this machine needs, as demo/browser_test.go) that cannot resolve
// any host name: the Playground's page asks for web fonts on a CDN, which must not leave the machine.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium on PATH: `bash .ci/run` installs Debian's chromium package; or apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1400),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// consoleErrors collects what the page reports as errors, for the log.
func consoleErrors(ctx context.Context) func() []string {
	var (
		mu   sync.Mutex
		errs []string
	)
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// cardsJS is the text of every Adaptive Card the page shows, in page order, as the cards' renderer drew it.
const cardsJS = `[...document.querySelectorAll(".ac-adaptiveCard")].filter(c => !c.parentElement.closest(".ac-adaptiveCard")).map(c => c.innerText)`

// waitCard waits until one card on the page shows every want, and returns its text.
func waitCard(t *testing.T, ctx context.Context, what string, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cards := eval[[]string](t, ctx, cardsJS)
		for _, c := range cards {
			ok := true
			for _, w := range want {
				if !strings.Contains(c, w) {
					ok = false
					break
				}
			}
			if ok {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no card on the page shows all of %q; the page's cards:\n%s", what, want, strings.Join(cards, "\n-----\n"))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
