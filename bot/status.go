package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// statusHistory bounds the requests /signout status lists for one user (most recent first).
const statusHistory = 20

// status answers /signout status <user>: what Graph says now, every request of this bot that touched the user
// with its outcome, and every deadline still pending. It is a private reply, so times are in the viewer's zone.
func (a *App) status(ctx context.Context, ev CommandEvent, ref string) {
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	u, err := a.Dir.ResolveUser(ctx, ref)
	if err != nil {
		if errors.Is(err, graph.ErrNotFound) {
			a.respond(ctx, ev.Respond, "❔ "+err.Error())
			return
		}
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* `%s`", Literal(u.DisplayName), Literal(u.UPN))
	switch {
	case u.External:
		b.WriteString(" — external member: only their home tenant can sign them out")
	case u.Guest:
		b.WriteString(" — guest: only their home tenant can sign them out")
	}
	if !u.Enabled {
		b.WriteString(" — account disabled")
	}
	fmt.Fprintf(&b, "\nSessions valid from (Graph, now): %s", FormatTime(u.SessionsValidFrom, loc))
	history, err := a.Store.UserHistory(ctx, u.ID, statusHistory+1)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "\nCould not read the bot's history: %v", err)
	case len(history) == 0:
		b.WriteString("\nThis bot has never been asked to sign them out.")
	default:
		var pending []string
		fmt.Fprintf(&b, "\n*Requests that included them* (most recent first):")
		for i, h := range history {
			if i == statusHistory {
				fmt.Fprintf(&b, "\n…and older ones (`signoutbot audit export` has the whole log).")
				break
			}
			b.WriteString("\n• " + historyLine(h, loc))
			pending = append(pending, pendingDeadlines(h, a.now(), loc)...)
		}
		if len(pending) > 0 {
			b.WriteString("\n*Still pending:*\n" + strings.Join(pending, "\n"))
		} else {
			b.WriteString("\nNothing is pending for them.")
		}
	}
	a.respond(ctx, ev.Respond, b.String())
}

// historyLine is one request as it concerned one user: who asked, when, how the request ended, and the user's
// own outcome with its times.
func historyLine(h store.UserTarget, loc *time.Location) string {
	r, t := h.Request, h.Target
	s := fmt.Sprintf("%s (%s), asked by %s at %s — their status: *%s*", r.ID, r.Status, mention(r.Requester),
		FormatTime(r.CreatedAt, loc), strings.ReplaceAll(string(t.Status), "_", " "))
	if t.Detail != "" {
		s += " (" + t.Detail + ")"
	}
	if !t.RevokedAt.IsZero() {
		s += "; revoked " + FormatTime(t.RevokedAt, loc)
	}
	if !t.ConfirmedAt.IsZero() {
		s += "; confirmed " + FormatTime(t.ConfirmedAt, loc)
	}
	return s
}

func pendingDeadlines(h store.UserTarget, now time.Time, loc *time.Location) []string {
	r, t := h.Request, h.Target
	switch {
	case r.Status == store.StatusPending:
		return []string{fmt.Sprintf("• %s waits for approval until %s", r.ID, FormatTime(r.ExpiresAt, loc))}
	case r.Status == store.StatusApproved || r.Status == store.StatusRunning && t.Status == store.TargetPending:
		return []string{fmt.Sprintf("• %s is approved and will revoke them", r.ID)}
	case r.Status == store.StatusRunning && t.Status == store.TargetRevoked:
		return []string{fmt.Sprintf("• %s: revoked, being confirmed from Graph", r.ID)}
	case !r.TokensExpireAt.IsZero() && now.Before(r.TokensExpireAt) && !t.Guest && t.Status != store.TargetExcluded &&
		t.Status != store.TargetFailed:
		return []string{fmt.Sprintf("• %s: access tokens issued before the revocation expire by %s", r.ID, FormatTime(r.TokensExpireAt, loc))}
	}
	return nil
}
