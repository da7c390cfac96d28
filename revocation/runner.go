// Package revocation runs approved sign-out requests: it revokes every target through graph, reads each one
// back until Graph confirms signInSessionsValidFromDateTime moved, and announces when every access token
// issued before the revocation has expired. All progress is written to the store first, so a restarted bot
// resumes from the store alone and repeats nothing harmful (revocation is idempotent).
package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// Timer kinds the runner owns.
const (
	TimerRun           = "run"
	TimerVerify        = "verify"
	TimerTokensExpired = "tokens_expired"
)

// Audit event types. A per-user event is named after the target's new status (store.TargetRevoked, …) and
// carries the user in Actor (UserActor); the request-level ones below have no actor. The bot's thread replies
// are rendered from these events, so their meaning is a contract.
const (
	EventStarted       = "started"
	EventDeadline      = "deadline"       // every revocation sent; Request.TokensExpireAt is set
	EventTokensExpired = "tokens_expired" // the deadline passed for the targets it moved to tokens_expired
	EventDone          = "done"
	// EventFailed ends a request in which Graph accepted no revocation at all (Request.Failure says why).
	EventFailed = "request_failed"
	// EventLifetimeUnknown: the token lifetime policies could not be read; the configured default is assumed.
	EventLifetimeUnknown = "lifetime_unknown"
	// EventBlocked: the run cannot go on (the protected accounts cannot be read); it is retried with back-off.
	EventBlocked = "blocked"
	// EventReadFailed: a verification pass could not read some users back from Graph.
	EventReadFailed = "verify_read_failed"
	// EventLate: a scheduled sign-out started later than its time (the bot was not running).
	EventLate = "late"
	// EventDrift: a scheduled sign-out's scope changed between approval and run.
	EventDrift = "drift"
	// EventReminder: a scheduled sign-out will run soon.
	EventReminder = "reminder"
	// EventEstimate compares how long the revocations took with the plan's estimate.
	EventEstimate = "estimate"
)

// Estimate is how long revoking n users takes at rate revocations per second.
func Estimate(n int, rate float64) time.Duration {
	if rate <= 0 {
		rate = 20
	}
	d := time.Duration(float64(n) / rate * float64(time.Second)).Round(time.Second)
	if n > 0 && d < time.Second {
		d = time.Second // "about 0 s" reads as a mistake
	}
	return d
}

// TimerRemind fires the reminders before a scheduled sign-out.
const TimerRemind = "remind"

// Reminders are posted this long before a scheduled sign-out runs.
var reminderOffsets = [...]time.Duration{24 * time.Hour, time.Hour, 10 * time.Minute}

// UserActor is the actor of a per-user event: the user, as Graph knows them.
func UserActor(t store.Target) store.Actor {
	return store.Actor{Platform: "graph", ID: t.UserID, Name: t.UPN}
}

// IsUserEvent reports whether ev records one user's new status (its Type is that status).
func IsUserEvent(ev store.Event) bool { return ev.Actor.Platform == "graph" && ev.Actor.ID != "" }

// NoticeKind says what changed. The bot also uses these kinds to name the kinds of news in a thread.
type NoticeKind string

const (
	NoticeStarted       NoticeKind = "started"
	NoticeProgress      NoticeKind = "progress"
	NoticeFailed        NoticeKind = "failed"    // some targets failed
	NoticeConfirmed     NoticeKind = "confirmed" // some targets were confirmed from Graph
	NoticeRevoked       NoticeKind = "revoked"   // all revocations sent; Request.TokensExpireAt is known
	NoticeTokensExpired NoticeKind = "tokens_expired"
	NoticeExcluded      NoticeKind = "excluded" // some targets became protected after the preview and were left alone
	// NoticeUnconfirmed: some targets were revoked, but Graph never showed it within the verification passes.
	NoticeUnconfirmed NoticeKind = "unconfirmed"
	// NoticeInfo: a request-level event the thread reports (the lifetime assumed, a blocked run, a failed read,
	// a failed request).
	NoticeInfo NoticeKind = "info"
)

