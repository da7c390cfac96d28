package bot

import (
	"context"
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
	Protected []string // SIGNOUTBOT_PROTECTED: UPNs and group names or ids, resolved to ids by NewApp
	// AdminIDs, AdminUserGroups and AdminEntraGroup configure ConfigAdmins (SIGNOUTBOT_ADMINS, SIGNOUTBOT_ADMIN_GROUP).
	AdminIDs        []string
	AdminUserGroups []string
	AdminEntraGroup string
	// TeamsAdmins are Entra object ids of admins on Teams (SIGNOUTBOT_TEAMS_ADMINS).
	TeamsAdmins []string
	// Identities maps chat user ids to Entra UPNs or object ids (SIGNOUTBOT_IDENTITIES).
	Identities map[string]string
	Policy     approvals.Policy
	Clock      clock.Clock
	Log        *slog.Logger
	// Owner names this process in work leases (default hostname:pid).
	Owner string
	// VerifyBackoff and MaxVerifyPasses tune the runner (see revocation.Runner).
	VerifyBackoff   []time.Duration
	MaxVerifyPasses int
	// DefaultTokenLifetime is assumed when the token lifetime policies cannot be read (SIGNOUTBOT_TOKEN_LIFETIME).
	DefaultTokenLifetime time.Duration
	MinEditInterval      time.Duration
	// ThreadRetry is how long thread replies that chat refused wait before the next try (default 1 min).
	ThreadRetry time.Duration
	// ChatTimeout bounds every call to a chat platform (default 20 s), so a slow chat API never holds up work.
	ChatTimeout time.Duration
	// WriteRate is the pace revocations are sent at (SIGNOUTBOT_WRITE_RATE, default 20 per second).
	WriteRate float64
	// CrossCheckAfter: when the directory audit log is checked after a run (SIGNOUTBOT_AUDIT_CROSSCHECK; default
	// 5 min, negative: never).
	CrossCheckAfter time.Duration
}

// NewApp builds the core with its runner and admin rules. It resolves the protected accounts and the admin group
// to object ids first: an entry that names nobody, or a group name shared by several groups, is an error, so a
// typo never protects nobody and a look-alike group created later changes nothing.
func NewApp(ctx context.Context, c Config) (*App, error) {
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
	if c.ChatTimeout == 0 {
		c.ChatTimeout = 20 * time.Second
	}
	prot, err := scope.ResolveProtection(ctx, c.Dir, c.Protected)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	adminGroupID := ""
	if c.AdminEntraGroup != "" {
		g, err := c.Dir.ResolveGroup(ctx, c.AdminEntraGroup)
		if err != nil {
			return nil, fmt.Errorf("configuration: SIGNOUTBOT_ADMIN_GROUP: %w", err)
		}
		adminGroupID = g.ID
	}
	a := &App{Store: c.Store, Dir: c.Dir, Protection: prot, Policy: c.Policy.WithDefaults(), Clock: c.Clock, Log: c.Log,
		MinEditInterval: c.MinEditInterval, ThreadRetry: c.ThreadRetry, ChatTimeout: c.ChatTimeout, WriteRate: c.WriteRate}
	a.Runner = &revocation.Runner{Store: c.Store, Dir: c.Dir, Protection: prot, Clock: c.Clock, Notifier: a, Owner: c.Owner,
		Log: c.Log, VerifyBackoff: c.VerifyBackoff, MaxVerifyPasses: c.MaxVerifyPasses, DefaultTokenLifetime: c.DefaultTokenLifetime,
		WriteRate: c.WriteRate, CrossCheckAfter: c.CrossCheckAfter}
	a.Runner.Rescope = a.rescope
	a.Admins = &ConfigAdmins{IDs: c.AdminIDs, EntraIDs: c.TeamsAdmins, UserGroups: c.AdminUserGroups, EntraGroupID: adminGroupID,
		Dir: c.Dir, App: a}
	a.Identities = &Identities{Map: c.Identities, Dir: c.Dir, App: a}
	return a, nil
}
