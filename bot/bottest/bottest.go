// Package bottest is the adapter-neutral scenario suite: the workflow stories every chat platform must tell the
// same way (approve, deny, cancel, expiry, quorum, self-approval, double click, restart mid-run), written once
// against a small Driver interface that each adapter's tests implement over its own fake platform (the console's
// page API, a fake Slack, a fake Bot Framework connector). In the style of store/storetest.
package bottest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// The people every driver knows. Alice, Bob and Carol are admins with Entra accounts alice@, bob@ and
// carol@contoso.com in the tenant; Eve is not an admin.
const (
	Alice = "alice"
	Bob   = "bob"
	Carol = "carol"
	Eve   = "eve"
)

// Options is the bot a story needs.
type Options struct {
	Policy approvals.Policy
	// Tenant sizes the simulated tenant (defaults: 30 users, a 5-member big group).
	Tenant graphtest.Options
	// WriteRate paces revocations (default: fast).
	WriteRate float64
}

// Driver is one running bot behind one chat platform, driven as its people would drive it.
type Driver interface {
	// Command types "/signout <text>" as person (one of the names above) and returns once the bot handled it.
	Command(t testing.TB, as, text string)
	// Approve presses Approve on the request's card.
	Approve(t testing.TB, as, requestID string)
	// Deny presses Deny on the request's card and gives reason ("" for none) where the platform asks for one.
	Deny(t testing.TB, as, requestID, reason string)
	// Card is the request's card as people see it now (plain text, markup resolved).
	Card(t testing.TB, requestID string) string
	// Thread is every reply under the request's card so far, in order (plain text).
	Thread(t testing.TB, requestID string) string
	// Private is everything the bot has shown person alone so far, in order (plain text).
	Private(t testing.TB, as string) string
	// Store is the bot's store; Tenant its simulated tenant.
	Store() store.Store
	Tenant() *graphtest.Server
	// Restart stops the bot as a crash would and starts a new process on the same store and platform.
	Restart(t testing.TB)
}

// NewDriver starts a bot with opts for one story.
type NewDriver func(t *testing.T, opts Options) Driver

// Run tells every story against the drivers newDriver makes.
func Run(t *testing.T, newDriver NewDriver) {
	stories := []struct {
		name string
		fn   func(*testing.T, NewDriver)
	}{
		{"Approve", storyApprove},
		{"SelfApprovalAndNonAdminRefused", storySelfApproval},
		{"DenyWithReason", storyDeny},
		{"Cancel", storyCancel},
		{"Expiry", storyExpiry},
		{"Quorum", storyQuorum},
		{"DoubleClick", storyDoubleClick},
		{"RestartMidRun", storyRestart},
		{"ScopeFile", storyScopeFile},
		{"FinalReport", storyFinalReport},
		{"LargeRunMessages", storyLargeRunMessages},
	}
	for _, s := range stories {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newDriver) })
	}
}

// Wait polls until cond holds, failing after timeout.
func Wait(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// only returns the single request created since the story began.
func only(t testing.TB, d Driver) store.Request {
	t.Helper()
	reqs, err := d.Store().ListRequests(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func status(t testing.TB, d Driver, id string) store.Request {
	t.Helper()
	r, err := d.Store().GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitStatus(t testing.TB, d Driver, id string, want store.RequestStatus) store.Request {
	t.Helper()
	var r store.Request
	Wait(t, "request "+id+" to be "+string(want), 30*time.Second, func() bool {
		r = status(t, d, id)
		return r.Status == want
	})
	return r
}

func waitText(t testing.TB, what string, get func() string, want ...string) string {
	t.Helper()
	var got string
	Wait(t, what+" to show "+strings.Join(want, ", "), 20*time.Second, func() bool {
		got = get()
		for _, w := range want {
			if !strings.Contains(got, w) {
				return false
			}
		}
		return true
	})
	return got
}

func revocations(d Driver) int { return len(d.Tenant().Revocations()) }

func storyApprove(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{})
	d.Command(t, Alice, "user lester@contoso.com")
	r := only(t, d)
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "waiting for approval", "Lester Tester", "1 user", "will be signed out")
	d.Approve(t, Bob, r.ID)
	waitStatus(t, d, r.ID, store.StatusDone)
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "done: every client is signed out", "Revoked 1/1")
	waitText(t, "the thread", func() string { return d.Thread(t, r.ID) }, "Sessions invalid, confirmed from Graph",
		"Every revocation has been sent", "Access tokens expired — every client is signed out")
	waitText(t, "alice's private notices", func() string { return d.Private(t, Alice) }, "Your sign-out request "+r.ID+" was approved")
	if n := revocations(d); n != 1 {
		t.Errorf("%d revocations, want 1", n)
	}
}

func storySelfApproval(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{})
	d.Command(t, Alice, "user lester@contoso.com")
	r := only(t, d)
	d.Approve(t, Alice, r.ID)
	waitText(t, "alice's refusal", func() string { return d.Private(t, Alice) }, "cannot approve it")
	d.Approve(t, Eve, r.ID)
	waitText(t, "eve's refusal", func() string { return d.Private(t, Eve) }, "Only configured sign-out admins")
	d.Command(t, Eve, "user testy@contoso.com")
	if got := status(t, d, r.ID); got.Status != store.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("after refused approvals: %s with %d approvals", got.Status, len(got.Approvals))
	}
	if reqs, _ := d.Store().ListRequests(context.Background(), store.Filter{}); len(reqs) != 1 {
		t.Errorf("a non-admin's command created a request (%d requests)", len(reqs))
	}
	if n := revocations(d); n != 0 {
		t.Errorf("%d revocations", n)
	}
}

