// Command signoutbot is the sign-out bot: serve (Slack), demo (local console on a simulated tenant),
// faketenant (a standalone simulated tenant for rehearsals), bench (revocation throughput) and audit export
// (the audit log as CSV or JSON).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // time zone names must resolve on minimal hosts without a zone database

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process's exit code. Errors are printed once, here, with a
// pointer to the help when the command line itself was wrong.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		fmt.Fprintln(stderr, "signoutbot:", err)
		// Cobra reports an unknown command from the root's argument check; there is no error type to test.
		if strings.HasPrefix(err.Error(), "unknown command ") {
			fmt.Fprintf(stderr, "Run '%s --help' to see the commands.\n", cmd.CommandPath())
		}
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "signoutbot",
		Short:         "Force Microsoft 365 users to sign out, safely, from chat",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("signoutbot {{.Version}}\n")
	// A mistyped flag names the help of the command it was given to.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for its flags", err, cmd.CommandPath())
	})
	root.AddCommand(newDemoCmd(), newServeCmd(), newFakeTenantCmd(), newBenchCmd(), newTeamsPackageCmd(), newAuditCmd())
	return root
}

// version is this build's version: the module version when built from a tagged module (go install …@v1.2.3),
// else "devel" with the commit it was built from, when Go recorded one.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if modified == "true" {
		rev += "+dirty" // built from a work tree with uncommitted changes: the commit alone does not describe it
	}
	return "devel " + rev
}
