// Package demo wires the embedded default: a simulated tenant, the SQLite store, the bot core and the browser
// console, all on this machine. `signoutbot demo` runs it; the browser test drives it.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/console"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// People are the demo's identities: admins in different time zones and one person who is not an admin. Carol is
// the third admin because scopes above the quorum size need two approvers besides the requester; without her a
// rehearsal at real scale could never be approved.
var People = []console.Person{
	{Person: bot.Person{ID: "UALICE", Name: "Alice", Email: "alice@contoso.com", TimeZone: "Europe/Berlin"}, Admin: true},
	{Person: bot.Person{ID: "UBOB", Name: "Bob", Email: "bob@contoso.com", TimeZone: "America/New_York"}, Admin: true},
	{Person: bot.Person{ID: "UCAROL", Name: "Carol", Email: "carol@contoso.com", TimeZone: "Australia/Sydney"}, Admin: true},
	{Person: bot.Person{ID: "UNINA", Name: "Nina", Email: "nina@contoso.com", TimeZone: "Asia/Tokyo"}},
}

// Options configure a demo.
type Options struct {
	Listen        string // default 127.0.0.1:8080
	Data          string // folder for the SQLite database
	Tenant        graphtest.Options
	TokenLifetime time.Duration // simulated access-token lifetime (default 2 min)
	Expiry        time.Duration // how long a request waits for approval (default 30 min, as in production)
	VerifyBackoff []time.Duration
	Poll          time.Duration // scheduler poll (default 500 ms)
	Log           *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	URL     string
	DB      string // this run's SQLite database
	Tenant  *graphtest.Server
	Console *console.Console
	close   func()

	// The page's server: kept so it can be stopped and started again on the same address, as when the demo
	// goes away under an open page (see pause and resume).
	mu      sync.Mutex
	srv     *http.Server
	addr    string
	serving context.Context // request contexts: ends the page's event streams when the server stops
	log     *slog.Logger
}

// ListenError is returned when the demo page's address cannot be listened on (typically another demo, or
// another program, already uses it).
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return fmt.Sprintf("demo: listen on %s: %v", e.Addr, e.Err) }
func (e *ListenError) Unwrap() error { return e.Err }

// Close stops everything.
func (d *Demo) Close() { d.close() }

