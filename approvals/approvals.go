// Package approvals holds the rules of a sign-out request: who may ask, who may approve, how many must, and
// when a request stops waiting. Every authorisation decision is one call to Authorize, so adapters never
// decide on their own.
package approvals

import (
	"fmt"
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

// SameActor reports whether two actors are the same person on the same platform.
func SameActor(a, b store.Actor) bool { return a.Platform == b.Platform && a.ID == b.ID }

// Authorize decides whether p may do a to r at now. r is nil for ActRequest. A nil error means yes.
func Authorize(p Principal, a Action, r *store.Request, now time.Time) error {
	if !p.Admin {
		return refuse("Only configured sign-out admins can %s sign-out requests. Ask an admin, or ask whoever runs signoutbot to add you.", verb(a))
	}
	if a == ActRequest || a == ActStatus {
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
				return refuse("You have already approved request %s; it needs %d more approval(s) from other admins.",
					r.ID, r.RequiredApprovals-len(r.Approvals))
			}
		}
		return nil
	case ActDeny, ActCancel:
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
	n := 0
	for _, ap := range r.Approvals {
		if !SameActor(ap.Actor, r.Requester) {
			n++
		}
	}
	return n >= max(r.RequiredApprovals, 1)
}
