package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/bot/console"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// consoleDriver tells the adapter-neutral stories through the console's page API, as the browser does. The
// console is the chat platform here, so a restart keeps it and replaces the bot behind it.
type consoleDriver struct {
	t      *testing.T
	opts   bottest.Options
	tenant *graphtest.Server
	dbPath string
	con    *console.Console
	srv    *httptest.Server
	st     store.Store
	app    *bot.App
	cancel context.CancelFunc
	done   chan struct{}
	seq    int
	mu     sync.Mutex
}

var consolePeople = []console.Person{
	{Person: bot.Person{ID: "UALICE", Name: "Alice", Email: "alice@contoso.com", TimeZone: "Europe/Berlin"}, Admin: true},
	{Person: bot.Person{ID: "UBOB", Name: "Bob", Email: "bob@contoso.com", TimeZone: "America/New_York"}, Admin: true},
	{Person: bot.Person{ID: "UCAROL", Name: "Carol", Email: "carol@contoso.com", TimeZone: "Asia/Tokyo"}, Admin: true},
	{Person: bot.Person{ID: "UEVE", Name: "Eve", Email: "eve@contoso.com", TimeZone: "UTC"}},
}

var consoleIDs = map[string]string{bottest.Alice: "UALICE", bottest.Bob: "UBOB", bottest.Carol: "UCAROL", bottest.Eve: "UEVE"}

func newConsoleDriver(t *testing.T, o bottest.Options) bottest.Driver {
	if o.Tenant.Users == 0 {
		o.Tenant.Users = 30
	}
	if o.Tenant.BigGroupSize == 0 {
		o.Tenant.BigGroupSize = 5
	}
	tenant := graphtest.New(o.Tenant)
	if err := tenant.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tenant.Close)
	tenant.SetOrganizationDefaultPolicy("Test policy", 2*time.Second)
	for _, p := range consolePeople {
		tenant.AddUser(graphtest.User{UserPrincipalName: p.Email, DisplayName: p.Name, UserType: "Member", AccountEnabled: true})
	}
	d := &consoleDriver{t: t, opts: o, tenant: tenant, dbPath: filepath.Join(t.TempDir(), "bot.db")}
	d.con = &console.Console{People: consolePeople, Background: context.Background(),
		Tenant: func() []console.TenantUser { return nil }}
	d.srv = httptest.NewServer(d.con.Handler())
	t.Cleanup(d.srv.Close)
	d.start(t)
	t.Cleanup(d.stop)
	return d
}

func (d *consoleDriver) start(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	cred, err := graph.SimulatedCredential(ctx, d.tenant.GraphURL(), d.tenant.CertPool())
	if err != nil {
		t.Fatal(err)
	}
	rate := d.opts.WriteRate
	if rate == 0 {
		rate = 1000
	}
	dir, err := graph.New(graph.Config{GraphURL: d.tenant.GraphURL(), Credential: cred, RootCAs: d.tenant.CertPool(), WriteRate: rate,
		RetryBaseDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, d.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass},
		AdminIDs: []string{"UALICE", "UBOB", "UCAROL"}, Policy: d.opts.Policy, VerifyBackoff: []time.Duration{100 * time.Millisecond},
		MinEditInterval: time.Millisecond, Owner: fmt.Sprintf("console-test-%p", ctx)})
	if err != nil {
		t.Fatal(err)
	}
	app.AddMessenger(d.con)
	d.con.App = app
	done := make(chan struct{})
	go func() { defer close(done); app.RunScheduler(ctx, 50*time.Millisecond) }()
	d.st, d.app, d.cancel, d.done = st, app, cancel, done
}

func (d *consoleDriver) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.con.Wait()
	<-d.done
	_ = d.st.Close()
	d.cancel = nil
}

func (d *consoleDriver) post(t testing.TB, path, body string) {
	t.Helper()
	resp, err := http.Post(d.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
	d.con.Wait()
}

func (d *consoleDriver) id() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return fmt.Sprintf("d%d", d.seq)
}

func (d *consoleDriver) Command(t testing.TB, as, text string) {
	d.post(t, "/api/command", fmt.Sprintf(`{"User":%q,"Text":%q,"ID":%q}`, consoleIDs[as], text, d.id()))
}

func (d *consoleDriver) click(t testing.TB, as, action, id, note string) {
	r, err := d.st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	d.post(t, "/api/action", fmt.Sprintf(`{"User":%q,"Action":%q,"Value":%q,"Message":%q,"Note":%q,"ID":%q}`,
		consoleIDs[as], action, id, r.Message.ID, note, d.id()))
}

func (d *consoleDriver) Approve(t testing.TB, as, id string)      { d.click(t, as, "approve", id, "") }
func (d *consoleDriver) Deny(t testing.TB, as, id, reason string) { d.click(t, as, "deny", id, reason) }
func (d *consoleDriver) Store() store.Store                       { return d.st }
func (d *consoleDriver) Tenant() *graphtest.Server                { return d.tenant }
func (d *consoleDriver) message(t testing.TB, id string) console.Message {
	r, err := d.st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range d.con.Snapshot("UALICE").Messages {
		if m.ID == r.Message.ID {
			return m
		}
	}
	return console.Message{}
}

func messageText(m console.Message) string {
	var b strings.Builder
	b.WriteString(m.Text + "\n")
	for _, bl := range m.Blocks {
		b.WriteString(bl.Text + "\n" + strings.Join(bl.Fields, "\n") + "\n")
	}
	return bot.PlainText(b.String())
}

func (d *consoleDriver) Card(t testing.TB, id string) string { return messageText(d.message(t, id)) }
func (d *consoleDriver) Thread(t testing.TB, id string) string {
	var b strings.Builder
	for _, r := range d.message(t, id).Replies {
		b.WriteString(messageText(r))
	}
	return b.String()
}
func (d *consoleDriver) Private(t testing.TB, as string) string {
	var b strings.Builder
	for _, m := range d.con.Snapshot(consoleIDs[as]).Messages {
		if m.For == consoleIDs[as] {
			b.WriteString(messageText(m))
		}
	}
	return b.String()
}
func (d *consoleDriver) Restart(t testing.TB) {
	d.stop()
	d.start(t)
}

func TestScenarios(t *testing.T) { bottest.Run(t, newConsoleDriver) }
