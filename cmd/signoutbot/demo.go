package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/console"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// The demo's people: two admins in different time zones and one person who is not an admin.
var demoPeople = []console.Person{
	{Person: bot.Person{ID: "UALICE", Name: "Alice (admin)", Email: "alice@contoso.com", TimeZone: "Europe/Berlin"}, Admin: true},
	{Person: bot.Person{ID: "UBOB", Name: "Bob (admin)", Email: "bob@contoso.com", TimeZone: "America/New_York"}, Admin: true},
	{Person: bot.Person{ID: "UNINA", Name: "Nina (not an admin)", Email: "nina@contoso.com", TimeZone: "Asia/Tokyo"}},
}

type demoConfig struct {
	listen, data string
	users        int
	lifetime     time.Duration
	tenant       graphtest.Options
}

func newDemoCmd() *cobra.Command {
	var c demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bot on this machine: simulated tenant, SQLite, and a chat channel in the browser",
		Long: `demo starts a simulated Entra tenant (sample users and groups, real Graph wire format), the SQLite store in
--data, the bot core, and a web page that behaves like a chat channel. Type /signout commands as in Slack,
switch between the two admins to approve, and watch the request run and the tenant's
signInSessionsValidFromDateTime change. Access-token lifetime is compressed to --token-lifetime so the
"access tokens expired" step shows up in minutes; the page labels it as simulated.
Use --users and the tenant flags to rehearse a cutover at its real size.`,
		Example: `  signoutbot demo
  signoutbot demo --listen 127.0.0.1:8090 --users 5000 --latency 80ms`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), c, cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address of the demo page")
	f.StringVar(&c.data, "data", "signoutbot-demo-data", "folder for the demo's SQLite database")
	f.IntVar(&c.tenant.Users, "users", 300, "generated users in the simulated tenant (besides the named samples)")
	f.IntVar(&c.tenant.BigGroupSize, "big-group", 1000, `members of the group "Migration Wave 1"`)
	f.DurationVar(&c.tenant.Latency, "latency", 20*time.Millisecond, "simulated Graph latency per request")
	f.DurationVar(&c.tenant.ReplicationDelay, "replication-delay", 3*time.Second, "simulated delay before a revocation shows in reads")
	f.DurationVar(&c.lifetime, "token-lifetime", 2*time.Minute, "simulated access-token lifetime (real tenants: 60–90 min or the policy's)")
	return cmd
}

func runDemo(ctx context.Context, c demoConfig, cmd *cobra.Command) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tenant := graphtest.New(c.tenant)
	if err := tenant.Start(); err != nil {
		return fmt.Errorf("demo: simulated tenant: %w", err)
	}
	defer tenant.Close()
	cred, err := graph.SimulatedCredential(ctx, tenant.GraphURL(), tenant.CertPool())
	if err != nil {
		return err
	}
	dir, err := graph.New(graph.Config{GraphURL: tenant.GraphURL(), Credential: cred, RootCAs: tenant.CertPool(), Logger: log})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return fmt.Errorf("demo: --data: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.data, "signoutbot.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	var admins []string
	for _, p := range demoPeople {
		if p.Admin {
			admins = append(admins, p.ID)
		}
	}
	app := bot.NewApp(bot.Config{Store: st, Dir: dir, Protected: []string{graphtest.GroupBreakGlass}, AdminIDs: admins,
		LifetimeOverride: c.lifetime, VerifyBackoff: []time.Duration{2 * time.Second, 5 * time.Second}, Log: log})
	con := &console.Console{App: app, People: demoPeople, Log: log, Background: ctx,
		Tenant: func() []console.TenantUser { return tenantRows(tenant) },
		Notes: []string{
			fmt.Sprintf("Simulated tenant with %d users; nothing here reaches Microsoft.", len(tenant.Users())),
			fmt.Sprintf("Access-token lifetime is *simulated: %s* (a real tenant: 60–90 min, or its token lifetime policy).", c.lifetime),
			"_Break Glass Admin_ is protected (group *Break Glass*) and is never signed out.",
		}}
	app.AddMessenger(con)
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("demo: --listen %s: %w", c.listen, err)
	}
	srv := &http.Server{Handler: con.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go app.RunScheduler(ctx, 500*time.Millisecond)
	fmt.Fprintf(cmd.OutOrStdout(), "signoutbot demo: open http://%s/\n", ln.Addr())
	fmt.Fprintf(cmd.OutOrStdout(), "simulated tenant at %s (%d users); data in %s; Ctrl-C to stop\n", tenant.GraphURL(), len(tenant.Users()), c.data)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	con.Wait()
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
