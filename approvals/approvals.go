// Package approvals holds the rules of a sign-out request: who may ask, who may approve, how many must, and
// when a request stops waiting. Every authorisation decision is one call to Authorize, so adapters never
// decide on their own.
package approvals

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// Action is something a person does to a request.
type Action string

const (
	ActRequest Action = "request"
	ActApprove Action = "approve"
	ActDeny    Action = "deny"
	ActCancel  Action = "cancel"
	ActStatus  Action = "status"
)

// Principal is an actor and what the configuration says they are. Whether someone is an admin is decided once,
// by the bot's admin resolver (configured ids, Slack user group, Entra group), before Authorize is asked.
type Principal struct {
	Actor store.Actor
	Admin bool
}

// Refusal is a rule saying no. Its text is shown to the person (ephemerally), and nothing changes.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, a ...any) error { return &Refusal{Reason: fmt.Sprintf(format, a...)} }

// Policy is the configurable part of the rules.
type Policy struct {
	// QuorumAbove: scopes with more users than this need two distinct approvers (default 100).
	QuorumAbove int
	// Expiry is how long a request waits for approval (default 30 min).
	Expiry time.Duration
}

// WithDefaults fills zero fields.
func (p Policy) WithDefaults() Policy {
	if p.QuorumAbove <= 0 {
		p.QuorumAbove = 100
	}
	if p.Expiry <= 0 {
		p.Expiry = 30 * time.Minute
	}
	return p
}

// RequiredApprovals is how many admins other than the requester must approve a scope of n users.
func (p Policy) RequiredApprovals(n int) int {
	if n > p.WithDefaults().QuorumAbove {
		return 2
	}
	return 1
}

// SameActor reports whether two actors are the same person. When both are bound to Entra users (the bot
// resolves every requester and approver), the Entra object ids decide, so one person with two chat accounts
// (two Slack accounts with the same UPN, or Slack and Teams) is one person. Without Entra ids (requests stored
// before identities were resolved) the chat accounts decide.
func SameActor(a, b store.Actor) bool {
	if a.Entra != "" && b.Entra != "" {
		return strings.EqualFold(a.Entra, b.Entra)
	}
	return a.Platform == b.Platform && a.ID == b.ID
}

// Authorize decides whether p may do a to r at now. r is nil for ActRequest. A nil error means yes.
func Authorize(p Principal, a Action, r *store.Request, now time.Time) error {
	if !p.Admin {
		return refuse("Only configured sign-out admins can %s sign-out requests. Ask an admin, or ask whoever runs signoutbot to add you.", verb(a))
	}
	if a == ActStatus {
		return nil
	}
	// Four-eyes compares Entra users: an actor the bot could not bind to one cannot take part.
	if p.Actor.Entra == "" {
		return refuse("I could not link your chat account to a Microsoft Entra user, and two-person approval compares Entra users, " +
			"so I cannot accept this. Ask whoever runs signoutbot to map your account (SIGNOUTBOT_IDENTITIES).")
	}
	if a == ActRequest {
		return nil
	}
	if r == nil {
		return refuse("No such request.")
	}
	switch a {
	case ActApprove:
		if SameActor(p.Actor, r.Requester) {
			return refuse("You asked for request %s, so you cannot approve it: a second admin must.", r.ID)
		}
		if err := stillPending(r, now); err != nil {
			return err
		}
		for _, ap := range r.Approvals {
			if SameActor(ap.Actor, p.Actor) {
				n := r.RequiredApprovals - len(r.Approvals)
				more := "1 more approval"
				if n != 1 {
					more = fmt.Sprintf("%d more approvals", n)
				}
				return refuse("You have already approved request %s; it needs %s from other admins.", r.ID, more)
			}
		}
		return nil
	case ActCancel:
		// A scheduled sign-out can be withdrawn until it starts, approved or not.
		if r.Status == store.StatusApproved && !r.NotBefore.IsZero() && now.Before(r.NotBefore) {
			return nil
		}
		return stillPending(r, now)
	case ActDeny:
		return stillPending(r, now)
	}

	return refuse("Unknown action %q.", a)
}

