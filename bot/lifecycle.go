package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// botActor is the bot itself in the audit log, for what it decides on its own.
var botActor = store.Actor{Platform: "signoutbot", ID: "signoutbot", Name: "signoutbot"}

// approve records p's approval and, once enough distinct people approved, moves the request to approved and
// schedules its run. The rules are approvals' pure functions; the store's compare-and-swap makes racing
// approvers act once.
func (a *App) approve(ctx context.Context, respond func(context.Context, Message) error, p approvals.Principal, req store.Request) {
	ap, ev, err := approvals.Approve(req, p, a.now())
	if err != nil {
		a.refused(ctx, respond, p.Actor, req.ID, err)
		return
	}
	err = a.Store.AddApproval(ctx, req.ID, ap, ev)
	if errors.Is(err, store.ErrDuplicate) {
		// A double click, or a second chat account of someone who already approved: the first one counted.
		a.respond(ctx, respond, fmt.Sprintf("You have already approved request %s.", req.ID))
		return
	}
	if err != nil {
		a.refused(ctx, respond, p.Actor, req.ID, err)
		return
	}
	if err := a.settleQuorum(ctx, req.ID, p.Actor); err != nil {
		a.refused(ctx, respond, p.Actor, req.ID, err)
		return
	}
	a.refresh(ctx, req.ID)
}

// settleQuorum moves a pending request with enough approvals to approved and schedules its run. It is safe to
// call any number of times: the first caller that finds the quorum complete moves it, the others find it moved.
func (a *App) settleQuorum(ctx context.Context, id string, by store.Actor) error {
	r, err := store.Modify(ctx, a.Store, id, func(r store.Request) (store.Request, []store.Event, error) {
		next, ev, ok := approvals.Quorum(r, by, a.now())
		if !ok {
			return r, nil, store.ErrUnchanged
		}
		return next, []store.Event{ev}, nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	_ = a.Store.DeleteTimer(ctx, TimerExpire, id)
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: revocation.TimerRun, RequestID: id, Due: a.now()}); err != nil {
		return fmt.Errorf("schedule run: %w", err)
	}
	a.kickScheduler()
	doing := "I am signing them out now and will keep its card up to date"
	switch {
	case r.Kind == store.KindPolicy:
		doing = "I am changing the token lifetime policy now"
	case !r.NotBefore.IsZero() && r.NotBefore.After(a.now()):
		doing = "it will run at the scheduled time, and its thread will remind everyone before"
	}
	a.tellRequester(ctx, r, fmt.Sprintf("✅ Your sign-out request %s was approved by %s; %s.", r.ID, approverMentions(r), doing))
	return nil
}

// tellRequester lets the requester know privately what became of their request.
func (a *App) tellRequester(ctx context.Context, req store.Request, text string) {
	m, ok := a.messenger(req.Conversation.Platform)
	if !ok {
		return
	}
	cctx, cancel := a.chatContext(ctx)
	defer cancel()
	if err := m.Private(cctx, req.Conversation, req.Requester.ID, textMessage(text)); err != nil {
		a.Log.Warn("tell the requester", "request", req.ID, "err", err)
	}
}

// decide denies or cancels a pending request.
func (a *App) decide(ctx context.Context, respond func(context.Context, Message) error, p approvals.Principal, id string, act approvals.Action, note string) store.Request {
	r, err := store.Modify(ctx, a.Store, id, func(r store.Request) (store.Request, []store.Event, error) {
		next, ev, err := approvals.Decide(r, p, act, a.now(), note)
		return next, []store.Event{ev}, err
	})
	if err != nil {
		a.refused(ctx, respond, p.Actor, id, err)
		return r
	}
	_ = a.Store.DeleteTimer(ctx, TimerExpire, id)
	// A scheduled sign-out cancelled after its approval must not start, nor remind anyone.
	_ = a.Store.DeleteTimer(ctx, revocation.TimerRun, id)
	_ = a.Store.DeleteTimer(ctx, revocation.TimerRemind, id)
	a.refresh(ctx, id)
	if !approvals.SameActor(p.Actor, r.Requester) {
		text := fmt.Sprintf("⛔ Your sign-out request %s was %s by %s", r.ID, r.Status, mention(p.Actor))
		if r.DecisionNote != "" {
			text += ": “" + Literal(r.DecisionNote) + "”"
		}
		a.tellRequester(ctx, r, text+". Nobody was signed out.")
	}
	return r
}

func (a *App) cancel(ctx context.Context, ev CommandEvent, p approvals.Principal, id, note string) {
	if _, err := a.Store.GetRequest(ctx, id); err != nil {
		a.respond(ctx, ev.Respond, fmt.Sprintf("❔ Request %q was not found.", id))
		return
	}
	if r := a.decide(ctx, ev.Respond, p, id, approvals.ActCancel, note); r.Status == store.StatusCancelled {
		a.respond(ctx, ev.Respond, fmt.Sprintf("Request %s is cancelled; nobody was signed out.", id))
	}
}

