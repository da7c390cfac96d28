package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bot on this machine: simulated tenant, SQLite, and a chat channel in the browser",
		Long: `demo starts a simulated Entra tenant (sample users and groups, real Graph wire format), the SQLite store in
--data, the bot core, and a web page that behaves like a chat channel. Type /signout commands as in Slack,
switch between the admins to approve, and watch the request run and the tenant's
signInSessionsValidFromDateTime change. The access-token lifetime is compressed to --token-lifetime so the
"access tokens expired" step shows up in minutes; the page labels it as simulated. A request nobody decides
expires after --expiry, so a short one rehearses expiry.
Use --users and the tenant flags to rehearse a cutover at its real size.`,
		Example: `  signoutbot demo
  signoutbot demo --expiry 2m
  signoutbot demo --listen 127.0.0.1:8090 --users 5000 --latency 80ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Expiry <= 0 {
				return fmt.Errorf("--expiry %s: want a positive duration, e.g. 30m or 90s", o.Expiry)
			}
			o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			d, err := demo.Start(cmd.Context(), o)
			var busy *demo.ListenError
			if errors.As(err, &busy) {
				return fmt.Errorf("%w\nIs another demo running? Choose a free address with --listen, e.g. --listen 127.0.0.1:8090", err)
			}
			if err != nil {
				return err
			}
			defer d.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "signoutbot demo: open %s\n", d.URL)
			fmt.Fprintf(out, "simulated tenant at %s (%d users); this run's audit database: %s; Ctrl-C to stop\n",
				d.Tenant.GraphURL(), len(d.Tenant.Users()), d.DB)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address of the demo page")
	f.StringVar(&o.Data, "data", "signoutbot-demo-data", "folder for the demo's SQLite databases (a new one per run, as the simulated tenant is new too)")
	f.IntVar(&o.Tenant.Users, "users", 300, "generated users in the simulated tenant (besides the named samples)")
	f.IntVar(&o.Tenant.BigGroupSize, "big-group", 1000, `members of the group "Migration Wave 1"`)
	f.DurationVar(&o.Tenant.Latency, "latency", 20*time.Millisecond, "simulated Graph latency per request")
	f.DurationVar(&o.Tenant.ReplicationDelay, "replication-delay", 3*time.Second, "simulated delay before a revocation shows in reads")
	f.DurationVar(&o.TokenLifetime, "token-lifetime", 2*time.Minute, "simulated access-token lifetime (real tenants: 60–90 min or the policy's)")
	f.DurationVar(&o.Expiry, "expiry", 30*time.Minute, "how long a request waits for approval before it expires (as SIGNOUTBOT_EXPIRY in serve)")
	return cmd
}