// Notice is sent after the change it describes is in the store, where the details are: the audit log has an
// event per user (see UserActor), so a notice lost in a crash loses nothing.
type Notice struct {
	Kind      NoticeKind
	RequestID string
}

// Notifier is told about progress; the bot turns notices into chat messages.
type Notifier interface {
	Notify(ctx context.Context, n Notice)
}

// Runner executes requests.
type Runner struct {
	Store      store.Store
	Dir        graph.Directory
	Protection *scope.Protection
	Clock      clock.Clock
	Notifier   Notifier
	Owner      string // lease owner: this process
	// LeaseTTL is how long a request's lease lasts unrenewed: how soon another replica takes over the work of one
	// that died (default 30 s). Renewed every third of it.
	LeaseTTL time.Duration
	Log      *slog.Logger
	// VerifyBackoff is the wait before each verification pass after the first; the last one repeats.
	VerifyBackoff []time.Duration
	// MaxVerifyPasses bounds the read-backs of one user before it is reported "could not confirm" (default 8:
	// with the default back-off, about 12 minutes, well past Graph's documented "few minutes" of delay).
	MaxVerifyPasses int
	// DefaultTokenLifetime is assumed when the token lifetime policies cannot be read (default 2 h).
	DefaultTokenLifetime time.Duration
	// BlockedBackoff is the wait before each retry of a run that cannot go on; the last one repeats.
	BlockedBackoff []time.Duration
	// FlushEvery is how many revocation results are persisted together (default 20).
	FlushEvery int
	// PageSize is how many targets are read from the store and handled at a time (default revokePage), so that
	// a run, a verification pass or the deadline of a 100,000-user request never holds its whole scope.
	PageSize int
	// ConfirmAfter is how long after its revocation a user is first read back while the run still revokes the
	// others, so confirmations arrive as the run goes (default 500 ms; negative: read-backs start only once every
	// revocation is sent). See confirm.go.
	ConfirmAfter time.Duration
	// ConfirmEvery is the least time between two read-back passes during a run (default 1 s).
	ConfirmEvery time.Duration
	// CrossCheckAfter is how long after a run ends the directory audit log is checked for its revocations (the log
	// shows entries a few minutes late; default 5 min; negative: never).
	CrossCheckAfter time.Duration
	// WriteRate is the pace revocations are sent at (revocations per second, default 20: Graph's ceiling), for
	// estimates of how long a run takes.
	WriteRate float64
	// Rescope resolves a request's scope again at run time, handing its users to fn a page at a time (fn's error
	// stops it and is returned); a scheduled sign-out compares it with what was approved (nil: no comparison).
	Rescope func(ctx context.Context, req store.Request, fn func([]store.Target) error) error

	mu      sync.Mutex
	blocked map[string]blockState // runs that could not go on, by request id: in memory, as a restart retries anyway
	passes  map[string]*passLock  // verification passes under way in this process, by request id
}

type blockState struct {
	failures int
	reason   string
}

// DefaultLeaseTTL bounds how long a crashed replica's lease blocks the others (Runner.LeaseTTL, and the bot's
// other leases, when unset); a live one renews it every third of it.
const DefaultLeaseTTL = 30 * time.Second

func (r *Runner) now() time.Time { return r.Clock.Now() }

func (r *Runner) backoff(pass int) time.Duration {
	b := r.VerifyBackoff
	if len(b) == 0 {
		b = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute}
	}
	return b[min(max(pass, 0), len(b)-1)]
}

func (r *Runner) maxVerifyPasses() int {
	if r.MaxVerifyPasses > 0 {
		return r.MaxVerifyPasses
	}
	return 8
}

func (r *Runner) notify(ctx context.Context, n Notice) {
	if r.Notifier != nil {
		r.Notifier.Notify(ctx, n)
	}
}