// expire ends a pending request whose time is up.
func (a *App) expire(ctx context.Context, id string) error {
	r, err := store.Modify(ctx, a.Store, id, func(r store.Request) (store.Request, []store.Event, error) {
		next, ev, ok := approvals.Expire(r, a.now())
		if !ok {
			return r, nil, store.ErrUnchanged
		}
		return next, []store.Event{ev}, nil
	})
	switch {
	case errors.Is(err, store.ErrUnchanged):
		if r.Status == store.StatusPending { // not due yet: the expiry moved
			return a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: id, Due: r.ExpiresAt})
		}
	case err != nil:
		return err
	default:
		a.refresh(ctx, id)
		loc := a.location(ctx, r.Requester.Platform, r.Requester.ID)
		a.tellRequester(ctx, r, fmt.Sprintf("⌛ Your sign-out request %s expired at %s without enough approvals; nobody was signed out. "+
			"Ask again if it is still needed.", r.ID, FormatTime(r.ExpiresAt, loc)))
	}
	return a.Store.DeleteTimer(ctx, TimerExpire, id)
}

// withdraw cancels a request whose approval card could not be posted: nobody could approve it, and a request
// that nobody can see must not linger. The requester is told why.
func (a *App) withdraw(ctx context.Context, respond func(context.Context, Message) error, req store.Request, cause error) {
	a.Log.Error("post request card", "request", req.ID, "err", cause)
	_, err := store.Modify(ctx, a.Store, req.ID, func(r store.Request) (store.Request, []store.Event, error) {
		if r.Status != store.StatusPending {
			return r, nil, store.ErrUnchanged
		}
		r.Status, r.DecidedAt, r.DecidedBy = store.StatusCancelled, a.now(), botActor
		return r, []store.Event{{At: a.now(), RequestID: r.ID, Actor: botActor, Type: "cancelled",
			Detail: "withdrawn: the approval card could not be posted: " + cause.Error()}}, nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		a.Log.Error("withdraw request", "request", req.ID, "err", err)
	}
	_ = a.Store.DeleteTimer(ctx, TimerExpire, req.ID)
	a.respond(ctx, respond, fmt.Sprintf("⚠️ I could not post the approval card here (%v), so request %s was withdrawn and "+
		"nobody will be signed out. Ask again once that is fixed.", cause, req.ID))
}

// Recover makes sure every unfinished request has its timer. A timer is written just after the state it
// belongs to, so a crash between the two could leave a request that never expires or never resumes; setting
// the timers again is harmless because every handler checks the stored state first. A crash between recording
// the last approval and moving the request to approved is settled here too.
func (a *App) Recover(ctx context.Context) error {
	// A request still reading its scope when the bot stopped was never shown to anyone and holds part of its
	// scope: it is withdrawn, never completed or approved, and its requester asked to ask again.
	// Unless another replica is still reading it.
	resolving, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusResolving}})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range resolving {
		if err := a.checkResolving(ctx, r.ID); err != nil {
			return fmt.Errorf("recover %s: %w", r.ID, err)
		}
	}
	reqs, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusApproved, store.StatusRunning}})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range reqs {
		if r.Status == store.StatusPending && approvals.Approved(r) {
			if err := a.settleQuorum(ctx, r.ID, botActor); err != nil {
				return fmt.Errorf("recover %s: %w", r.ID, err)
			}
			a.Log.Info("recovered a request whose approvals were complete", "request", r.ID)
			continue
		}
		t := store.Timer{Kind: revocation.TimerRun, RequestID: r.ID, Due: a.now()}
		if r.Status == store.StatusPending {
			t = store.Timer{Kind: TimerExpire, RequestID: r.ID, Due: r.ExpiresAt}
		}
		if err := a.Store.SetTimer(ctx, t); err != nil {
			return fmt.Errorf("recover %s: %w", r.ID, err)
		}
	}
	if len(reqs) > 0 {
		a.Log.Info("recovered unfinished requests", "count", len(reqs))
	}
	// News stored just before a crash may not have reached the thread yet.
	ended, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusDone, store.StatusFailed},
		FinishedSince: a.now().Add(-threadKeep)})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range append(reqs, ended...) {
		if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerThread, RequestID: r.ID, Due: a.now()}); err != nil {
			return fmt.Errorf("recover %s: %w", r.ID, err)
		}
	}
	return nil
}

// TimerResolving checks on a request whose scope is being read, in case the replica reading it died.
const TimerResolving = "resolving"

func resolvingLease(id string) string { return "resolving:" + id }

// checkResolving is TimerResolving's handler, and Recover's for each request still resolving: a request whose
// reader (its lease) is gone is withdrawn, never completed or approved, and its requester asked to ask again; one
// still being read is looked at again later.
func (a *App) checkResolving(ctx context.Context, id string) error {
	// The lease first, the request after: a reader finishes (pending, or withdrawn with its own message) before it
	// lets the lease go, so what is read under the lease is final.
	owner := a.owner() + "/recover"
	ok, err := a.Store.Claim(ctx, resolvingLease(id), owner, a.now(), a.leaseTTL())
	if err != nil {
		return err
	}
	if !ok {
		return a.Store.SetTimer(ctx, store.Timer{Kind: TimerResolving, RequestID: id, Due: a.now().Add(2 * a.leaseTTL())})
	}
	defer func() {
		if err := a.Store.Release(context.WithoutCancel(ctx), resolvingLease(id), owner); err != nil {
			a.Log.Warn("release lease", "lease", resolvingLease(id), "err", err)
		}
	}()
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && req.Status == store.StatusResolving && a.abandon(ctx, id, "the bot stopped while reading its scope from Graph") {
		a.tellRequester(ctx, req, fmt.Sprintf("⚠️ The bot stopped while it was reading the scope of your sign-out request %s, so "+
			"it was withdrawn and nobody was signed out. Please ask again.", id))
	}
	return a.Store.DeleteTimer(ctx, TimerResolving, id)
}
