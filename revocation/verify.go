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
	ok, release, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer release()
	// A run's confirmer may be reading this request back in this process (Verify called beside the run).
	pl, unlock := r.lockPasses(id)
	defer unlock()
	defer pl.gen.Add(1)
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	targets, err := r.Store.Targets(ctx, id)
	if err != nil {
		return err
	}
	var ids []string
	idx := make(map[string]int)
	for i, t := range targets {
		if t.Status == store.TargetRevoked {
			idx[t.UserID] = i
			ids = append(ids, t.UserID)
		}
	}
	if len(ids) == 0 {
		if err := r.Store.DeleteTimer(ctx, TimerVerify, id); err != nil {
			return err
		}
		return r.maybeFinish(ctx, id)
	}
	states, err := r.Dir.SessionsValidFrom(ctx, ids)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	now := r.now()
	var changed []store.Target
	var events []store.Event
	confirmed, failed, unconfirmed, readFailures, remaining, passes := 0, 0, 0, 0, 0, 0
	var readErr error
	for _, st := range states {
		t, v, ev := r.judge(req, targets[idx[st.UserID]], st, now, true)
		if st.Err != nil {
			readFailures++
			readErr = st.Err
		}
		changed = append(changed, t)
		switch v {
		case verdictOpen:
			remaining++
			passes = max(passes, t.VerifyPasses)
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
	next := r.backoff(passes - 1)
	if readFailures > 0 {
		events = append(events, store.Event{At: now, RequestID: id, Type: EventReadFailed,
			Detail: fmt.Sprintf("could not read %d of %d users back from Graph (%v); %s", readFailures, len(ids), readErr,
				retryText(remaining, next))})
	}
	if err := r.Store.UpdateTargets(ctx, changed, events...); err != nil {
		return fmt.Errorf("verify %s: %w", id, err)
	}
	if confirmed > 0 {
		r.notify(ctx, Notice{Kind: NoticeConfirmed, RequestID: id})
	}
	if failed > 0 {
		r.notify(ctx, Notice{Kind: NoticeFailed, RequestID: id})
	}
	if unconfirmed > 0 {
		r.notify(ctx, Notice{Kind: NoticeUnconfirmed, RequestID: id})
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
	ok, release, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer release()
	targets, err := r.Store.Targets(ctx, id)
	if err != nil {
		return err
	}
	now := r.now()
	var expired []store.Target
	for _, t := range targets {
		if t.Status == store.TargetSessionsInvalid {
			t.Status, t.UpdatedAt = store.TargetTokensExpired, now
			expired = append(expired, t)
		}
	}
	if len(expired) > 0 {
		if err := r.Store.UpdateTargets(ctx, expired, store.Event{At: now, RequestID: id, Type: EventTokensExpired,
			Detail: fmt.Sprintf("access tokens issued before the revocation have expired for %d confirmed %s", len(expired),
				plural(len(expired), "user"))}); err != nil {
			return fmt.Errorf("tokens expired %s: %w", id, err)
		}
	}
	if err := r.Store.DeleteTimer(ctx, TimerTokensExpired, id); err != nil {
		return err
	}
	if len(expired) > 0 {
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
	targets, err := r.Store.Targets(ctx, id)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if !t.Status.Final() {
			return nil
		}
	}
	req.Status, req.FinishedAt = store.StatusDone, r.now()
	_, err = r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: id, Type: EventDone, Detail: "request finished"})
	if err != nil {
		return fmt.Errorf("finish %s: %w", id, err)
	}
	r.notify(ctx, Notice{Kind: NoticeProgress, RequestID: id})
	if after := r.crossCheckAfter(); after > 0 {
		return r.Store.SetTimer(ctx, store.Timer{Kind: TimerCrossCheck, RequestID: id, Due: r.now().Add(after)})
	}
	return nil
}
