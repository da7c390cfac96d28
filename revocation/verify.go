package revocation

import (
	"context"
	"fmt"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Verify reads back every revoked target and confirms those whose signInSessionsValidFromDateTime is at or
// after the revocation on Graph's own clock (Target.GraphRevokedAt), never the bot's. Unconfirmed targets get
// another pass later, with back-off; after MaxVerifyPasses a target ends "unconfirmed" with what Graph shows, so
// nothing is retried silently for ever. Failed reads are reported in the thread, not only logged.
func (r *Runner) Verify(ctx context.Context, id string) error {
	lease, ok, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	ctx = store.WithLease(lease.Context(), lease)
	// A run's confirmer may be reading this request back in this process (Verify called beside the run).
	pl, unlock := r.lockPasses(id)
	defer unlock()
	defer pl.gen.Add(1)
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	// A page at a time (read, judge, store), so a pass over 100,000 revoked users never holds them all.
	var p verifyPass
	for after := -1; ; {
		page, err := r.Store.TargetsPage(ctx, id, after, r.pageSize(), store.TargetRevoked)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
		if err := r.verifyPage(ctx, req, page, &p); err != nil {
			return err
		}
		if len(page) < r.pageSize() {
			break
		}
	}
	if p.read == 0 {
		if err := r.Store.DeleteTimer(ctx, TimerVerify, id); err != nil {
			return err
		}
		return r.maybeFinish(ctx, id)
	}
	readFailures, remaining := p.readFailures, p.remaining
	next := r.backoff(p.passes - 1)
	now := r.now()
	if readFailures > 0 {
		if err := r.Store.AppendEvent(ctx, store.Event{At: now, RequestID: id, Type: EventReadFailed,
			Detail: fmt.Sprintf("could not read %d of %d users back from Graph (%v); %s", readFailures, p.read, p.readErr,
				retryText(remaining, next))}); err != nil {
			return fmt.Errorf("verify %s: %w", id, err)
		}
	}
	if readFailures > 0 {
		r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
	}
	if remaining == 0 {
		if err := r.Store.DeleteTimer(ctx, TimerVerify, id); err != nil {
			return err
		}
		return r.maybeFinish(ctx, id)
	}
	return r.Store.SetTimer(ctx, store.Timer{Kind: TimerVerify, RequestID: id, Due: now.Add(next)})
}

// verifyPass tallies one verification pass over its pages.
type verifyPass struct {
	read, readFailures, remaining, passes int
	readErr                               error
}

// verifyPage reads one page of revoked targets back from Graph and stores what it shows.
func (r *Runner) verifyPage(ctx context.Context, req store.Request, targets []store.Target, p *verifyPass) error {
	ids := make([]string, len(targets))
	byID := make(map[string]store.Target, len(targets))
	for i, t := range targets {
		ids[i] = t.UserID
		byID[t.UserID] = t
	}
	states, err := r.Dir.SessionsValidFrom(ctx, ids)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	p.read += len(ids)
	now := r.now()
	changed := make([]store.Target, 0, len(states))
	var events []store.Event
	confirmed, failed, unconfirmed := 0, 0, 0
	for _, st := range states {
		t, v, ev := r.judge(req, byID[st.UserID], st, now, true)
		if st.Err != nil {
			p.readFailures++
			p.readErr = st.Err
		}
		changed = append(changed, t)
		switch v {
		case verdictOpen:
			p.remaining++
			p.passes = max(p.passes, t.VerifyPasses)
			continue // the pass count is stored; the audit log hears of the outcome
		case verdictConfirmed:
			confirmed++
		case verdictGone:
			failed++
		case verdictGaveUp:
			unconfirmed++
		}
		events = append(events, *ev)
	}
	if err := store.Fence(ctx); err != nil {
		return fmt.Errorf("verify %s: %w", req.ID, err)
	}
	if err := r.Store.UpdateTargets(ctx, changed, events...); err != nil {
		return fmt.Errorf("verify %s: %w", req.ID, err)
	}
	// Said per page, so a long pass shows its progress as it goes.
	if confirmed > 0 {
		r.notify(ctx, Notice{Kind: NoticeConfirmed, RequestID: req.ID})
	}
	if failed > 0 {
		r.notify(ctx, Notice{Kind: NoticeFailed, RequestID: req.ID})
	}
	if unconfirmed > 0 {
		r.notify(ctx, Notice{Kind: NoticeUnconfirmed, RequestID: req.ID})
	}
	return nil
}

func retryText(remaining int, next time.Duration) string {
	if remaining == 0 {
		return "no more tries: those users are reported as not confirmed"
	}
	return fmt.Sprintf("trying again in %s", next)
}

// unconfirmedDetail says what Graph showed when the bot stopped trying, so the admin can check by hand.
func unconfirmedDetail(t store.Target, st graph.SessionState) string {
	switch {
	case st.Err != nil:
		return fmt.Sprintf("could not confirm: Graph could not be read (%v)", st.Err)
	case st.SessionsValidFrom.IsZero():
		return fmt.Sprintf("could not confirm: Graph shows no signInSessionsValidFromDateTime (needed at or after %s)",
			t.GraphRevokedAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("could not confirm: Graph shows signInSessionsValidFromDateTime %s, before the revocation (%s or later)",
		st.SessionsValidFrom.Format(time.RFC3339), t.GraphRevokedAt.Format(time.RFC3339))
}

// TokensExpired runs at revocation time + access-token lifetime: every confirmed target is now fully signed
// out, because no access token from before the revocation can still be valid.
func (r *Runner) TokensExpired(ctx context.Context, id string) error {
	lease, ok, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	ctx = store.WithLease(lease.Context(), lease)
	// Counted first, then moved a page at a time; the event goes with the last page, so the thread hears once, of
	// everyone. (After a crash part-way, the handler runs again and the event counts the users still to move.)
	sum, err := r.Store.TargetSummary(ctx, id)
	if err != nil {
		return err
	}
	total := sum.ByStatus[store.TargetSessionsInvalid]
	now := r.now()
	event := store.Event{At: now, RequestID: id, Type: EventTokensExpired,
		Detail: fmt.Sprintf("access tokens issued before the revocation have expired for %d confirmed %s", total,
			plural(total, "user"))}
	moved := 0
	for after := -1; moved < total; {
		page, err := r.Store.TargetsPage(ctx, id, after, r.pageSize(), store.TargetSessionsInvalid)
		if err != nil {
			return err
		}
		for i := range page {
			page[i].Status, page[i].UpdatedAt = store.TargetTokensExpired, now
		}
		moved += len(page)
		var events []store.Event
		if moved >= total || len(page) < r.pageSize() {
			events = append(events, event)
			moved = total // a confirmation that raced the count is in the next run of this handler, or in the event
		}
		if err := store.Fence(ctx); err != nil {
			return fmt.Errorf("tokens expired %s: %w", id, err)
		}
		if err := r.Store.UpdateTargets(ctx, page, events...); err != nil {
			return fmt.Errorf("tokens expired %s: %w", id, err)
		}
		if len(page) > 0 {
			after = page[len(page)-1].Seq
		}
	}
	if err := r.Store.DeleteTimer(ctx, TimerTokensExpired, id); err != nil {
		return err
	}
	if total > 0 {
		r.notify(ctx, Notice{Kind: NoticeTokensExpired, RequestID: id})
	}
	return r.maybeFinish(ctx, id)
}

// maybeFinish marks the request done once the deadline has passed and every target is final.
func (r *Runner) maybeFinish(ctx context.Context, id string) error {
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if req.Status != store.StatusRunning || req.TokensExpireAt.IsZero() || r.now().Before(req.TokensExpireAt) {
		return nil
	}
	sum, err := r.Store.TargetSummary(ctx, id)
	if err != nil {
		return err
	}
	for st, n := range sum.ByStatus {
		if n > 0 && !st.Final() {
			return nil
		}
	}
	req.Status, req.FinishedAt = store.StatusDone, r.now()
	_, err = r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: id, Type: EventDone, Detail: "request finished"})
	if err != nil {
		return fmt.Errorf("finish %s: %w", id, err)
	}
	// Info, not progress: the end is news for the thread (a large request's final report goes there), and only
	// news flushes it.
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
	if after := r.crossCheckAfter(); after > 0 {
		return r.Store.SetTimer(ctx, store.Timer{Kind: TimerCrossCheck, RequestID: id, Due: r.now().Add(after)})
	}
	return nil
}
