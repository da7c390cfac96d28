package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// status answers /signout status <user>: what Graph says now, the bot's last revocation, and what is pending.
func (a *App) status(ctx context.Context, ev CommandEvent, ref string) {
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	u, err := a.Dir.ResolveUser(ctx, ref)
	if err != nil {
		if errors.Is(err, graph.ErrNotFound) {
			a.respond(ctx, ev.Respond, ":grey_question: "+err.Error())
			return
		}
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* `%s`", u.DisplayName, u.UPN)
	if u.Guest {
		b.WriteString(" (guest: only their home tenant can sign them out)")
	}
	if !u.Enabled {
		b.WriteString(" (account disabled)")
	}
	fmt.Fprintf(&b, "\nSessions valid from (Graph, now): %s", FormatTime(u.SessionsValidFrom, loc))
	t, req, err := a.Store.LatestTarget(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		b.WriteString("\nThis bot has never signed them out.")
	case err != nil:
		fmt.Fprintf(&b, "\nCould not read the bot's history: %v", err)
	default:
		fmt.Fprintf(&b, "\nLast request: %s (%s), requested by %s at %s; their status: *%s*",
			req.ID, req.Status, req.Requester.Name, FormatTime(req.CreatedAt, loc), strings.ReplaceAll(string(t.Status), "_", " "))
		if t.Detail != "" {
			fmt.Fprintf(&b, " (%s)", t.Detail)
		}
		if !t.RevokedAt.IsZero() {
			fmt.Fprintf(&b, "\nRevoked at %s", FormatTime(t.RevokedAt, loc))
		}
		if !t.ConfirmedAt.IsZero() {
			fmt.Fprintf(&b, "; sessions invalid confirmed at %s", FormatTime(t.ConfirmedAt, loc))
		}
		switch {
		case req.Status == store.StatusPending:
			fmt.Fprintf(&b, "\nPending: waiting for approval until %s", FormatTime(req.ExpiresAt, loc))
		case !req.TokensExpireAt.IsZero() && a.now().Before(req.TokensExpireAt):
			fmt.Fprintf(&b, "\nPending: access tokens issued before the revocation expire by %s", FormatTime(req.TokensExpireAt, loc))
		}
	}
	a.respond(ctx, ev.Respond, b.String())
}