// claim takes the request's lease so that two replicas (or two handlers in one) never work on it at once, and
// renews it while the work goes on (a 10,000-user run outlasts the lease many times over). The lease's context
// ends if the lease is lost, so the work stops rather than run beside the replica that took it over.
func (r *Runner) claim(ctx context.Context, id string) (*store.Lease, bool, error) {
	ttl := r.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	owner := r.Owner
	if owner == "" {
		owner = "signoutbot"
	}
	return store.HoldLease(ctx, r.Store, "request:"+id, owner, r.now, ttl, r.Log)
}

// Run revokes every pending target of an approved (or interrupted running) request.
func (r *Runner) Run(ctx context.Context, id string) error {
	lease, ok, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	ctx = store.WithLease(lease.Context(), lease)
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	if req.Kind == store.KindPolicy {
		return r.runPolicy(ctx, req)
	}
	switch req.Status {
	case store.StatusApproved:
		if !req.NotBefore.IsZero() && r.now().Before(req.NotBefore) {
			if err := r.scheduleReminder(ctx, req); err != nil {
				return err
			}
			return r.Store.SetTimer(ctx, store.Timer{Kind: TimerRun, RequestID: id, Due: req.NotBefore})
		}
		if !req.NotBefore.IsZero() {
			blocked, err := r.startScheduled(ctx, req)
			if err != nil || blocked {
				return err
			}
			if req, err = r.Store.GetRequest(ctx, id); err != nil {
				return err
			}
		}
		lt, lifetimeEvent := r.lifetime(ctx, id)
		req.Status, req.StartedAt = store.StatusRunning, r.now()
		req.TokenLifetime, req.LifetimeSource = lt.Lifetime, lt.Source
		events := []store.Event{{At: r.now(), RequestID: id, Type: EventStarted,
			Detail: fmt.Sprintf("revocation started; access tokens live up to %s (%s)", lt.Lifetime, lt.Source)}}
		if lifetimeEvent != nil {
			events = append(events, *lifetimeEvent)
		}
		req, err = r.Store.UpdateRequest(ctx, req, events...)
		if err != nil {
			return fmt.Errorf("run %s: mark running: %w", id, err)
		}
		r.notify(ctx, Notice{Kind: NoticeStarted, RequestID: id})
		if lifetimeEvent != nil {
			r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
		}
	case store.StatusRunning:
		r.Log.Info("resuming request", "request", id)
	default:
		return r.Store.DeleteTimer(ctx, TimerRun, id)
	}
	// Users are read back while the run still revokes others (confirm.go); the confirmer stops with the run.
	c := r.startConfirming(ctx, id)
	defer c.halt()
	blocked, err := r.revokePending(ctx, req, c)
	if err != nil || blocked {
		return err
	}
	if err := r.revocationsSent(ctx, id); err != nil {
		return err
	}
	// After the deadline is stored, so the thread says "every revocation sent" as soon as it is true; Verify's
	// timer, due now, fires only once this handler returns (the scheduler runs one handler per request).
	c.finish()
	return nil
}

// lifetime reads the longest access-token lifetime that can apply. It never holds up a revocation: when the
// policies cannot be read it assumes the configured default and returns an event saying so.
// Lifetime is the longest access-token lifetime that can apply now, never failing: see lifetime.
func (r *Runner) Lifetime(ctx context.Context, id string) (graph.TokenLifetime, *store.Event) {
	return r.lifetime(ctx, id)
}

func (r *Runner) lifetime(ctx context.Context, id string) (graph.TokenLifetime, *store.Event) {
	lt, err := r.Dir.AccessTokenLifetime(ctx)
	if err == nil {
		return lt, nil
	}
	def := r.DefaultTokenLifetime
	if def <= 0 {
		def = 2 * time.Hour
	}
	why := err.Error()
	var ae *graph.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		why = "403: the app lacks Policy.Read.All"
	}
	lt = graph.TokenLifetime{Lifetime: def, Source: fmt.Sprintf("assumed: the token lifetime policies could not be read (%s)", why)}
	r.Log.Warn("token lifetime policies unreadable; assuming the default", "request", id, "err", err, "lifetime", def)
	return lt, &store.Event{At: r.now(), RequestID: id, Type: EventLifetimeUnknown,
		Detail: fmt.Sprintf("could not read the token lifetime policies (%s); assuming the configured default lifetime %s. "+
			"A policy that grants longer tokens would make the deadline below too early.", why, def)}
}