func stillPending(r *store.Request, now time.Time) error {
	if r.Status != store.StatusPending {
		return refuse("Request %s is already %s.", r.ID, r.Status)
	}
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return refuse("Request %s expired at %s UTC; ask again if it is still needed.", r.ID, r.ExpiresAt.UTC().Format("15:04"))
	}
	return nil
}

func verb(a Action) string {
	switch a {
	case ActRequest:
		return "make"
	case ActStatus:
		return "look up"
	}
	return string(a)
}

// Approved reports whether r has enough approvals from admins other than its requester.
func Approved(r store.Request) bool {
	// Distinct people other than the requester: two rows for one Entra user count once.
	var counted []store.Actor
	for _, ap := range r.Approvals {
		if SameActor(ap.Actor, r.Requester) || slices.ContainsFunc(counted, func(c store.Actor) bool { return SameActor(c, ap.Actor) }) {
			continue
		}
		counted = append(counted, ap.Actor)
	}
	return len(counted) >= max(r.RequiredApprovals, 1)
}

// Decide applies a person's deny or cancel to a pending request: the request as it must be stored and the audit
// event to store with it, or a *Refusal. It is pure, so callers can retry it on a fresh copy after losing a
// compare-and-swap. A requester denying their own request is recorded as a cancel. Approvals are rows of their
// own: see Approve and Quorum.
func Decide(r store.Request, p Principal, a Action, now time.Time, note string) (store.Request, store.Event, error) {
	if a == ActDeny && SameActor(p.Actor, r.Requester) {
		a = ActCancel
	}
	if a != ActDeny && a != ActCancel {
		return r, store.Event{}, refuse("Unknown action %q.", a)
	}
	if err := Authorize(p, a, &r, now); err != nil {
		return r, store.Event{}, err
	}
	to := map[Action]store.RequestStatus{ActDeny: store.StatusDenied, ActCancel: store.StatusCancelled}[a]
	r.Status, r.DecidedAt, r.DecidedBy, r.DecisionNote = to, now, p.Actor, note
	detail := fmt.Sprintf("%s by %s", to, p.Actor.Name)
	if note != "" {
		detail += ": " + note
	}
	return r, store.Event{At: now, RequestID: r.ID, Actor: p.Actor, Type: string(to), Detail: detail}, nil
}

// Approve checks an approval and returns the approval row and its audit event to store.
func Approve(r store.Request, p Principal, now time.Time) (store.Approval, store.Event, error) {
	if err := Authorize(p, ActApprove, &r, now); err != nil {
		return store.Approval{}, store.Event{}, err
	}
	return store.Approval{Actor: p.Actor, At: now},
		store.Event{At: now, RequestID: r.ID, Actor: p.Actor, Type: "approved", Detail: "approved by " + p.Actor.Name}, nil
}

// Quorum moves a pending request with enough approvals to approved. ok is false when nothing changes (not
// pending, or approvals still missing). by is who completed the quorum (the bot itself during recovery).
func Quorum(r store.Request, by store.Actor, now time.Time) (store.Request, store.Event, bool) {
	if r.Status != store.StatusPending || !Approved(r) {
		return r, store.Event{}, false
	}
	names := make([]string, 0, len(r.Approvals))
	for _, ap := range r.Approvals {
		names = append(names, ap.Actor.Name)
	}
	r.Status, r.DecidedAt = store.StatusApproved, now
	return r, store.Event{At: now, RequestID: r.ID, Actor: by, Type: "quorum",
		Detail: "approved by " + strings.Join(names, " and ")}, true
}

// Expire ends a pending request whose time is up; ok is false when it is not pending or not yet due.
func Expire(r store.Request, now time.Time) (store.Request, store.Event, bool) {
	if r.Status != store.StatusPending || now.Before(r.ExpiresAt) {
		return r, store.Event{}, false
	}
	r.Status, r.DecidedAt = store.StatusExpired, now
	return r, store.Event{At: now, RequestID: r.ID, Type: "expired", Detail: "nobody approved in time"}, true
}