// Start runs the demo until ctx ends or Close is called.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if len(o.VerifyBackoff) == 0 {
		o.VerifyBackoff = []time.Duration{2 * time.Second, 5 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	var closers []func()
	cleanup := func() {
		cancel()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var dbPath string
	fail := func(err error) (*Demo, error) {
		cleanup()
		// A run that never started leaves no database behind: an empty file would read as a run with no requests.
		if dbPath != "" {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(dbPath + suffix)
			}
		}
		return nil, err
	}

	// Listen before anything else is made: a busy address is the likeliest failure, and it must not leave a
	// database or a running tenant behind.
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(&ListenError{Addr: o.Listen, Err: err})
	}
	closers = append(closers, func() { _ = ln.Close() })

	tenant := graphtest.New(o.Tenant)
	if err := tenant.Start(); err != nil {
		return fail(fmt.Errorf("demo: simulated tenant: %w", err))
	}
	closers = append(closers, tenant.Close)
	// The people on the page have Entra accounts, as real admins do: four-eyes approval compares those.
	for _, p := range People {
		tenant.AddUser(graphtest.User{UserPrincipalName: p.Email, Mail: p.Email, DisplayName: p.Name + " (helpdesk)",
			UserType: "Member", AccountEnabled: true})
	}
	// Time is compressed through the tenant itself, so the demo reads it the way production does: from the
	// organization-default token lifetime policy.
	tenant.SetOrganizationDefaultPolicy(fmt.Sprintf("Simulated demo policy: %s, compressed for the demo", bot.FormatDuration(o.TokenLifetime)), o.TokenLifetime)
	cred, err := graph.SimulatedCredential(ctx, tenant.GraphURL(), tenant.CertPool())
	if err != nil {
		return fail(err)
	}
	dir, err := graph.New(graph.Config{GraphURL: tenant.GraphURL(), Credential: cred, RootCAs: tenant.CertPool(), Logger: o.Log})
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fail(fmt.Errorf("demo: data folder: %w", err))
	}
	// Each run's simulated tenant is new, so its requests would mean nothing to the next run (and its cards are
	// not on the next run's page): every run gets a database of its own, and earlier runs stay for reading.
	path, err := runDatabase(o.Data, time.Now())
	if err != nil {
		return fail(err)
	}
	dbPath = path
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { _ = st.Close() })
	var admins []string
	for _, p := range People {
		if p.Admin {
			admins = append(admins, p.ID)
		}
	}
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass}, AdminIDs: admins,
		Policy: approvals.Policy{Expiry: o.Expiry}, VerifyBackoff: o.VerifyBackoff, Log: o.Log, MinEditInterval: 300 * time.Millisecond})
	if err != nil {
		return fail(err)
	}
	con := &console.Console{App: app, People: People, Log: o.Log, Background: ctx,
		Tenant: func() []console.TenantUser { return tenantRows(tenant) },
		Notes: []string{
			fmt.Sprintf("Simulated tenant with %d users; nothing here reaches Microsoft.", len(tenant.Users())),
			fmt.Sprintf("Access-token lifetime is *simulated: %s* (a real tenant: 60–90 min, or its token lifetime policy).", bot.FormatDuration(o.TokenLifetime)),
			"_Break Glass Admin_ is protected (group *Break Glass*) and is never signed out.",
			fmt.Sprintf("A request nobody decides expires after *%s*.", bot.FormatDuration(approvals.Policy{Expiry: o.Expiry}.WithDefaults().Expiry)),
		}}
	app.AddMessenger(con)
	serving, stopServing := context.WithCancel(context.Background())
	d := &Demo{URL: "http://" + ln.Addr().String() + "/", DB: dbPath, Tenant: tenant, Console: con, close: cleanup,
		addr: ln.Addr().String(), serving: serving, log: o.Log}
	d.serve(ln)
	done := make(chan struct{})
	go func() { defer close(done); app.RunScheduler(ctx, o.Poll) }()
	// Closers run in reverse: stop the page (ending its event streams first, or Shutdown would wait for them),
	// wait for its work and the scheduler, then the store and tenant.
	closers = append(closers, func() {
		stopServing()
		shutdown, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		d.mu.Lock()
		srv := d.srv
		d.srv = nil
		d.mu.Unlock()
		if srv != nil {
			_ = srv.Shutdown(shutdown)
		}
		cancel()
		con.Wait()
		<-done
	})
	return d, nil
}

// serve starts the page's server on ln.
func (d *Demo) serve(ln net.Listener) {
	srv := &http.Server{Handler: d.Console.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return d.serving }}
	d.mu.Lock()
	d.srv = srv
	d.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("demo page", "err", err)
		}
	}()
}

// pause stops the page's server at once, dropping open connections, as if the demo had gone away; the bot keeps
// running. Tests use it to show what an open page does when its server disappears.
func (d *Demo) pause() {
	d.mu.Lock()
	srv := d.srv
	d.srv = nil
	d.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// resume serves the page again on the same address after pause.
func (d *Demo) resume() error {
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		return &ListenError{Addr: d.addr, Err: err}
	}
	d.serve(ln)
	return nil
}

func tenantRows(t *graphtest.Server) []console.TenantUser {
	users := t.Users()
	rows := make([]console.TenantUser, 0, len(users))
	for _, u := range users {
		rows = append(rows, console.TenantUser{UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.UserType == "Guest",
			Enabled: u.AccountEnabled, SessionsValidFrom: u.SignInSessionsValidFrom})
	}
	return rows
}

// runDatabase names a new database file in dir for a run started at start.
func runDatabase(dir string, start time.Time) (string, error) {
	name := "signoutbot-" + start.UTC().Format("20060102-150405Z")
	for i := 1; ; i++ {
		p := filepath.Join(dir, name+".db")
		if i > 1 {
			p = filepath.Join(dir, fmt.Sprintf("%s-%d.db", name, i))
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		} else if err != nil {
			return "", fmt.Errorf("demo: data folder: %w", err)
		}
	}
}