// revocationsSent runs once no target is pending: it sets the deadline, or fails the request when Graph accepted
// no revocation at all.
func (r *Runner) revocationsSent(ctx context.Context, id string) error {
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	// Counted by the store: a 100,000-user scope is never read at once.
	sum, err := r.Store.TargetSummary(ctx, id)
	if err != nil {
		return err
	}
	last, accepted := sum.LastRevokedAt, sum.Revoked
	if accepted == 0 && req.TokensExpireAt.IsZero() {
		return r.fail(ctx, req)
	}
	if req.TokensExpireAt.IsZero() {
		// Counted from when Graph's acceptance arrived: the revocation took effect before that on any clock, so
		// no token issued before it can outlive this moment, however far the bot's clock is from Graph's.
		req.TokensExpireAt = last.Add(req.TokenLifetime)
		ev := store.Event{At: r.now(), RequestID: id, Type: EventDeadline,
			Detail: fmt.Sprintf("every revocation sent; access tokens issued before it expire by %s (lifetime %s, %s)",
				req.TokensExpireAt.UTC().Format(time.RFC3339), req.TokenLifetime, req.LifetimeSource)}
		took := last.Sub(req.StartedAt).Round(time.Second)
		estimate := store.Event{At: r.now(), RequestID: id, Type: EventEstimate,
			Detail: fmt.Sprintf("revoking %d %s took %s; the plan said about %s at %g per second", accepted, plural(accepted, "user"),
				humanSeconds(took), humanSeconds(Estimate(accepted, r.WriteRate)), rateOrDefault(r.WriteRate))}
		if req, err = r.Store.UpdateRequest(ctx, req, ev, estimate); err != nil {
			return fmt.Errorf("run %s: deadline: %w", id, err)
		}
		if err := r.Store.SetTimer(ctx, store.Timer{Kind: TimerTokensExpired, RequestID: id, Due: req.TokensExpireAt}); err != nil {
			return err
		}
		r.notify(ctx, Notice{Kind: NoticeRevoked, RequestID: id})
	} else if err := r.Store.SetTimer(ctx, store.Timer{Kind: TimerTokensExpired, RequestID: id, Due: req.TokensExpireAt}); err != nil {
		// A resumed run sets the deadline again in case it was lost; firing it twice changes nothing.
		return err
	}
	if err := r.Store.SetTimer(ctx, store.Timer{Kind: TimerVerify, RequestID: id, Due: r.now()}); err != nil {
		return err
	}
	return r.Store.DeleteTimer(ctx, TimerRun, id)
}

// permissionHint names what to grant for a 403 from revokeSignInSessions.
const permissionHint = "grant the app the Microsoft Graph application permission User.RevokeSessions.All (with admin consent)"

// fail ends a request in which Graph accepted no revocation: nobody was signed out, and the reason is Graph's.
func (r *Runner) fail(ctx context.Context, req store.Request) error {
	reasons := map[string]int{}
	var order []string
	forbidden := false
	for after := -1; ; {
		page, err := r.Store.TargetsPage(ctx, req.ID, after, r.pageSize(), store.TargetFailed, store.TargetExcluded)
		if err != nil {
			return fmt.Errorf("run %s: fail: %w", req.ID, err)
		}
		for _, t := range page {
			if _, seen := reasons[t.Detail]; !seen {
				order = append(order, t.Detail)
			}
			reasons[t.Detail]++
			forbidden = forbidden || strings.HasPrefix(t.Detail, "forbidden")
		}
		if len(page) < r.pageSize() {
			break
		}
		after = page[len(page)-1].Seq
	}
	parts := make([]string, 0, len(order))
	for _, d := range order {
		parts = append(parts, fmt.Sprintf("%s (%d)", d, reasons[d]))
	}
	failure := "Graph accepted no revocation: " + strings.Join(parts, "; ")
	if len(parts) == 0 {
		failure = "Graph accepted no revocation"
	}
	if forbidden {
		failure += ". To fix: " + permissionHint
	}
	req.Status, req.FinishedAt, req.Failure = store.StatusFailed, r.now(), failure
	if _, err := r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: req.ID, Type: EventFailed, Detail: failure}); err != nil {
		return fmt.Errorf("run %s: fail: %w", req.ID, err)
	}
	for _, kind := range []string{TimerRun, TimerVerify, TimerTokensExpired} {
		if err := r.Store.DeleteTimer(ctx, kind, req.ID); err != nil {
			return err
		}
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
	return nil
}

