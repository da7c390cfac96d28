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