func storyDeny(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{})
	d.Command(t, Alice, "user lester@contoso.com")
	r := only(t, d)
	d.Deny(t, Bob, r.ID, "wrong user")
	r = waitStatus(t, d, r.ID, store.StatusDenied)
	if r.DecisionNote != "wrong user" {
		t.Errorf("decision note %q", r.DecisionNote)
	}
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "Denied by", "wrong user", "Was to be signed out")
	waitText(t, "alice's notice", func() string { return d.Private(t, Alice) }, "Your sign-out request "+r.ID+" was denied", "wrong user")
	d.Approve(t, Carol, r.ID)
	waitText(t, "carol's refusal", func() string { return d.Private(t, Carol) }, "already denied")
	if n := revocations(d); n != 0 {
		t.Errorf("%d revocations after deny", n)
	}
}

func storyCancel(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{})
	d.Command(t, Alice, "user lester@contoso.com")
	r := only(t, d)
	d.Command(t, Eve, "cancel "+r.ID)
	if got := status(t, d, r.ID); got.Status != store.StatusPending {
		t.Fatalf("a non-admin cancelled: %s", got.Status)
	}
	d.Command(t, Alice, "cancel "+r.ID)
	waitStatus(t, d, r.ID, store.StatusCancelled)
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "Cancelled by", "Nobody was signed out")
}

func storyExpiry(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Policy: approvals.Policy{Expiry: time.Second}})
	d.Command(t, Alice, "user lester@contoso.com")
	r := only(t, d)
	waitStatus(t, d, r.ID, store.StatusExpired)
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "Expired at", "Was to be signed out")
	waitText(t, "alice's notice", func() string { return d.Private(t, Alice) }, "Your sign-out request "+r.ID+" expired")
	d.Approve(t, Bob, r.ID)
	waitText(t, "bob's refusal", func() string { return d.Private(t, Bob) }, "already expired")
}

func storyQuorum(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Policy: approvals.Policy{QuorumAbove: 3}})
	d.Command(t, Alice, "group Test")
	r := only(t, d)
	if r.RequiredApprovals != 2 {
		t.Fatalf("RequiredApprovals = %d, want 2", r.RequiredApprovals)
	}
	d.Approve(t, Bob, r.ID)
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "approved so far by")
	if got := status(t, d, r.ID); got.Status != store.StatusPending {
		t.Fatalf("one approval of two started the run: %s", got.Status)
	}
	d.Approve(t, Carol, r.ID)
	waitStatus(t, d, r.ID, store.StatusDone)
}

func storyDoubleClick(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Policy: approvals.Policy{QuorumAbove: 3}})
	d.Command(t, Alice, "group Test")
	r := only(t, d)
	d.Approve(t, Bob, r.ID)
	d.Approve(t, Bob, r.ID)
	waitText(t, "bob's notice", func() string { return d.Private(t, Bob) }, "already approved")
	if got := status(t, d, r.ID); got.Status != store.StatusPending || len(got.Approvals) != 1 {
		t.Fatalf("a double click counted twice: %s with %d approvals", got.Status, len(got.Approvals))
	}
}

func storyRestart(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Tenant: graphtest.Options{Users: 20, BigGroupSize: 150, Latency: 5 * time.Millisecond}, WriteRate: 50})
	d.Command(t, Alice, "group "+graphtest.GroupBig)
	r := only(t, d)
	d.Approve(t, Bob, r.ID)
	d.Approve(t, Carol, r.ID)
	Wait(t, "some revocations", 20*time.Second, func() bool { return revocations(d) >= 20 })
	d.Restart(t)
	r = waitStatus(t, d, r.ID, store.StatusDone)
	targets, err := d.Store().Targets(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range targets {
		if x.Status != store.TargetTokensExpired && x.Status != store.TargetExcluded && x.Status != store.TargetGuest {
			t.Errorf("%s ended %s", x.UPN, x.Status)
		}
	}
	waitText(t, "the card", func() string { return d.Card(t, r.ID) }, "done: every client is signed out")
}
