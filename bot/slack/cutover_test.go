package slack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// A sign-out scheduled with --at is approved ahead, listed by /signout schedule, waits for its time, and runs
// then; one scheduled later can be cancelled after its approval; a time in the past is refused.
func TestScheduledSignOut(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, `user lester@contoso.com --at "`+time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04")+` UTC"`)
	if got := e.lastEphemeral(alice); !strings.Contains(got, "which has passed") || len(e.requests()) != 0 {
		t.Fatalf("a past --at: told %q, %d requests", got, len(e.requests()))
	}
	at := time.Now().Add(3 * time.Second).UTC()
	e.slash(alice, `user lester@contoso.com --at "`+at.Format("2006-01-02 15:04:05")+` UTC" --reason "wave 1"`)
	r := e.onlyRequest()
	if !r.NotBefore.Equal(at.Truncate(time.Second)) {
		t.Fatalf("NotBefore = %v, want %v", r.NotBefore, at)
	}
	e.waitCard(r, "Scheduled for", "starting at")
	e.click(bob, "approve", r)
	waitFor(t, "the approval", 5*time.Second, func() bool { return e.request(r.ID).Status == store.StatusApproved })
	e.slash(carol, "schedule")
	if got := e.lastEphemeral(carol); !strings.Contains(got, r.ID) || !strings.Contains(got, "approved") {
		t.Errorf("schedule lists %q", got)
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before the scheduled time", n)
	}
	e.waitStatus(r.ID, store.StatusDone, 30*time.Second)

	later := time.Now().Add(2 * time.Hour).UTC()
	e.slash(alice, `user testy@contoso.com --at "`+later.Format("2006-01-02 15:04")+` UTC"`)
	var second store.Request
	for _, x := range e.requests() {
		if x.ID != r.ID {
			second = x
		}
	}
	e.click(bob, "approve", second)
	waitFor(t, "the approval", 5*time.Second, func() bool { return e.request(second.ID).Status == store.StatusApproved })
	e.slash(alice, "cancel "+second.ID)
	if got := e.request(second.ID); got.Status != store.StatusCancelled {
		t.Fatalf("an approved scheduled sign-out could not be cancelled before its time: %s", got.Status)
	}
}

// /signout plan shows the plan and asks nobody for anything; /signout audit tells a request's story.
func TestPlanAndAudit(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "plan group Test")
	got := e.lastEphemeral(alice)
	for _, w := range []string{"Plan only — nothing was requested", "7 users* would be signed out", "at Graph's", "per second"} {
		if !strings.Contains(got, w) {
			t.Errorf("plan lacks %q: %s", w, got)
		}
	}
	if len(e.requests()) != 0 {
		t.Fatal("plan created a request")
	}
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.click(bob, "approve", r)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	e.slash(carol, "audit "+strings.ToLower(r.ID))
	got = e.lastEphemeral(carol)
	for _, w := range []string{"Audit of " + r.ID, "approved by <@" + bob + ">", "Lester Tester", "tokens expired", "revoked", "confirmed"} {
		if !strings.Contains(got, w) {
			t.Errorf("audit lacks %q: %s", w, got)
		}
	}
}

// A token lifetime policy change is a request a second admin approves; it shows in /signout policy, takes
// effect for the deadlines of sign-outs that follow, and /signout policy reset puts the policy back at once.
func TestPolicyChangeNeedsASecondAdmin(t *testing.T) {
	e := newEnv(t, envOpts{lifetime: 90 * time.Minute})
	until := time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02 15:04")
	e.slash(alice, `policy set 10m --until "`+until+` UTC" --reason "cutover weekend"`)
	r := e.onlyRequest()
	if r.Kind != store.KindPolicy {
		t.Fatalf("request kind %q", r.Kind)
	}
	e.waitCard(r, "Token lifetime policy change", "*10 min*", "applies to access tokens issued after it is set")
	e.click(alice, "approve", r)
	if got := e.lastEphemeral(alice); !strings.Contains(got, "cannot approve it") {
		t.Fatalf("the requester approved their own policy change: %q", got)
	}
	e.slash(bob, `policy set 15m --until "`+until+` UTC"`)
	if got := e.lastEphemeral(bob); !strings.Contains(got, "already changes the token lifetime policy") {
		t.Errorf("a second change at once: %q", got)
	}
	e.click(bob, "approve", r)
	waitFor(t, "the policy in place", 10*time.Second, func() bool { return e.request(r.ID).Status == store.StatusRunning })
	e.slash(carol, "policy")
	if got := e.lastEphemeral(carol); !strings.Contains(got, "*10 min*") || !strings.Contains(got, r.ID) {
		t.Errorf("policy shows %q", got)
	}
	e.slash(carol, "policy reset")
	e.waitStatus(r.ID, store.StatusDone, 10*time.Second)
	e.waitThread(r, "The organization-default access-token lifetime is now 10 min", "The token lifetime policy change ended: restored")
	e.slash(carol, "policy")
	if got := e.lastEphemeral(carol); !strings.Contains(got, "*90 min*") {
		t.Errorf("after the reset the policy shows %q", got)
	}
}
