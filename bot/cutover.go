package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// when resolves an --at or --until typed by actor, in their own time zone unless the text names one. "" is
// no time at all. A moment in the past is refused: a sign-out scheduled for yesterday would run at once, which
// is not what anybody typing a time meant.
func (a *App) when(ctx context.Context, actor store.Actor, text, flag string) (time.Time, error) {
	if strings.TrimSpace(text) == "" {
		return time.Time{}, nil
	}
	loc := a.location(ctx, actor.Platform, actor.ID)
	t, err := commands.ParseWhen(text, loc, a.now())
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s: %w", flag, Literal(text), err)
	}
	if !t.After(a.now()) {
		return time.Time{}, fmt.Errorf("%s %s is %s, which has passed (in your time zone, %s)", flag, Literal(text),
			FormatTime(t, loc), loc)
	}
	return t, nil
}

// plan answers /signout plan …: who would be signed out and the plan's times, asking nobody for anything.
func (a *App) plan(ctx context.Context, ev CommandEvent, cmd commands.Command) {
	// Counted as Graph pages the scope: a plan of a 100,000-member group holds their ids, never their targets.
	var o outcome
	seen := make(map[string]bool)
	sc, err := scope.Stream(ctx, a.Dir, a.Protection, cmd, func(_ scope.Scope, page []store.Target) error {
		for _, t := range page {
			if !seen[t.UserID] {
				seen[t.UserID] = true
				o.add(t)
			}
		}
		return nil
	})
	if err != nil {
		var amb *graph.AmbiguousError
		if errors.As(err, &amb) {
			a.respond(ctx, ev.Respond, a.ambiguityText(ctx, amb))
			return
		}
		a.respond(ctx, ev.Respond, "❔ "+err.Error())
		return
	}
	at, err := a.when(ctx, ev.Actor, cmd.At, "--at")
	if err != nil {
		a.respond(ctx, ev.Respond, "❔ "+sentence(err.Error()))
		return
	}
	lt, _ := a.Runner.Lifetime(ctx, "")
	req := store.Request{NotBefore: at, TokenLifetime: lt.Lifetime, LifetimeSource: lt.Source}
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	text := fmt.Sprintf("📋 *Plan only — nothing was requested.* %s: %s.\n%s", capital(sc.Kind), Literal(sc.Text), scopeCount(o, "would be signed out"))
	text += "\n" + privateTimes(a.planText(req, o, a.now()), loc)
	text += "\nTo ask for it, type the same command without `plan`."
	a.respond(ctx, ev.Respond, text)
}

// privateTimes turns Time markers into one viewer's zone: private replies are read by one person.
func privateTimes(s string, loc *time.Location) string {
	var b strings.Builder
	for _, p := range Parse(s) {
		switch p.Kind {
		case KindText:
			b.WriteString(p.Text)
		case KindLiteral:
			b.WriteString(Literal(p.Text))
		case KindMention:
			b.WriteString(Mention(p.Platform, p.ID, p.Name))
		case KindTime:
			b.WriteString(FormatTime(p.Time, loc))
		}
	}
	return b.String()
}

// schedule answers /signout schedule: every sign-out waiting for its time, and any token lifetime policy change
// in place, soonest first.
func (a *App) schedule(ctx context.Context, ev CommandEvent) {
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	reqs, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusApproved,
		store.StatusRunning}})
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	var lines []string
	for _, r := range reqs {
		switch {
		case r.Kind == store.KindPolicy:
			lines = append(lines, "• "+policyLine(r, loc))
		case !r.NotBefore.IsZero() && r.NotBefore.After(a.now()):
			state := "approved"
			if r.Status == store.StatusPending {
				state = "waiting for approval until " + FormatTime(r.ExpiresAt, loc)
			}
			lines = append(lines, fmt.Sprintf("• %s at %s — %s, %s, asked by %s (cancel: `/signout cancel %s`)", r.ID,
				FormatTime(r.NotBefore, loc), scopeName(r), state, mention(r.Requester), r.ID))
		}
	}
	if len(lines) == 0 {
		a.respond(ctx, ev.Respond, "Nothing is scheduled. Schedule a sign-out with `--at`, e.g. `/signout group Migrated --at \"2026-12-01 22:00\"`.")
		return
	}
	a.respond(ctx, ev.Respond, "*Scheduled* (times in your zone, UTC beside them):\n"+strings.Join(lines, "\n"))
}

