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
	"time"

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
}

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
	fail := func(err error) (*Demo, error) { cleanup(); return nil, err }

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
	dbPath, err := runDatabase(o.Data, time.Now())
	if err != nil {
		return fail(err)
	}
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
		VerifyBackoff: o.VerifyBackoff, Log: o.Log, MinEditInterval: 300 * time.Millisecond})
	if err != nil {
		return fail(err)
	}
	con := &console.Console{App: app, People: People, Log: o.Log, Background: ctx,
		Tenant: func() []console.TenantUser { return tenantRows(tenant) },
		Notes: []string{
			fmt.Sprintf("Simulated tenant with %d users; nothing here reaches Microsoft.", len(tenant.Users())),
			fmt.Sprintf("Access-token lifetime is *simulated: %s* (a real tenant: 60–90 min, or its token lifetime policy).", bot.FormatDuration(o.TokenLifetime)),
			"_Break Glass Admin_ is protected (group *Break Glass*) and is never signed out.",
		}}
	app.AddMessenger(con)
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(fmt.Errorf("demo: listen on %s: %w", o.Listen, err))
	}
	srv := &http.Server{Handler: con.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("demo page", "err", err)
		}
	}()
	done := make(chan struct{})
	go func() { defer close(done); app.RunScheduler(ctx, o.Poll) }()
	// Closers run in reverse: stop the page, wait for its work and the scheduler, then the store and tenant.
	closers = append(closers, func() {
		shutdown, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(shutdown)
		cancel()
		con.Wait()
		<-done
	})
	return &Demo{URL: "http://" + ln.Addr().String() + "/", DB: dbPath, Tenant: tenant, Console: con, close: cleanup}, nil
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
