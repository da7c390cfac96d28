package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/graph/graphtest"
)

func newFakeTenantCmd() *cobra.Command {
	var (
		addr    string
		opts    graphtest.Options
		certOut string
	)
	cmd := &cobra.Command{
		Use:   "faketenant",
		Short: "Serve a simulated Entra tenant (Microsoft Graph v1.0 wire format) for rehearsals and tests",
		Long: `faketenant serves a simulated tenant over HTTPS: users and nested groups, $filter/$search/paging,
$batch, revokeSignInSessions, token lifetime policies, an OAuth2 token endpoint, and Entra ID's throttling.
The first line of output is the base URL; point SIGNOUTBOT_GRAPH_URL at <base>/v1.0 and SIGNOUTBOT_GRAPH_CA
at the certificate file named on the second line. It serves until stopped (Ctrl-C).`,
		Example: `  signoutbot faketenant --addr 127.0.0.1:9443 --users 10000 --latency 80ms
  signoutbot faketenant --write-budget 600 --write-window 30s --fault-rate 0.01`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := graphtest.New(opts)
			if err := s.StartAt(addr); err != nil {
				return fmt.Errorf("faketenant: %w", err)
			}
			defer s.Close()
			if certOut == "" {
				certOut = fmt.Sprintf("%s/signoutbot-faketenant-%d.pem", os.TempDir(), os.Getpid())
			}
			if err := os.WriteFile(certOut, s.CertPEM(), 0o644); err != nil {
				return fmt.Errorf("faketenant: write certificate: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, s.URL())
			fmt.Fprintf(out, "certificate: %s\n", certOut)
			fmt.Fprintf(out, "rehearse with: SIGNOUTBOT_GRAPH_URL=%s SIGNOUTBOT_GRAPH_CA=%s signoutbot serve …\n", s.GraphURL(), certOut)
			fmt.Fprintf(out, "tenant %s, app %s, %d users\n", s.TenantID(), s.ClientID(), len(s.Users()))
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	f.StringVar(&certOut, "cert-out", "", "where to write the server's TLS certificate (PEM); default a file in the temp dir")
	f.IntVar(&opts.Users, "users", 300, "number of generated users besides the named sample accounts")
	f.IntVar(&opts.BigGroupSize, "big-group", 5000, `members of the scale-test group "Migration Wave 1"`)
	f.DurationVar(&opts.Latency, "latency", 0, "added latency per HTTP request (e.g. 80ms, like Graph)")
	f.IntVar(&opts.WriteBudget, "write-budget", 3000, "writes (revocations) allowed per write window")
	f.DurationVar(&opts.WriteWindow, "write-window", 150*time.Second, "write budget window")
	f.IntVar(&opts.ReadBudget, "read-budget", 8000, "read resource units allowed per read window")
	f.DurationVar(&opts.ReadWindow, "read-window", 10*time.Second, "read budget window")
	f.Float64Var(&opts.FaultRate, "fault-rate", 0, "probability (0-1) that a request or batch item answers 503")
	f.DurationVar(&opts.ReplicationDelay, "replication-delay", 0, "delay before a revocation shows in reads")
	f.Int64Var(&opts.Seed, "seed", 1, "seed for generated names and faults")
	return cmd
}
