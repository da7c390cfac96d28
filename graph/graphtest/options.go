package graphtest

import (
	"io"
	"log/slog"
	"time"
)

// Options configures a simulated tenant. Zero values select the defaults
// documented on each field; negative values mean "none"/"unlimited" where noted.
type Options struct {
	Users            int           // generated filler users; default 300 (negative: none)
	BigGroupSize     int           // members of the big scale-test group GroupBig; default 5000 (negative: empty)
	TenantID         string        // default DefaultTenantID
	Domain           string        // default "contoso.com"
	Latency          time.Duration // added to every HTTP request (once per $batch, not per item)
	WriteBudget      int           // default 3000 (negative: unlimited) ...
	WriteWindow      time.Duration // ... per 150s (token bucket: capacity WriteBudget, refill WriteBudget/WriteWindow)
	ReadBudget       int           // resource units, default 8000 (negative: unlimited) ...
	ReadWindow       time.Duration // ... per 10s
	AuditBudget      int           // directory audit log requests, default 5 (negative: unlimited) ...
	AuditWindow      time.Duration // ... per 10s: the reporting API's limit per app per tenant
	FaultRate        float64       // probability [0,1] that a Graph request / batch item answers 503 (Retry-After: 1)
	ReplicationDelay time.Duration // after a revoke, reads keep showing the old signInSessionsValidFromDateTime this long
	Seed             int64         // generated names, IDs and fault randomness; default 1
	Now              func() time.Time
	// ClockOffset makes the simulated Graph's clock run this far ahead of Now (negative: behind), as a real
	// tenant's clock can differ from the bot host's. Date headers, signInSessionsValidFromDateTime,
	// innerError.date, token times and the sample's timestamps follow the shifted clock; throttling windows
	// do not need to (they measure durations). See also Server.SetClockOffset.
	ClockOffset time.Duration
	Logger      *slog.Logger // default discards
}

// Defaults for Options.
const (
	DefaultTenantID     = "8f6c0a9e-4d2b-4c1e-9a37-5b1f2e3d4c5a"
	DefaultDomain       = "contoso.com"
	DefaultUsers        = 300
	DefaultBigGroupSize = 5000
	DefaultWriteBudget  = 3000
	DefaultWriteWindow  = 150 * time.Second
	DefaultReadBudget   = 8000
	DefaultReadWindow   = 10 * time.Second
	DefaultAuditBudget  = 5
	DefaultAuditWindow  = 10 * time.Second

	// AppClientID is the application registered in every simulated tenant.
	AppClientID = "5f0e7c1a-1b2c-4d3e-8f90-a1b2c3d4e5f6"
	// AppDisplayName is that application's name, as the directory audit log shows its initiator.
	AppDisplayName = "signoutbot"
	// AppClientSecret is that application's secret. It is deliberately not a
	// secret: the simulated tenant publishes it on a well-known endpoint.
	AppClientSecret = "sim~SignoutbotSimulatedTenant.NotASecret-7Qx2"
	// appObjectID is the service principal's object id, used as the oid claim.
	appObjectID = "0c4b7e2d-6a1f-4e59-b8d3-2f7a9c1e5d60"
)

func (o Options) withDefaults() Options {
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.Users < 0 {
		o.Users = 0
	}
	if o.BigGroupSize == 0 {
		o.BigGroupSize = DefaultBigGroupSize
	}
	if o.BigGroupSize < 0 {
		o.BigGroupSize = 0
	}
	if o.TenantID == "" {
		o.TenantID = DefaultTenantID
	}
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	if o.WriteBudget == 0 {
		o.WriteBudget = DefaultWriteBudget
	}
	if o.WriteWindow <= 0 {
		o.WriteWindow = DefaultWriteWindow
	}
	if o.ReadBudget == 0 {
		o.ReadBudget = DefaultReadBudget
	}
	if o.ReadWindow <= 0 {
		o.ReadWindow = DefaultReadWindow
	}
	if o.AuditBudget == 0 {
		o.AuditBudget = DefaultAuditBudget
	}
	if o.AuditWindow <= 0 {
		o.AuditWindow = DefaultAuditWindow
	}
	o.FaultRate = clampProbability(o.FaultRate)
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

func clampProbability(p float64) float64 {
	switch {
	case p != p || p < 0: // NaN counts as "no faults"
		return 0
	case p > 1:
		return 1
	}
	return p
}
