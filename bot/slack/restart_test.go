package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// TestRestartMidRunFinishesEveryUser stops the bot while it is revoking a 500-user group and starts a new
// process on the same database: the new one must finish every user, edit the same Slack message, and repeat at
// most the revocations that were in flight (revocation is idempotent).
func TestRestartMidRunFinishesEveryUser(t *testing.T) {
	o := envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 500, Latency: 5 * time.Millisecond}, writeRate: 100}
	e := newEnv(t, o)
	e.slack.RateLimitPosts(4) // the thread must arrive whole through Slack's rate limit
	e.slash(alice, "group "+graphtest.GroupBig+` --reason "wave 1 cutover"`)
	r := e.onlyRequest()
	if r.RequiredApprovals != 2 {
		t.Fatalf("500 users need 2 approvers, request needs %d", r.RequiredApprovals)
	}
	// The card shows a sample; the thread has everyone, so nothing is silently truncated.
	if card := e.card(r).AllText(); !strings.Contains(card, "…and 490 more: the full list of 500 is in the thread") {
		t.Errorf("card does not point to the full list:\n%s", card)
	}
	// Above 50 users that list is one file, not a message per 100 users.
	e.waitThread(r, "Everyone in scope: 500 users — scope-"+r.ID+".csv")
	if files := e.slack.ThreadFiles(channel, r.Message.ID); len(files) != 1 {
		t.Errorf("%d files in the thread, want the scope file", len(files))
	} else if rows := bottest.ParseReport(t, files[0].Content); len(rows) != 500 {
		t.Errorf("the scope file lists %d users, want 500", len(rows))
	}
	e.click(bob, "approve", r)
	e.click(carol, "approve", r)

	revoked := func() int {
		n := 0
		for _, x := range e.targets(r.ID) {
			if !x.RevokedAt.IsZero() {
				n++
			}
		}
		return n
	}
	waitFor(t, "100 users revoked", 20*time.Second, func() bool { return revoked() >= 100 })
	e.stop()
	atStop := len(e.tenant.Revocations())
	if atStop >= 500 {
		t.Fatalf("the run finished before the stop (%d revocations); the test proves nothing", atStop)
	}
	t.Logf("stopped after %d revocations reached the tenant", atStop)

	e.start(o)
	r = e.waitStatus(r.ID, store.StatusDone, 60*time.Second)
	counts := revokedUPNs(e.tenant)
	repeats := 0
	for _, x := range e.targets(r.ID) {
		if x.Status != store.TargetTokensExpired {
			t.Errorf("%s ended %s (%s)", x.UPN, x.Status, x.Detail)
		}
		n := counts[strings.ToLower(x.UPN)]
		if n == 0 {
			t.Errorf("%s was never revoked", x.UPN)
		}
		repeats += n - 1
	}
	if len(e.targets(r.ID)) != 500 {
		t.Fatalf("%d targets", len(e.targets(r.ID)))
	}
	// Only batches in flight at the stop can be sent twice: at most 4 batches of 20.
	if repeats > 80 {
		t.Errorf("%d revocations repeated after the restart; only in-flight ones may be", repeats)
	}
	t.Logf("after restart: all 500 confirmed; %d revocations repeated (in flight at the stop)", repeats)
	if top := e.slack.TopLevel(channel); len(top) != 1 {
		t.Errorf("%d top-level messages: the restarted bot must edit the same card", len(top))
	}
	e.waitCard(r, "Revoked 500/500", "— done")
	if n := e.countEvents(r.ID, "started"); n != 1 {
		t.Errorf("%d started events; the restart must resume, not start again", n)
	}
}

// A crash between storing a request and writing its timer must not leave a request that never expires or
// never runs: a restarted bot sets the timers again from the stored state.
func TestRestartRestoresLostTimers(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	pendingReq := e.onlyRequest()
	e.slash(alice, "user testy@contoso.com")
	var approvedReq store.Request
	reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
	for _, r := range reqs {
		if r.ID != pendingReq.ID {
			approvedReq = e.request(r.ID)
		}
	}
	e.stop()
	// Simulate the crash window: the approval is stored, but the timers are gone.
	st, err := sqlite.Open(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	approvedReq.Status, approvedReq.DecidedAt = store.StatusApproved, time.Now()
	if _, err := st.UpdateRequest(context.Background(), approvedReq); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{pendingReq.ID, approvedReq.ID} {
		if err := st.DeleteTimer(context.Background(), "expire", id); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	e.start(envOpts{policy: approvals.Policy{Expiry: time.Hour}})
	e.waitStatus(approvedReq.ID, store.StatusDone, 20*time.Second)
	due, err := e.st.DueTimers(context.Background(), time.Now().Add(2*time.Hour))
	var left []store.Timer
	for _, tm := range due {
		if tm.Kind != revocation.TimerCrossCheck { // the finished run's audit-log check, a few minutes on
			left = append(left, tm)
		}
	}
	if err != nil || len(left) != 1 || left[0].RequestID != pendingReq.ID || left[0].Kind != "expire" {
		t.Errorf("timers after restart: %+v, %v; want the pending request's expiry", due, err)
	}
}