// block records that a run cannot go on and schedules its retry with back-off. The thread hears of it at once,
// and again only when the reason changes, so an outage does not flood the channel.
func (r *Runner) block(ctx context.Context, req store.Request, cause error) error {
	r.mu.Lock()
	if r.blocked == nil {
		r.blocked = make(map[string]blockState)
	}
	st := r.blocked[req.ID]
	st.failures++
	announce := st.reason != cause.Error()
	st.reason = cause.Error()
	r.blocked[req.ID] = st
	r.mu.Unlock()
	b := r.BlockedBackoff
	if len(b) == 0 {
		b = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute}
	}
	wait := b[min(st.failures-1, len(b)-1)]
	r.Log.Error("run blocked", "request", req.ID, "err", cause, "retry_in", wait)
	if announce {
		ev := store.Event{At: r.now(), RequestID: req.ID, Type: EventBlocked,
			Detail: fmt.Sprintf("nobody is being revoked: %v. The protected accounts must be known before anyone is signed out; "+
				"I keep trying (next in %s).", cause, wait)}
		if err := r.Store.AppendEvent(ctx, ev); err != nil {
			return err
		}
		r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
	}
	return r.Store.SetTimer(ctx, store.Timer{Kind: TimerRun, RequestID: req.ID, Due: r.now().Add(wait)})
}

func (r *Runner) unblock(id string) {
	r.mu.Lock()
	delete(r.blocked, id)
	r.mu.Unlock()
}

// revokePage is how many targets a run reads and sends to Graph at a time: a 100,000-user scope is never in
// memory at once, and at Graph's 20 revocations per second a page lasts minutes, so the pause between two pages
// (the last $batch of one answered before the next is sent) costs well under a percent of the write ceiling.
const revokePage = 2000

func (r *Runner) pageSize() int {
	if r.PageSize > 0 {
		return r.PageSize
	}
	return revokePage
}

// revokePending sends the pending targets to Graph a page at a time, persisting results in groups as they
// arrive. blocked is true when the run cannot go on yet (its retry is scheduled).
func (r *Runner) revokePending(ctx context.Context, req store.Request, c *confirmer) (blocked bool, err error) {
	protected, err := r.Protection.Set(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return true, r.block(ctx, req, err)
	}
	r.unblock(req.ID)
	// Revoked by an earlier attempt of this run (a crash, a restart): read back at once.
	for after := -1; ; {
		gen := c.generation()
		page, err := r.Store.TargetsPage(ctx, req.ID, after, r.pageSize(), store.TargetRevoked)
		if err != nil {
			return false, err
		}
		c.add(page, 0, gen)
		if len(page) < r.pageSize() {
			break
		}
		after = page[len(page)-1].Seq
	}
	for after := -1; ; {
		page, err := r.Store.TargetsPage(ctx, req.ID, after, r.pageSize(), store.TargetPending)
		if err != nil {
			return false, err
		}
		if len(page) == 0 {
			return false, nil
		}
		after = page[len(page)-1].Seq
		if err := r.revokeTargets(ctx, req, page, protected, c); err != nil {
			return false, err
		}
		if len(page) < r.pageSize() {
			return false, nil
		}
	}
}

