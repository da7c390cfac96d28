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
	"strings"
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
)

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
	Log        *slog.Logger
	// VerifyBackoff is the wait before each verification pass after the first; the last one repeats.
	VerifyBackoff []time.Duration
	// FlushEvery is how many revocation results are persisted together (default 20).
	FlushEvery int
}

// leaseTTL bounds how long a crashed replica's claim blocks the others; a live one renews it every third of it.
const leaseTTL = 30 * time.Second

func (r *Runner) now() time.Time { return r.Clock.Now() }

func (r *Runner) backoff(pass int) time.Duration {
	b := r.VerifyBackoff
	if len(b) == 0 {
		b = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute}
	}
	return b[min(pass, len(b)-1)]
}

func (r *Runner) notify(ctx context.Context, n Notice) {
	if r.Notifier != nil {
		r.Notifier.Notify(ctx, n)
	}
}

// claim takes the request's lease so that two replicas never run it at once, and renews it while the work
// goes on (a 10,000-user run outlasts the lease many times over).
func (r *Runner) claim(ctx context.Context, id string) (bool, func(), error) {
	name := "request:" + id
	ok, err := r.Store.Claim(ctx, name, r.Owner, r.now(), leaseTTL)
	if err != nil || !ok {
		return false, func() {}, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := r.Store.Claim(ctx, name, r.Owner, r.now(), leaseTTL); err != nil || !ok {
					r.Log.Error("lease lost", "request", id, "err", err)
				}
			}
		}
	}()
	return true, func() {
		close(stop)
		<-done
		if err := r.Store.Release(context.WithoutCancel(ctx), name, r.Owner); err != nil {
			r.Log.Warn("release lease", "request", id, "err", err)
		}
	}, nil
}

// Run revokes every pending target of an approved (or interrupted running) request.
func (r *Runner) Run(ctx context.Context, id string) error {
	ok, release, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer release()
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	switch req.Status {
	case store.StatusApproved:
		if !req.NotBefore.IsZero() && r.now().Before(req.NotBefore) {
			return r.Store.SetTimer(ctx, store.Timer{Kind: TimerRun, RequestID: id, Due: req.NotBefore})
		}
		lt, err := r.Dir.AccessTokenLifetime(ctx)
		if err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		req.Status, req.StartedAt = store.StatusRunning, r.now()
		req.TokenLifetime, req.LifetimeSource = lt.Lifetime, lt.Source
		req, err = r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: id, Type: EventStarted,
			Detail: fmt.Sprintf("revocation started; access tokens live up to %s (%s)", lt.Lifetime, lt.Source)})
		if err != nil {
			return fmt.Errorf("run %s: mark running: %w", id, err)
		}
		r.notify(ctx, Notice{Kind: NoticeStarted, RequestID: id})
	case store.StatusRunning:
		r.Log.Info("resuming request", "request", id)
	default:
		return r.Store.DeleteTimer(ctx, TimerRun, id)
	}
	if err := r.revokePending(ctx, req); err != nil {
		return err
	}
	if req, err = r.Store.GetRequest(ctx, id); err != nil {
		return err
	}
	targets, err := r.Store.Targets(ctx, id)
	if err != nil {
		return err
	}
	var last time.Time
	for _, t := range targets {
		if t.RevokedAt.After(last) {
			last = t.RevokedAt
		}
	}
	if req.TokensExpireAt.IsZero() {
		if !last.IsZero() {
			req.TokensExpireAt = last.Add(req.TokenLifetime)
		} else {
			req.TokensExpireAt = r.now() // nothing was revoked: nothing to wait for
		}
		ev := store.Event{At: r.now(), RequestID: id, Type: EventDeadline,
			Detail: fmt.Sprintf("every revocation sent; access tokens issued before it expire by %s (lifetime %s, %s)",
				req.TokensExpireAt.UTC().Format(time.RFC3339), req.TokenLifetime, req.LifetimeSource)}
		if req, err = r.Store.UpdateRequest(ctx, req, ev); err != nil {
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

// revokePending sends the pending targets to Graph, persisting results in groups as they arrive.
func (r *Runner) revokePending(ctx context.Context, req store.Request) error {
	targets, err := r.Store.Targets(ctx, req.ID)
	if err != nil {
		return err
	}
	protected, err := r.Protection.Set(ctx)
	if err != nil {
		return fmt.Errorf("run %s: %w", req.ID, err)
	}
	byID := make(map[string]store.Target)
	var ids []string
	var guarded []store.Target
	for _, t := range targets {
		if t.Status != store.TargetPending {
			continue
		}
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
		if err := r.Store.UpdateTargets(context.WithoutCancel(ctx), batch, events...); err != nil {
			return fmt.Errorf("run %s: persist results: %w", req.ID, err)
		}
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
		t.RevokedAt = res.At.UTC()
		t.Status = store.TargetRevoked
		if t.Guest {
			t.Status = store.TargetGuest
			t.Detail = "not signed out: guest — revoke in the home tenant"
		}
	case graph.OutcomeNotFound:
		t.Status, t.Detail = store.TargetFailed, "not found: "+strings.TrimSpace(res.Code+" "+res.Message)
	case graph.OutcomeForbidden:
		t.Status, t.Detail = store.TargetFailed, "forbidden: "+strings.TrimSpace(res.Code+" "+res.Message)
	default:
		t.Status, t.Detail = store.TargetFailed, strings.TrimSpace(fmt.Sprintf("HTTP %d %s %s", res.Status, res.Code, res.Message))
	}
	return t
}

func describe(t store.Target) string {
	if t.Detail != "" {
		return string(t.Status) + " (" + t.Detail + ")"
	}
	return string(t.Status)
}
