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
	// Only the revoked users' ids are kept, read a page at a time: the audit log is read once for all of them
	// (its API allows 5 requests per 10 s), and the few users it lacks are named from the store afterwards.
	var ids []string
	var since time.Time
	for after := -1; ; {
		page, err := r.Store.TargetsPage(ctx, id, after, r.pageSize())
		if err != nil {
			return err
		}
		for _, t := range page {
			if t.RevokedAt.IsZero() || t.Guest {
				continue
			}
			ids = append(ids, t.UserID)
			if at := t.GraphRevokedAt; !at.IsZero() && (since.IsZero() || at.Before(since)) {
				since = at
			}
		}
		if len(page) < r.pageSize() {
			break
		}
		after = page[len(page)-1].Seq
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
		var missingIDs []string
		nMissing := 0
		for _, uid := range ids {
			if counts[uid] == 0 {
				if nMissing++; len(missingIDs) < 20 {
					missingIDs = append(missingIDs, uid)
				}
			}
		}
		detail = fmt.Sprintf("the directory audit log shows the revocation for %d of %d %s", len(ids)-nMissing, len(ids), plural(len(ids), "user"))
		if nMissing > 0 {
			named, err := r.Store.TargetsOf(ctx, id, missingIDs)
			if err != nil {
				return err
			}
			missing := make([]string, 0, len(named)+1)
			for _, t := range named {
				missing = append(missing, t.UPN)
			}
			if nMissing > len(missing) {
				missing = append(missing, fmt.Sprintf("and %d more", nMissing-len(missing)))
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
