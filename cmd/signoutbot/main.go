// Command signoutbot is the sign-out bot: serve (Slack), demo (local console on a simulated tenant),
// faketenant (a standalone simulated tenant for rehearsals) and bench (revocation throughput).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "signoutbot:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "signoutbot",
		Short:         "Force Microsoft 365 users to sign out, safely, from chat",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemoCmd(), newServeCmd(), newFakeTenantCmd(), newBenchCmd(), newTeamsPackageCmd())
	return root
}