// policyLine describes a token lifetime policy change request for lists.
func policyLine(r store.Request, loc *time.Location) string {
	return fmt.Sprintf("%s — token lifetime policy change (%s), asked by %s", r.ID, r.Status, mention(r.Requester))
}

// audit answers /signout audit <request | user>: who asked, who approved, and each user's outcome with times, in
// the viewer's zone.
func (a *App) audit(ctx context.Context, ev CommandEvent, cmd commands.Command) {
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	if !cmd.AuditRequest {
		a.status(ctx, ev, cmd.Target)
		return
	}
	id := strings.ToUpper(cmd.Target)
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		a.respond(ctx, ev.Respond, fmt.Sprintf("❔ Request %s was not found.", Literal(id)))
		return
	}
	// Counted a page at a time: a 100,000-user request has a few hundred thousand events.
	events := 0
	for after := int64(0); ; {
		page, err := a.Store.EventsAfter(ctx, id, after, threadPage)
		if err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, "", err)
			return
		}
		events += len(page)
		if len(page) < threadPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Audit of %s* (%s): %s, asked by %s at %s", req.ID, req.Status, scopeName(req), mention(req.Requester),
		FormatTime(req.CreatedAt, loc))
	if req.Reason != "" {
		fmt.Fprintf(&b, " — reason: %s", Literal(req.Reason))
	}
	for _, ap := range req.Approvals {
		fmt.Fprintf(&b, "\n• approved by %s at %s", mention(ap.Actor), FormatTime(ap.At, loc))
	}
	if req.DecidedBy.ID != "" {
		fmt.Fprintf(&b, "\n• %s by %s at %s", req.Status, mention(req.DecidedBy), FormatTime(req.DecidedAt, loc))
	}
	// Counted by the store, and the first 50 by name read a page at a time: a scope may hold 100,000 users.
	sum, err := a.Store.TargetSummary(ctx, id)
	first := byNameFirst{n: 51, keep: func(store.Target) bool { return true }}
	if err == nil && sum.Total > 0 {
		err = a.eachTargetPage(ctx, id, func(page []store.Target) {
			for _, t := range page {
				first.add(t)
			}
		})
	}
	if err == nil && sum.Total > 0 {
		o := outcomeOfSummary(sum)
		fmt.Fprintf(&b, "\n*Outcome:* %s; %d revoked, %d confirmed, %d signed out, %d failed, %d could not be confirmed",
			scopeCount(o, "in scope"), o.revoked, o.confirmed, o.signedOut, o.failed, o.unconfirm)
		for i, t := range first.best {
			if i == 50 {
				fmt.Fprintf(&b, "\n…and %d more: `signoutbot audit export --request %s` has every one.", sum.Total-50, req.ID)
				break
			}
			fmt.Fprintf(&b, "\n• %s — %s", label(t), strings.ReplaceAll(string(t.Status), "_", " "))
			if t.Detail != "" {
				fmt.Fprintf(&b, " (%s)", t.Detail)
			}
			if !t.RevokedAt.IsZero() {
				fmt.Fprintf(&b, ", revoked %s", FormatTime(t.RevokedAt, loc))
			}
			if !t.ConfirmedAt.IsZero() {
				fmt.Fprintf(&b, ", confirmed %s", FormatTime(t.ConfirmedAt, loc))
			}
		}
	}
	fmt.Fprintf(&b, "\n_%d audit events; the whole log: `signoutbot audit export --request %s`._", events, req.ID)
	a.respond(ctx, ev.Respond, b.String())
}

// sentence ends a message with a full stop unless it already ends with one.
func sentence(s string) string {
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}
