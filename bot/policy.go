package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// policyLimits says what the token lifetime setting does not do; every policy message states it.
const policyLimits = "It applies to access tokens issued after it is set (tokens issued before keep their lifetime, so set it " +
	"at least one old lifetime before a cutover), not to sessions using Continuous Access Evaluation (Outlook, Teams, " +
	"SharePoint drop tokens within about 15 minutes of a revocation anyway), and refresh-token and session lifetimes " +
	"were retired: only the access-token lifetime can be set."

// policy answers /signout policy [set <lifetime> --until … | reset].
func (a *App) policy(ctx context.Context, ev CommandEvent, p approvals.Principal, cmd commands.Command) {
	switch cmd.PolicyAction {
	case commands.PolicySet:
		if err := approvals.Authorize(p, approvals.ActRequest, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, p.Actor, "", err)
			return
		}
		ev.Actor = p.Actor
		a.policySet(ctx, ev, cmd)
	case commands.PolicyReset:
		if err := approvals.Authorize(p, approvals.ActRequest, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, p.Actor, "", err)
			return
		}
		a.policyReset(ctx, ev)
	default:
		a.policyShow(ctx, ev)
	}
}

// activePolicyChange finds the policy change that is waiting, approved or in place (at most one at a time).
func (a *App) activePolicyChange(ctx context.Context) (store.Request, bool, error) {
	reqs, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusApproved,
		store.StatusRunning}})
	if err != nil {
		return store.Request{}, false, err
	}
	for _, r := range reqs {
		if r.Kind == store.KindPolicy {
			return r, true, nil
		}
	}
	return store.Request{}, false, nil
}

func (a *App) policyShow(ctx context.Context, ev CommandEvent) {
	loc := a.location(ctx, ev.Actor.Platform, ev.Actor.ID)
	var b strings.Builder
	cur, found, err := a.Dir.OrganizationDefaultPolicy(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "⚠️ I could not read the organization-default token lifetime policy (%v).", err)
	case found:
		fmt.Fprintf(&b, "The organization-default token lifetime policy is %s: access tokens live *%s*.", Literal(cur.DisplayName),
			FormatDuration(cur.Lifetime))
	default:
		b.WriteString("There is no organization-default token lifetime policy: access tokens live 60–90 minutes by default, " +
			"and up to 2 h for Teams and Microsoft 365 clients in tenants without Conditional Access.")
	}
	lt, _ := a.Runner.Lifetime(ctx, "")
	fmt.Fprintf(&b, "\nThe longest lifetime any policy or default grants here: *%s* (%s); sign-outs wait that long.", FormatDuration(lt.Lifetime), lt.Source)
	if r, ok, err := a.activePolicyChange(ctx); err == nil && ok {
		c, _ := revocation.DecodePolicyChange(r)
		fmt.Fprintf(&b, "\nChange %s (%s): %s until %s.", r.ID, r.Status, FormatDuration(c.Lifetime), FormatTime(c.Until, loc))
	}
	b.WriteString("\n" + policyLimits)
	a.respond(ctx, ev.Respond, b.String())
}

// policySet asks for a token lifetime policy change: a request like a sign-out, which a second admin approves.
func (a *App) policySet(ctx context.Context, ev CommandEvent, cmd commands.Command) {
	until, err := a.when(ctx, ev.Actor, cmd.Until, "--until")
	if err != nil {
		a.respond(ctx, ev.Respond, "❔ "+sentence(err.Error())+" Nothing was requested.")
		return
	}
	if cmd.Lifetime < commands.MinLifetime || cmd.Lifetime > commands.MaxLifetime {
		a.respond(ctx, ev.Respond, "❔ Entra allows access-token lifetimes from 10 minutes to 1 day. Nothing was requested.")
		return
	}
	if other, ok, err := a.activePolicyChange(ctx); err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	} else if ok {
		a.respond(ctx, ev.Respond, fmt.Sprintf("❔ Request %s already changes the token lifetime policy (%s). "+
			"Cancel it, or `/signout policy reset` to end it, first. Nothing was requested.", other.ID, other.Status))
		return
	}
	data, _ := json.Marshal(revocation.PolicyChange{Lifetime: cmd.Lifetime, Until: until.UTC()})
	now := a.now()
	pol := a.Policy.WithDefaults()
	req := store.Request{ID: newRequestID(), Status: store.StatusPending, Kind: store.KindPolicy, Requester: ev.Actor,
		Reason: cmd.Reason, ScopeKind: "policy", ScopeText: "organization-default access-token lifetime",
		Command: "/signout " + cmd.String(), RequiredApprovals: 1, CreatedAt: now, ExpiresAt: now.Add(pol.Expiry),
		Conversation: ev.Conversation, Data: string(data)}
	dedup := ""
	if ev.DeliveryID != "" {
		dedup = ev.Actor.Platform + ":" + ev.DeliveryID
	}
	created, err := a.Store.CreateRequest(ctx, req, nil, dedup, requestedEvent(req, 0))
	if errors.Is(err, store.ErrDuplicate) {
		return
	}
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not save the request, nothing was requested: %w", err))
		return
	}
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: created.ID, Due: created.ExpiresAt}); err != nil {
		a.Log.Error("set expiry timer", "request", created.ID, "err", err)
	}
	a.postCard(ctx, ev.Respond, created, nil)
}

