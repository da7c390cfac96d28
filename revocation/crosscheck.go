package revocation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// TimerCrossCheck checks, a little after a run, that the directory audit log recorded its revocations.
const TimerCrossCheck = "crosscheck"

// EventCrossCheck reports what the directory audit log shows of a run's revocations.
const EventCrossCheck = "crosscheck"

func (r *Runner) crossCheckAfter() time.Duration {
	if r.CrossCheckAfter == 0 {
		return 5 * time.Minute
	}
	return r.CrossCheckAfter
}

// CrossCheck counts the directory audit entries "Update StsRefreshTokenValidFrom Timestamp" initiated by this
// app for the users the run revoked: independent evidence, from Entra's own log, that each revocation happened.
// Without AuditLog.Read.All it says so instead of failing; it never changes a user's status.
func (r *Runner) CrossCheck(ctx context.Context, id string) error {
	if err := r.Store.DeleteTimer(ctx, TimerCrossCheck, id); err != nil {
		return err
	}
	targets, err := r.Store.Targets(ctx, id)
	if err != nil {
		return err
	}
	var ids []string
	upn := map[string]string{}
	var since time.Time
	for _, t := range targets {
		if t.RevokedAt.IsZero() || t.Guest {
			continue
		}
		ids = append(ids, t.UserID)
		upn[t.UserID] = t.UPN
		if at := t.GraphRevokedAt; !at.IsZero() && (since.IsZero() || at.Before(since)) {
			since = at
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// The audit entry's time is Graph's; a minute's margin covers its rounding and the batch's spread.
	counts, err := r.Dir.RevocationAudits(ctx, ids, since.Add(-time.Minute))
	detail := ""
	var ae *graph.APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		detail = "cannot cross-check with the directory audit log: the app lacks the Microsoft Graph permission AuditLog.Read.All " +
			"(grant it to have every revocation checked against Entra's own log)"
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		detail = fmt.Sprintf("could not read the directory audit log to cross-check (%v)", err)
	default:
		var missing []string
		for _, id := range ids {
			if counts[id] == 0 {
				missing = append(missing, upn[id])
			}
		}
		detail = fmt.Sprintf("the directory audit log shows the revocation for %d of %d %s", len(ids)-len(missing), len(ids), plural(len(ids), "user"))
		if len(missing) > 0 {
			if len(missing) > 20 {
				missing = append(missing[:20:20], fmt.Sprintf("and %d more", len(missing)-20))
			}
			detail += "; not (yet) for: " + strings.Join(missing, ", ") + ". The log can lag; Graph's own read-back above is the evidence " +
				"the card relies on"
		}
	}
	if err := r.Store.AppendEvent(ctx, store.Event{At: r.now(), RequestID: id, Type: EventCrossCheck, Detail: detail}); err != nil {
		return err
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
	return nil
}