// revokeTargets revokes one page of pending targets, leaving alone those that became protected since the preview.
func (r *Runner) revokeTargets(ctx context.Context, req store.Request, targets []store.Target, protected map[string]bool, c *confirmer) error {
	byID := make(map[string]store.Target, len(targets))
	ids := make([]string, 0, len(targets))
	var guarded []store.Target
	for _, t := range targets {
		// Checked again here, not only at preview: membership of a protected group may have changed since.
		if scope.Protected(protected, t) {
			t.Status, t.Detail, t.UpdatedAt = store.TargetExcluded, scope.ReasonProtected, r.now()
			guarded = append(guarded, t)
			continue
		}
		byID[t.UserID] = t
		ids = append(ids, t.UserID)
	}
	if len(guarded) > 0 {
		events := make([]store.Event, 0, len(guarded))
		for _, t := range guarded {
			events = append(events, store.Event{At: r.now(), RequestID: req.ID, Type: string(t.Status), Actor: UserActor(t),
				Detail: t.UPN + ": became protected after the preview and was left alone"})
		}
		if err := r.Store.UpdateTargets(ctx, guarded, events...); err != nil {
			return err
		}
		r.notify(ctx, Notice{Kind: NoticeExcluded, RequestID: req.ID})
	}
	if len(ids) == 0 {
		return nil
	}
	return r.send(ctx, req, ids, byID, c)
}

// send revokes ids through Graph and persists each result as it arrives; c reads the revoked ones back.
func (r *Runner) send(ctx context.Context, req store.Request, ids []string, byID map[string]store.Target, c *confirmer) error {
	flush := r.FlushEvery
	if flush <= 0 {
		flush = 20
	}
	results := make(chan graph.RevokeResult, flush*2)
	revokeErr := make(chan error, 1)
	go func() {
		_, err := r.Dir.RevokeSessions(ctx, ids, func(res graph.RevokeResult) { results <- res })
		close(results)
		revokeErr <- err
	}()
	var batch []store.Target
	var events []store.Event
	failed := false // in this batch, so the thread hears of it now
	persist := func() error {
		if len(batch) == 0 {
			return nil
		}
		gen := c.generation()
		if err := store.Fence(ctx); err != nil {
			return fmt.Errorf("run %s: results not recorded: %w", req.ID, err)
		}
		if err := r.Store.UpdateTargets(context.WithoutCancel(ctx), batch, events...); err != nil {
			return fmt.Errorf("run %s: persist results: %w", req.ID, err)
		}
		c.add(batch, r.confirmAfter(), gen)
		r.notify(ctx, Notice{Kind: NoticeProgress, RequestID: req.ID})
		if failed {
			r.notify(ctx, Notice{Kind: NoticeFailed, RequestID: req.ID})
		}
		batch, events, failed = nil, nil, false
		return nil
	}
	var persistErr error
	for res := range results {
		t := applyResult(byID[res.UserID], res, r.now())
		batch = append(batch, t)
		events = append(events, store.Event{At: r.now(), RequestID: req.ID, Type: string(t.Status),
			Detail: t.UPN + ": " + describe(t), Actor: UserActor(t)})
		if t.Status == store.TargetFailed {
			failed = true
		}
		if len(batch) >= flush && persistErr == nil {
			persistErr = persist()
		}
	}
	if persistErr == nil {
		persistErr = persist()
	}
	if err := <-revokeErr; err != nil && !errors.Is(err, context.Canceled) {
		return errors.Join(persistErr, fmt.Errorf("run %s: %w", req.ID, err))
	}
	if persistErr != nil {
		return persistErr
	}
	return ctx.Err()
}