// policyReset ends the change in place now: the revert runs at once instead of at --until.
func (a *App) policyReset(ctx context.Context, ev CommandEvent) {
	r, ok, err := a.activePolicyChange(ctx)
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	if !ok || r.Status != store.StatusRunning {
		a.respond(ctx, ev.Respond, "No token lifetime policy change of mine is in place, so there is nothing to reset. "+
			"(A change still waiting for approval can be cancelled with `/signout cancel <id>`.)")
		return
	}
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: revocation.TimerPolicyRevert, RequestID: r.ID, Due: a.now()}); err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	_ = a.Store.AppendEvent(ctx, store.Event{At: a.now(), RequestID: r.ID, Actor: ev.Actor, Type: "policy_reset",
		Detail: "reset now by " + ev.Actor.Name})
	a.kickScheduler()
	a.respond(ctx, ev.Respond, fmt.Sprintf("Putting the token lifetime policy back now (change %s); its thread will say when it is done.", r.ID))
}

// policyCard draws a policy change request's card.
func (a *App) policyCard(req store.Request) Message {
	c, _ := revocation.DecodePolicyChange(req)
	var blocks []Block
	blocks = append(blocks, Block{Kind: BlockHeader, Text: fmt.Sprintf("Token lifetime policy change %s — %s", req.ID, policyTitle(req, c))})
	verb := "asks"
	if req.Status != store.StatusPending {
		verb = "asked"
	}
	blocks = append(blocks, Block{Kind: BlockSection, Text: fmt.Sprintf("%s %s to set the organization-default access-token lifetime "+
		"to *%s* until %s, then put back what is there now.", mention(req.Requester), verb, FormatDuration(c.Lifetime), Time(c.Until))})
	reason := "_none given_"
	if req.Reason != "" {
		reason = Literal(req.Reason)
	}
	blocks = append(blocks, Block{Kind: BlockSection, Fields: []string{"*Reason*\n" + reason, "*Requested*\n" + Time(req.CreatedAt)}})
	blocks = append(blocks, Block{Kind: BlockContext, Text: policyLimits})
	switch req.Status {
	case store.StatusPending:
		blocks = append(blocks, Block{Kind: BlockContext, Text: fmt.Sprintf("Needs approval from 1 admin other than %s. Expires %s.",
			mention(req.Requester), Time(req.ExpiresAt))})
		blocks = append(blocks, Block{Kind: BlockActions, Buttons: []Button{
			{ID: "approve", Label: "Approve", Value: req.ID, Style: "primary", Confirm: &Confirm{
				Title: "Change the token lifetime policy?",
				Text:  fmt.Sprintf("Access tokens issued from now until the revert will live %s.", FormatDuration(c.Lifetime)),
				OK:    "Change it", Cancel: "Back"}},
			{ID: "deny", Label: "Deny", Value: req.ID, Style: "danger"},
		}})
	case store.StatusDenied, store.StatusCancelled:
		text := fmt.Sprintf("%s by %s at %s", capital(string(req.Status)), mention(req.DecidedBy), Time(req.DecidedAt))
		if req.DecisionNote != "" {
			text += ": “" + Literal(req.DecisionNote) + "”"
		}
		blocks = append(blocks, Block{Kind: BlockContext, Text: text + ". Nothing was changed."})
	case store.StatusExpired:
		blocks = append(blocks, Block{Kind: BlockContext, Text: "Expired at " + Time(req.ExpiresAt) + " without approval. Nothing was changed."})
	case store.StatusFailed:
		blocks = append(blocks, Block{Kind: BlockSection, Text: "*Failed: nothing was changed.* " + req.Failure})
	default:
		text := fmt.Sprintf("Approved by %s at %s.", approverMentions(req), Time(req.DecidedAt))
		if !c.Applied.IsZero() {
			text += fmt.Sprintf(" In place since %s.", Time(c.Applied))
		}
		if !c.Reverted.IsZero() {
			text += fmt.Sprintf(" Put back at %s.", Time(c.Reverted))
		} else if !c.Applied.IsZero() {
			text += fmt.Sprintf(" Reverts at %s (or now with `/signout policy reset`).", Time(c.Until))
		}
		blocks = append(blocks, Block{Kind: BlockContext, Text: text})
	}
	return Message{Text: fmt.Sprintf("Token lifetime policy change %s (%s): %s until %s", req.ID, req.Status,
		FormatDuration(c.Lifetime), c.Until.UTC().Format(time.RFC3339)), Blocks: blocks}
}

func policyTitle(req store.Request, c revocation.PolicyChange) string {
	switch {
	case req.Status == store.StatusRunning && !c.Applied.IsZero():
		return "in place"
	case req.Status == store.StatusDone:
		return "ended: the policy is back as it was"
	}
	return statusTitle[req.Status]
}
