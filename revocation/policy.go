package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// TimerPolicyRevert puts the organization-default token lifetime policy back at the end of a change's window.
const TimerPolicyRevert = "policy_revert"

// Audit events of a token lifetime policy change.
const (
	EventPolicySet      = "policy_set"
	EventPolicyReverted = "policy_reverted"
	EventPolicyStuck    = "policy_revert_failed"
)

// PolicyChange is a KindPolicy request's Data: what to set, until when, and what was there before, so the revert
// restores exactly that (or deletes the policy the change created).
type PolicyChange struct {
	Lifetime  time.Duration         `json:"lifetime"`
	Until     time.Time             `json:"until"`
	Applied   time.Time             `json:"applied,omitempty"`
	Previous  *graph.PolicySnapshot `json:"previous,omitempty"`
	HadPrev   bool                  `json:"hadPrevious,omitempty"`
	CreatedID string                `json:"createdId,omitempty"`
	Reverted  time.Time             `json:"reverted,omitempty"`
}

// DecodePolicyChange reads a KindPolicy request's Data.
func DecodePolicyChange(req store.Request) (PolicyChange, error) {
	var c PolicyChange
	if err := json.Unmarshal([]byte(req.Data), &c); err != nil {
		return c, fmt.Errorf("request %s: policy change: %w", req.ID, err)
	}
	return c, nil
}

func encode(c PolicyChange) string {
	b, _ := json.Marshal(c) // plain data: cannot fail
	return string(b)
}

// policyWritePermission is what a 403 on a policy write asks to grant.
const policyWritePermission = "grant the app the Microsoft Graph application permission Policy.ReadWrite.ApplicationConfiguration (with admin consent)"

// applyPolicy sets the approved lifetime, keeps what it replaced, and schedules the revert. It is safe to run
// again after a crash: a change already applied is only re-armed.
func (r *Runner) applyPolicy(ctx context.Context, req store.Request) error {
	c, err := DecodePolicyChange(req)
	if err != nil {
		return err
	}
	if !c.Applied.IsZero() {
		return r.Store.SetTimer(ctx, store.Timer{Kind: TimerPolicyRevert, RequestID: req.ID, Due: c.Until})
	}
	if !r.now().Before(c.Until) {
		req.Status, req.FinishedAt, req.Failure = store.StatusFailed, r.now(), "the window had already ended when the change was approved; nothing was changed"
		_, err := r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: req.ID, Type: EventFailed, Detail: req.Failure})
		r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
		return errors.Join(err, r.Store.DeleteTimer(ctx, TimerRun, req.ID))
	}
	name := fmt.Sprintf("signoutbot %s: access tokens %s until %s", req.ID, humanDuration(c.Lifetime), c.Until.UTC().Format(time.RFC3339))
	prev, hadPrev, createdID, err := r.Dir.SetOrganizationDefaultLifetime(ctx, c.Lifetime, name)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failure := fmt.Sprintf("Graph refused to set the token lifetime policy: %v", err)
		var ae *graph.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			failure += ". To fix: " + policyWritePermission
		} else if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
			failure += "."
		} else {
			return fmt.Errorf("policy %s: %w", req.ID, err) // transient: the scheduler tries again
		}
		req.Status, req.FinishedAt, req.Failure = store.StatusFailed, r.now(), failure
		if _, err := r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: req.ID, Type: EventFailed, Detail: failure}); err != nil {
			return err
		}
		r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
		return r.Store.DeleteTimer(ctx, TimerRun, req.ID)
	}
	if hadPrev {
		c.Previous = &prev
	}
	c.HadPrev, c.CreatedID, c.Applied = hadPrev, createdID, r.now()
	was := "there was no organization-default policy (it will be deleted at the end)"
	if hadPrev {
		was = fmt.Sprintf("it replaced %q with access tokens of %s (put back exactly at the end)", prev.DisplayName, humanDuration(prev.Lifetime))
	}
	req.Status, req.StartedAt, req.Data = store.StatusRunning, r.now(), encode(c)
	ev := store.Event{At: r.now(), RequestID: req.ID, Type: EventPolicySet,
		Detail: fmt.Sprintf("the organization-default access-token lifetime is now %s until %s; %s. It applies to access tokens "+
			"issued from now on; tokens issued before keep their lifetime", humanDuration(c.Lifetime), c.Until.UTC().Format(time.RFC3339), was)}
	if _, err := r.Store.UpdateRequest(ctx, req, ev); err != nil {
		// Graph changed but the store did not: say so loudly; the revert must not be lost.
		r.Log.Error("token lifetime policy set but not recorded", "request", req.ID, "err", err, "created", createdID)
		return err
	}
	if err := r.Store.SetTimer(ctx, store.Timer{Kind: TimerPolicyRevert, RequestID: req.ID, Due: c.Until}); err != nil {
		return err
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: req.ID})
	return r.Store.DeleteTimer(ctx, TimerRun, req.ID)
}

// RevertPolicy puts the organization-default policy back as it was before the change (or deletes the one the
// change created), at the end of the window or when an admin resets it.
func (r *Runner) RevertPolicy(ctx context.Context, id string) error {
	lease, ok, err := r.claim(ctx, id)
	if err != nil || !ok {
		return err
	}
	defer lease.Release()
	ctx = store.WithLease(lease.Context(), lease)
	req, err := r.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	c, err := DecodePolicyChange(req)
	if err != nil {
		return err
	}
	if req.Status != store.StatusRunning || c.Applied.IsZero() || !c.Reverted.IsZero() {
		return r.Store.DeleteTimer(ctx, TimerPolicyRevert, id)
	}
	var prev graph.PolicySnapshot
	if c.Previous != nil {
		prev = *c.Previous
	}
	if err := r.Dir.RestoreOrganizationDefault(ctx, prev, c.HadPrev, c.CreatedID); err != nil {
		r.Log.Error("revert token lifetime policy", "request", id, "err", err)
		_ = r.Store.AppendEvent(ctx, store.Event{At: r.now(), RequestID: id, Type: EventPolicyStuck,
			Detail: fmt.Sprintf("could not put the token lifetime policy back yet (%v); I keep trying", err)})
		r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
		return err
	}
	c.Reverted = r.now()
	what := "deleted the policy it had created"
	if c.HadPrev {
		what = fmt.Sprintf("restored %q with access tokens of %s", prev.DisplayName, humanDuration(prev.Lifetime))
	}
	req.Status, req.FinishedAt, req.Data = store.StatusDone, r.now(), encode(c)
	if _, err := r.Store.UpdateRequest(ctx, req, store.Event{At: r.now(), RequestID: id, Type: EventPolicyReverted,
		Detail: "the token lifetime policy change ended: " + what}); err != nil {
		return err
	}
	r.notify(ctx, Notice{Kind: NoticeInfo, RequestID: id})
	return r.Store.DeleteTimer(ctx, TimerPolicyRevert, id)
}

// runPolicy carries out an approved token lifetime policy change.
func (r *Runner) runPolicy(ctx context.Context, req store.Request) error {
	if req.Status == store.StatusApproved || req.Status == store.StatusRunning {
		return r.applyPolicy(ctx, req)
	}
	return r.Store.DeleteTimer(ctx, TimerRun, req.ID)
}