func applyResult(t store.Target, res graph.RevokeResult, now time.Time) store.Target {
	t.Attempts += res.Attempts
	t.UpdatedAt = now
	switch res.Outcome {
	case graph.OutcomeRevoked:
		t.RevokedAt = res.AckedAt.UTC()
		if t.RevokedAt.IsZero() {
			t.RevokedAt = now.UTC()
		}
		// Confirmation compares Graph's read-back with Graph's own clock. Without a Date header there is no
		// reading of Graph's clock, so the host's send time (truncated to Graph's whole seconds) stands in.
		t.GraphRevokedAt = res.GraphAt.UTC()
		if t.GraphRevokedAt.IsZero() {
			t.GraphRevokedAt = res.At.UTC().Truncate(time.Second)
		}
		t.Status = store.TargetRevoked
		if t.Guest {
			t.Status = store.TargetGuest
			t.Detail = GuestDetail(t)
		}
	case graph.OutcomeNotFound:
		t.Status, t.Detail = store.TargetFailed, "not found: "+strings.TrimSpace(res.Code+" "+res.Message)
	case graph.OutcomeForbidden:
		t.Status, t.Detail = store.TargetFailed, "forbidden: "+strings.TrimSpace(res.Code+" "+res.Message)+
			" (the app needs User.RevokeSessions.All)"
	default:
		t.Status, t.Detail = store.TargetFailed, strings.TrimSpace(fmt.Sprintf("HTTP %d %s %s", res.Status, res.Code, res.Message))
	}
	return t
}

// GuestDetail is why a guest or B2B external member is not signed out by this tenant's revocation.
func GuestDetail(t store.Target) string {
	if t.External {
		return "not signed out: external member — revoke in the home tenant"
	}
	return "not signed out: guest — revoke in the home tenant"
}

func describe(t store.Target) string {
	if t.Detail != "" {
		return string(t.Status) + " (" + t.Detail + ")"
	}
	return string(t.Status)
}

// startScheduled runs once a scheduled sign-out's time has come: it says how late it is when the bot was down at
// that time, and resolves the scope again. Users who left the scope since the approval are skipped; users who
// joined are not signed out, because nobody approved them: both are listed. It never revokes anyone nobody
// approved.
func (r *Runner) startScheduled(ctx context.Context, req store.Request) (blocked bool, err error) {
	now := r.now()
	var events []store.Event
	if late := now.Sub(req.NotBefore); late > time.Minute {
		events = append(events, store.Event{At: now, RequestID: req.ID, Type: EventLate,
			Detail: fmt.Sprintf("starting %s after its scheduled time: the bot was not running then", late.Round(time.Second))})
	}
	skipped := 0
	if r.Rescope != nil {
		// The scope as it is now, a page at a time: only its users' ids are kept, and the first users who joined.
		inFresh := make(map[string]bool)
		var joined []string
		joinedN := 0
		err := r.Rescope(ctx, req, func(page []store.Target) error {
			ids := make([]string, 0, len(page))
			for _, t := range page {
				if t.Status != store.TargetExcluded {
					inFresh[strings.ToLower(t.UserID)] = true
					ids = append(ids, t.UserID)
				}
			}
			approved, err := r.Store.TargetsOf(ctx, req.ID, ids)
			if err != nil {
				return err
			}
			inApproved := make(map[string]bool, len(approved))
			for _, t := range approved {
				inApproved[strings.ToLower(t.UserID)] = true
			}
			for _, t := range page {
				if t.Status != store.TargetExcluded && !inApproved[strings.ToLower(t.UserID)] {
					if joinedN++; len(joined) < driftNames {
						joined = append(joined, t.UPN)
					}
				}
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return true, r.block(ctx, req, fmt.Errorf("cannot resolve the scope again before the scheduled run: %w", err))
		}
		// Who left: the approved users still pending, a page at a time, each page stored with its events. (A crash
		// part-way leaves the rest to the next attempt, which skips them then.)
		for after := -1; ; {
			page, err := r.Store.TargetsPage(ctx, req.ID, after, r.pageSize(), store.TargetPending)
			if err != nil {
				return false, err
			}
			now := r.now()
			var left []store.Target
			var leftEvents []store.Event
			for _, t := range page {
				if !inFresh[strings.ToLower(t.UserID)] {
					t.Status, t.Detail, t.UpdatedAt = store.TargetExcluded, "left the scope after the approval: skipped", now
					left = append(left, t)
					leftEvents = append(leftEvents, store.Event{At: now, RequestID: req.ID, Type: string(t.Status), Actor: UserActor(t),
						Detail: t.UPN + ": " + t.Detail})
				}
			}
			if len(left) > 0 {
				if err := r.Store.UpdateTargets(ctx, left, leftEvents...); err != nil {
					return false, err
				}
				skipped += len(left)
			}
			if len(page) < r.pageSize() {
				break
			}
			after = page[len(page)-1].Seq
		}
		if skipped > 0 || joinedN > 0 {
			events = append(events, store.Event{At: r.now(), RequestID: req.ID, Type: EventDrift, Detail: driftText(skipped, joined, joinedN)})
		}
	}
	if len(events) == 0 {
		return false, nil
	}
	if err := r.Store.UpdateTargets(ctx, nil, events...); err != nil {
		return false, err
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
	if skipped > 0 {
		r.notify(ctx, Notice{Kind: NoticeExcluded, RequestID: req.ID})
	}
	return false, nil
}

// driftNames is how many of the users who joined a scheduled scope since its approval the thread names.
const driftNames = 20

// driftText says how a scheduled scope changed: skipped users left it; joined names the first of the joinedN users
// who joined it.
func driftText(skipped int, joined []string, joinedN int) string {
	var parts []string
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d left the scope since the approval and %s skipped", skipped,
			map[bool]string{true: "is", false: "are"}[skipped == 1]))
	}
	if joinedN > 0 {
		names := joined
		if joinedN > len(names) {
			names = append(names[:len(names):len(names)], fmt.Sprintf("and %d more", joinedN-len(names)))
		}
		parts = append(parts, fmt.Sprintf("%d joined since the approval and %s NOT signed out, because nobody approved them "+
			"(ask again for them): %s", joinedN, map[bool]string{true: "is", false: "are"}[joinedN == 1], strings.Join(names, ", ")))
	}
	return "The scope changed between the approval and the run: " + strings.Join(parts, "; ") + "."
}

