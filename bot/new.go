package bot

import (
	"context"
	"crypto/rand"
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
	// Owner names this process in work leases and timer claims (default hostname:pid:random, unique per start).
	Owner string
	// LeaseTTL is how long a replica's lease on a request's work, and its claim on a due timer, last unrenewed:
	// how soon another replica takes over from one that died (SIGNOUTBOT_LEASE_TTL, default 30 s).
	LeaseTTL time.Duration
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
	// FileKey signs report download links (SIGNOUTBOT_FILE_KEY, else a key kept in the store); PublicURL is the
	// bot's public address they start with (SIGNOUTBOT_PUBLIC_URL; "" makes no links); FileLinkTTL is how long
	// one works (DefaultFileLinkTTL when 0).
	FileKey     []byte
	PublicURL   string
	FileLinkTTL time.Duration
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
		var b [3]byte
		_, _ = rand.Read(b[:])
		c.Owner = fmt.Sprintf("%s:%d:%x", host, os.Getpid(), b)
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
		MinEditInterval: c.MinEditInterval, ThreadRetry: c.ThreadRetry, ChatTimeout: c.ChatTimeout, WriteRate: c.WriteRate,
		Owner: c.Owner, LeaseTTL: c.LeaseTTL,
		Files: FileLinks{Key: c.FileKey, BaseURL: c.PublicURL, TTL: c.FileLinkTTL}}
	a.Runner = &revocation.Runner{Store: c.Store, Dir: c.Dir, Protection: prot, Clock: c.Clock, Notifier: a, Owner: c.Owner, LeaseTTL: c.LeaseTTL,
		Log: c.Log, VerifyBackoff: c.VerifyBackoff, MaxVerifyPasses: c.MaxVerifyPasses, DefaultTokenLifetime: c.DefaultTokenLifetime,
		WriteRate: c.WriteRate, CrossCheckAfter: c.CrossCheckAfter}
	a.Runner.Rescope = a.rescope
	a.Admins = &ConfigAdmins{IDs: c.AdminIDs, EntraIDs: c.TeamsAdmins, UserGroups: c.AdminUserGroups, EntraGroupID: adminGroupID,
		Dir: c.Dir, App: a}
	a.Identities = &Identities{Map: c.Identities, Dir: c.Dir, App: a}
	return a, nil
}
