package revocation

import (
	"context"
	"fmt"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// Verify reads back every revoked target and confirms those whose signInSessionsValidFromDateTime is at or
// after the revocation (Graph stores whole seconds, so the revocation time is truncated to the second).
// Unconfirmed targets get another pass later, with back-off.
func (r *Runner) Verify(ctx context.Context, id string) error {
	ok, release, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer release()
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
	maxAttempts := 0
	for i, t := range targets {
		if t.Status == store.TargetRevoked {
			idx[t.UserID] = i
			ids = append(ids, t.UserID)
		}
	}
	if len(ids) == 0 {
		return r.Store.DeleteTimer(ctx, TimerVerify, id)
	}
	states, err := r.Dir.SessionsValidFrom(ctx, ids)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	now := r.now()
	var confirmed, gone []store.Target
	var events []store.Event
	for _, st := range states {
		t := targets[idx[st.UserID]]
		switch {
		case st.Err != nil:
			r.Log.Warn("verify read failed", "request", id, "user", t.UPN, "err", st.Err)
			continue
		case !st.Found:
			t.Status, t.Detail, t.UpdatedAt = store.TargetFailed, "deleted after revocation: cannot confirm", now
			gone = append(gone, t)
		case !st.SessionsValidFrom.Before(t.RevokedAt.Truncate(time.Second)):
			t.Status, t.SessionsValidFrom, t.ConfirmedAt, t.UpdatedAt = store.TargetSessionsInvalid, st.SessionsValidFrom, now, now
			if !req.TokensExpireAt.IsZero() && !now.Before(req.TokensExpireAt) {
				// Confirmed only after the deadline notice: the tokens are already past their lifetime.
				t.Status = store.TargetTokensExpired
			}
			confirmed = append(confirmed, t)
		default:
			t.SessionsValidFrom = st.SessionsValidFrom
			t.Attempts++
			maxAttempts = max(maxAttempts, t.Attempts)
			continue
		}
		events = append(events, store.Event{At: now, RequestID: id, Type: string(t.Status),
			Detail: fmt.Sprintf("%s: signInSessionsValidFromDateTime %s", t.UPN, st.SessionsValidFrom.Format(time.RFC3339)),
			Actor:  UserActor(t)})
	}
	changed := append(confirmed, gone...)
	if len(changed) > 0 {
		if err := r.Store.UpdateTargets(ctx, changed, events...); err != nil {
			return fmt.Errorf("verify %s: %w", id, err)
		}
		if len(confirmed) > 0 {
			r.notify(ctx, Notice{Kind: NoticeConfirmed, RequestID: id})
		}
		if len(gone) > 0 {
			r.notify(ctx, Notice{Kind: NoticeFailed, RequestID: id})
		}
	}
	if len(ids) == len(confirmed)+len(gone) {
		if err := r.Store.DeleteTimer(ctx, TimerVerify, id); err != nil {
			return err
		}
		return r.maybeFinish(ctx, id)
	}
	return r.Store.SetTimer(ctx, store.Timer{Kind: TimerVerify, RequestID: id, Due: now.Add(r.backoff(max(maxAttempts-1, 0)))})
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
			Detail: fmt.Sprintf("access tokens expired for %d user(s): every client is signed out", len(expired))}); err != nil {
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
	return nil
}