// nextReminder is the next reminder due before a sign-out scheduled at at, seen at now (zero: none left).
func nextReminder(at, now time.Time) time.Time {
	for _, off := range reminderOffsets {
		if due := at.Add(-off); due.After(now) {
			return due
		}
	}
	return time.Time{}
}

func (r *Runner) scheduleReminder(ctx context.Context, req store.Request) error {
	due := nextReminder(req.NotBefore, r.now())
	if due.IsZero() {
		return r.Store.DeleteTimer(ctx, TimerRemind, req.ID)
	}
	return r.Store.SetTimer(ctx, store.Timer{Kind: TimerRemind, RequestID: req.ID, Due: due})
}

// Remind posts a reminder of an approved scheduled sign-out in its thread, and sets the next one.
func (r *Runner) Remind(ctx context.Context, id string) error {
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if req.Status != store.StatusApproved || req.NotBefore.IsZero() || !r.now().Before(req.NotBefore) {
		return r.Store.DeleteTimer(ctx, TimerRemind, id)
	}
	left := humanDuration(req.NotBefore.Sub(r.now()))
	if err := r.Store.AppendEvent(ctx, store.Event{At: r.now(), RequestID: id, Type: EventReminder,
		Detail: fmt.Sprintf("this sign-out runs in %s (cancel it with /signout cancel %s until then)", left, id)}); err != nil {
		return err
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
	if err := r.Store.DeleteTimer(ctx, TimerRemind, id); err != nil {
		return err
	}
	return r.scheduleReminder(ctx, req)
}

// humanDuration is a wait as people say it: "24 h", "1 h 5 min", "10 min".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d min", m)
}

// humanSeconds is a run's length as people say it: "8 min 20 s", "45 s".
func humanSeconds(d time.Duration) string {
	if d < time.Second {
		return "under 1 s"
	}
	d = d.Round(time.Second)
	m, s := d/time.Minute, (d%time.Minute)/time.Second
	switch {
	case m >= 60:
		return humanDuration(d)
	case m > 0 && s > 0:
		return fmt.Sprintf("%d min %d s", m, s)
	case m > 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d s", s)
}

func rateOrDefault(r float64) float64 {
	if r <= 0 {
		return 20
	}
	return r
}
