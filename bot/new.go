package bot

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// Config is what NewApp wires together.
type Config struct {
	Store     store.Store
	Dir       graph.Directory
	Protected []string // SIGNOUTBOT_PROTECTED: UPNs and group names or ids
	// AdminIDs, AdminUserGroups and AdminEntraGroup configure ConfigAdmins (SIGNOUTBOT_ADMINS, SIGNOUTBOT_ADMIN_GROUP).
	AdminIDs        []string
	AdminUserGroups []string
	AdminEntraGroup string
	Policy          approvals.Policy
	Clock           clock.Clock
	Log             *slog.Logger
	// Owner names this process in work leases (default hostname:pid).
	Owner string
	// VerifyBackoff tunes the runner (see revocation.Runner).
	VerifyBackoff   []time.Duration
	MinEditInterval time.Duration
	// ThreadRetry is how long thread replies that chat refused wait before the next try (default 1 min).
	ThreadRetry time.Duration
}

// NewApp builds the core with its runner and admin rules.
func NewApp(c Config) *App {
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if c.MinEditInterval == 0 {
		c.MinEditInterval = time.Second
	}
	if c.ThreadRetry == 0 {
		c.ThreadRetry = time.Minute
	}
	prot := scope.NewProtection(c.Dir, c.Protected)
	a := &App{Store: c.Store, Dir: c.Dir, Protection: prot, Policy: c.Policy.WithDefaults(), Clock: c.Clock, Log: c.Log,
		MinEditInterval: c.MinEditInterval, ThreadRetry: c.ThreadRetry}
	a.Runner = &revocation.Runner{Store: c.Store, Dir: c.Dir, Protection: prot, Clock: c.Clock, Notifier: a, Owner: c.Owner,
		Log: c.Log, VerifyBackoff: c.VerifyBackoff}
	a.Admins = &ConfigAdmins{IDs: c.AdminIDs, UserGroups: c.AdminUserGroups, EntraGroup: c.AdminEntraGroup, Dir: c.Dir, App: a}
	return a
}
