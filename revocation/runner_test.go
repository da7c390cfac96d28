package revocation_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/graph/graphtest/tenanttest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

type notices struct {
	mu   sync.Mutex
	list []revocation.Notice
}

func (n *notices) Notify(_ context.Context, x revocation.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, x)
}

func (n *notices) kinds() []revocation.NoticeKind {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []revocation.NoticeKind
	for _, x := range n.list {
		out = append(out, x.Kind)
	}
	return out
}

type fixture struct {
	tenant  *graphtest.Server
	st      store.Store
	clk     *clock.Fake
	runner  *revocation.Runner
	notices *notices
}

func newFixture(t testing.TB, opts graphtest.Options, protected ...string) *fixture {
	t.Helper()
	return newFixtureWith(t, opts, graph.Config{}, protected...)
}

// newFixtureWith is newFixture with the Graph client configured by cfg. Its runner reads users back only once
// every revocation is sent (ConfirmAfter -1), so tests of what a run stores see every user "revoked" after Run;
// the tests of confirmations during the run (confirm_test.go) turn them on.
func newFixtureWith(t testing.TB, opts graphtest.Options, cfg graph.Config, protected ...string) *fixture {
	t.Helper()
	tenant, dir := tenanttest.Start(t, opts, cfg)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{tenant: tenant, st: st, clk: clock.NewFake(time.Now()), notices: &notices{}}
	prot, err := scope.ResolveProtection(context.Background(), dir, protected)
	if err != nil {
		t.Fatal(err)
	}
	f.runner = &revocation.Runner{Store: st, Dir: dir, Protection: prot, Clock: f.clk,
		Notifier: f.notices, Owner: "test", Log: slog.New(slog.DiscardHandler), VerifyBackoff: []time.Duration{10 * time.Second},
		ConfirmAfter: -1}
	return f
}

// approved stores an approved request for the given users, as the approvals flow leaves it.
func (f *fixture) approved(t testing.TB, upns ...string) store.Request {
	t.Helper()
	var targets []store.Target
	for i, upn := range upns {
		u, ok := f.tenant.User(upn)
		if !ok {
			t.Fatalf("no %s", upn)
		}
		targets = append(targets, store.Target{Seq: i, UserID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName,
			Guest: u.UserType == "Guest", Disabled: !u.AccountEnabled, Status: store.TargetPending})
	}
	now := f.clk.Now()
	r, err := f.st.CreateRequest(context.Background(), store.Request{ID: "RTEST1", Status: store.StatusApproved, ScopeKind: "users",
		RequiredApprovals: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour), DecidedAt: now,
		Requester: store.Actor{Platform: "test", ID: "U1", Name: "alice"}}, targets, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) byUPN(t testing.TB, id string) map[string]store.Target {
	t.Helper()
	ts, err := f.st.Targets(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Target{}
	for _, x := range ts {
		out[strings.ToLower(x.UPN)] = x
	}
	return out
}

func (f *fixture) timer(t testing.TB, kind, id string) (time.Time, bool) {
	t.Helper()
	due, err := f.st.DueTimers(context.Background(), f.clk.Now().Add(100*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range due {
		if tm.Kind == kind && tm.RequestID == id {
			return tm.Due, true
		}
	}
	return time.Time{}, false
}

// Graph shows a revocation only after a replication delay: the verifier must not confirm early, must try again
// after its back-off, and must confirm once Graph shows the new time.
func TestVerifyWaitsForReplication(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5, ReplicationDelay: 1500 * time.Millisecond})
	f.tenant.SetOrganizationDefaultAccessTokenLifetime(time.Hour)
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty)
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetRevoked {
			t.Fatalf("%s confirmed before Graph showed the revocation: %+v", upn, x)
		}
	}
	due, ok := f.timer(t, revocation.TimerVerify, r.ID)
	if !ok || due.Sub(f.clk.Now()) != 10*time.Second {
		t.Fatalf("next verification at %v (ok=%v); want in the back-off of 10 s", due, ok)
	}
	time.Sleep(1600 * time.Millisecond) // the tenant's replication runs on real time
	f.clk.Advance(10 * time.Second)
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetSessionsInvalid || x.SessionsValidFrom.Before(x.GraphRevokedAt) {
			t.Errorf("%s after replication: %+v", upn, x)
		}
	}
	if _, ok := f.timer(t, revocation.TimerVerify, r.ID); ok {
		t.Error("verification timer still set after every target was confirmed")
	}
	req, _ := f.st.GetRequest(ctx, r.ID)
	if req.Status != store.StatusRunning || req.TokenLifetime != time.Hour || !strings.Contains(req.LifetimeSource, "policy") {
		t.Errorf("request = %s, lifetime %s from %q", req.Status, req.TokenLifetime, req.LifetimeSource)
	}
	if due, ok := f.timer(t, revocation.TimerTokensExpired, r.ID); !ok || !due.Equal(req.TokensExpireAt) {
		t.Errorf("deadline timer %v, request deadline %v", due, req.TokensExpireAt)
	}
}

// If the deadline passes before Graph confirms a user, the user goes straight to "access tokens expired" when
// confirmed, and the request finishes then.
func TestConfirmationAfterTheDeadline(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5, ReplicationDelay: time.Second})
	f.tenant.SetOrganizationDefaultAccessTokenLifetime(time.Minute)
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNJaneGuest)
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	if err := f.runner.TokensExpired(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if req, _ := f.st.GetRequest(ctx, r.ID); req.Status != store.StatusRunning {
		t.Fatalf("request %s with an unconfirmed user", req.Status)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	got := f.byUPN(t, r.ID)
	if x := got[graphtest.UPNLester]; x.Status != store.TargetTokensExpired || x.ConfirmedAt.IsZero() {
		t.Errorf("lester: %+v", x)
	}
	if x := got[strings.ToLower(graphtest.UPNJaneGuest)]; x.Status != store.TargetGuest || !strings.Contains(x.Detail, "home tenant") {
		t.Errorf("guest: %+v", x)
	}
	if req, _ := f.st.GetRequest(ctx, r.ID); req.Status != store.StatusDone || req.FinishedAt.IsZero() {
		t.Errorf("request = %s, finished %v", req.Status, req.FinishedAt)
	}
	kinds := f.notices.kinds()
	if len(kinds) == 0 || kinds[0] != revocation.NoticeStarted {
		t.Errorf("notices %v", kinds)
	}
}

// A user who joined a protected group after the preview is still never revoked: the runner checks again.
func TestProtectionIsCheckedAgainBeforeRevoking(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5}, "Break Glass", "megan@contoso.com")
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNAdele, graphtest.UPNMegan)
	adele, _ := f.tenant.User(graphtest.UPNAdele)
	bg := f.tenant.FindGroups(graphtest.GroupBreakGlass)[0]
	bg.MemberIDs = append(bg.MemberIDs, adele.ID)
	f.tenant.AddGroup(bg)
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	got := f.byUPN(t, r.ID)
	for _, upn := range []string{graphtest.UPNAdele, graphtest.UPNMegan} {
		if got[upn].Status != store.TargetExcluded || !strings.Contains(got[upn].Detail, "protected") {
			t.Errorf("%s: %+v", upn, got[upn])
		}
	}
	if got[graphtest.UPNLester].Status != store.TargetRevoked {
		t.Errorf("lester: %+v", got[graphtest.UPNLester])
	}
	for _, rv := range f.tenant.Revocations() {
		if rv.UserID == adele.ID {
			t.Fatal("a protected account reached Graph")
		}
	}
	if n := len(f.tenant.Revocations()); n != 1 {
		t.Errorf("%d revocations, want 1", n)
	}
}

// Two replicas: while one holds the request's lease, the other does nothing.
func TestLeaseKeepsASecondRunnerOut(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	r := f.approved(t, graphtest.UPNLester)
	ctx := context.Background()
	ok, err := f.st.Claim(ctx, "request:"+r.ID, "other-replica", f.clk.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations while another replica holds the lease", n)
	}
	if err := f.st.Release(ctx, "request:"+r.ID, "other-replica"); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tenant.Revocations()); n != 1 {
		t.Fatalf("%d revocations after the lease was released", n)
	}
}

func (f *fixture) events(t *testing.T, id string) map[string][]store.Event {
	t.Helper()
	evs, err := f.st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.Event{}
	for _, ev := range evs {
		out[ev.Type] = append(out[ev.Type], ev)
	}
	return out
}

func (f *fixture) request(t *testing.T, id string) store.Request {
	t.Helper()
	r, err := f.st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// When Graph refuses every revocation (User.RevokeSessions.All never consented), the request ends "failed" with
// Graph's reason and the permission to grant: never "done", no deadline, nothing to wait for.
func TestEveryRevocationRefusedEndsFailed(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	f.tenant.DenyPermission("User.RevokeSessions.All")
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty)
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, r.ID)
	if req.Status != store.StatusFailed || !strings.Contains(req.Failure, "Authorization_RequestDenied") ||
		!strings.Contains(req.Failure, "User.RevokeSessions.All") || !req.TokensExpireAt.IsZero() {
		t.Fatalf("request = %s, failure %q, deadline %v", req.Status, req.Failure, req.TokensExpireAt)
	}
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetFailed || !strings.Contains(x.Detail, "forbidden") {
			t.Errorf("%s: %+v", upn, x)
		}
	}
	for _, kind := range []string{revocation.TimerVerify, revocation.TimerTokensExpired, revocation.TimerRun} {
		if _, ok := f.timer(t, kind, r.ID); ok {
			t.Errorf("%s timer left on a failed request", kind)
		}
	}
	if evs := f.events(t, r.ID); len(evs[revocation.EventFailed]) != 1 || len(evs[revocation.EventDeadline]) != 0 {
		t.Errorf("events: failed %d, deadline %d", len(evs[revocation.EventFailed]), len(evs[revocation.EventDeadline]))
	}
}

// Confirmation compares Graph's read-back with Graph's own clock: whether Graph runs ahead of the bot or behind
// it, every user is confirmed on the first pass after replication. (Compared with the bot's clock, a Graph 5 s
// behind would never confirm anyone.) The deadline is counted from Graph's acceptance on the bot's clock, so
// Graph's offset does not move it.
func TestConfirmationUsesGraphsClock(t *testing.T) {
	for _, offset := range []time.Duration{-5 * time.Second, 5 * time.Second, -90 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
			f.tenant.SetClockOffset(offset)
			f.tenant.SetOrganizationDefaultAccessTokenLifetime(time.Hour)
			r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty, graphtest.UPNDana)
			ctx := context.Background()
			sent := time.Now()
			if err := f.runner.Run(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if err := f.runner.Verify(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			for upn, x := range f.byUPN(t, r.ID) {
				if x.Status != store.TargetSessionsInvalid {
					t.Errorf("%s not confirmed with Graph's clock %s off: %+v", upn, offset, x)
				}
				if offset < 0 && !x.SessionsValidFrom.Before(sent.Add(-time.Second)) {
					t.Errorf("%s: Graph's value %v is not behind the bot's clock %v: the test proves nothing", upn, x.SessionsValidFrom, sent)
				}
			}
			req := f.request(t, r.ID)
			if d := req.TokensExpireAt.Sub(time.Now().Add(time.Hour)); d > 5*time.Second || d < -time.Minute {
				t.Errorf("deadline %v is not an hour after the revocation on the bot's clock (off by %v)", req.TokensExpireAt, d)
			}
		})
	}
}

// Graph never shows the revocation (a replication far longer than documented): after the bounded passes each
// user ends "unconfirmed" with what Graph shows, the verification stops, and the pass count is persisted.
func TestVerifyGivesUpAfterBoundedPasses(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5, ReplicationDelay: time.Hour})
	f.runner.MaxVerifyPasses = 3
	r := f.approved(t, graphtest.UPNLester)
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	for pass := 1; pass <= 3; pass++ {
		if err := f.runner.Verify(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		x := f.byUPN(t, r.ID)[graphtest.UPNLester]
		if pass < 3 && (x.Status != store.TargetRevoked || x.VerifyPasses != pass) {
			t.Fatalf("after pass %d: %+v", pass, x)
		}
		f.clk.Advance(10 * time.Second)
	}
	x := f.byUPN(t, r.ID)[graphtest.UPNLester]
	if x.Status != store.TargetUnconfirmed || !strings.Contains(x.Detail, "could not confirm: Graph shows") {
		t.Fatalf("after the last pass: %+v", x)
	}
	if _, ok := f.timer(t, revocation.TimerVerify, r.ID); ok {
		t.Error("verification still scheduled after giving up")
	}
	if !slicesContains(f.notices.kinds(), revocation.NoticeUnconfirmed) {
		t.Errorf("notices %v lack %s", f.notices.kinds(), revocation.NoticeUnconfirmed)
	}
}

// A failed read-back is reported in the audit log (and so the thread), not only logged.
func TestVerifyReportsReadFailures(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	f.runner.MaxVerifyPasses = 2
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty)
	f.tenant.FailReads(graphtest.UPNTesty, 500, -1)
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	evs := f.events(t, r.ID)[revocation.EventReadFailed]
	if len(evs) != 1 || !strings.Contains(evs[0].Detail, "could not read 1 of 2 users") {
		t.Fatalf("read-failure events: %+v", evs)
	}
	if got := f.byUPN(t, r.ID); got[graphtest.UPNLester].Status != store.TargetSessionsInvalid || got[graphtest.UPNTesty].Status != store.TargetRevoked {
		t.Fatalf("after a pass with one failed read: %+v", got)
	}
	f.clk.Advance(10 * time.Second)
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if x := f.byUPN(t, r.ID)[graphtest.UPNTesty]; x.Status != store.TargetUnconfirmed || !strings.Contains(x.Detail, "could not be read") {
		t.Errorf("testy after the last pass: %+v", x)
	}
}

// Without Policy.Read.All the lifetime lookup fails: the run goes on at once with the configured default and
// says so in the audit log; it never stalls.
func TestLifetimeUnreadableNeverBlocks(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	f.tenant.DenyPermission("Policy.Read.All")
	f.runner.DefaultTokenLifetime = 90 * time.Minute
	r := f.approved(t, graphtest.UPNLester)
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, r.ID)
	if req.Status != store.StatusRunning || req.TokenLifetime != 90*time.Minute || !strings.Contains(req.LifetimeSource, "Policy.Read.All") {
		t.Fatalf("request %s, lifetime %s (%s)", req.Status, req.TokenLifetime, req.LifetimeSource)
	}
	if evs := f.events(t, r.ID)[revocation.EventLifetimeUnknown]; len(evs) != 1 {
		t.Errorf("lifetime_unknown events: %d", len(evs))
	}
	if n := len(f.tenant.Revocations()); n != 1 {
		t.Errorf("%d revocations", n)
	}
}

// When the protected accounts cannot be read during a run, nobody is revoked (fail closed), the audit log says
// why at once (once, not at every retry), and the retries back off.
func TestUnreadableProtectionBlocksLoudlyWithBackoff(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graphtest.GroupBreakGlass)
	f.runner.BlockedBackoff = []time.Duration{5 * time.Second, 30 * time.Second}
	r := f.approved(t, graphtest.UPNLester)
	f.runner.Protection.GroupIDs = append(f.runner.Protection.GroupIDs, "00000000-0000-0000-0000-00000000dead")
	ctx := context.Background()
	var dues []time.Duration
	for range 3 {
		if err := f.runner.Run(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		due, ok := f.timer(t, revocation.TimerRun, r.ID)
		if !ok {
			t.Fatal("no retry scheduled")
		}
		dues = append(dues, due.Sub(f.clk.Now()))
		f.clk.Advance(due.Sub(f.clk.Now()))
	}
	if dues[0] != 5*time.Second || dues[1] != 30*time.Second || dues[2] != 30*time.Second {
		t.Errorf("retry waits %v, want 5s, 30s, 30s", dues)
	}
	if n := len(f.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations while the protected list was unreadable", n)
	}
	if evs := f.events(t, r.ID)[revocation.EventBlocked]; len(evs) != 1 || !strings.Contains(evs[0].Detail, "protected accounts") {
		t.Fatalf("blocked events: %+v", evs)
	}
	// Readable again: the run goes on.
	f.runner.Protection.GroupIDs = f.runner.Protection.GroupIDs[:1]
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tenant.Revocations()); n != 1 {
		t.Fatalf("%d revocations once the list was readable", n)
	}
}

// A disabled account is revoked like any other (enabled again, it would get its old refresh tokens back).
func TestDisabledAccountIsRevoked(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	r := f.approved(t, graphtest.UPNDana)
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if x := f.byUPN(t, r.ID)[graphtest.UPNDana]; x.Status != store.TargetRevoked || !x.Disabled {
		t.Fatalf("dana: %+v", x)
	}
}

func slicesContains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// A scheduled sign-out that starts late says how late; its scope is resolved again, a user who left it since the
// approval is skipped, and a user who joined is not revoked (nobody approved them): both are listed.
func TestScheduledRunLateAndScopeDrift(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty)
	ctx := context.Background()
	r.NotBefore = f.clk.Now().Add(-2 * time.Hour)
	if _, err := f.st.UpdateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	lester, _ := f.tenant.User(graphtest.UPNLester)
	tessa, _ := f.tenant.User(graphtest.UPNTessa)
	// Now: Testy left, Tessa joined.
	f.runner.Rescope = func(_ context.Context, _ store.Request, fn func([]store.Target) error) error {
		return fn([]store.Target{{UserID: lester.ID, UPN: lester.UserPrincipalName, Status: store.TargetPending},
			{UserID: tessa.ID, UPN: tessa.UserPrincipalName, Status: store.TargetPending}})
	}
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	got := f.byUPN(t, r.ID)
	if got[graphtest.UPNLester].Status != store.TargetRevoked {
		t.Errorf("lester: %+v", got[graphtest.UPNLester])
	}
	if x := got[graphtest.UPNTesty]; x.Status != store.TargetExcluded || !strings.Contains(x.Detail, "left the scope") {
		t.Errorf("testy (left since the approval): %+v", x)
	}
	for _, rv := range f.tenant.Revocations() {
		if rv.UserID == tessa.ID {
			t.Fatal("a user nobody approved was revoked")
		}
	}
	evs := f.events(t, r.ID)
	if len(evs[revocation.EventLate]) != 1 || !strings.Contains(evs[revocation.EventLate][0].Detail, "2h0m0s after its scheduled time") {
		t.Errorf("late events: %+v", evs[revocation.EventLate])
	}
	if d := evs[revocation.EventDrift]; len(d) != 1 || !strings.Contains(d[0].Detail, "1 left the scope") ||
		!strings.Contains(d[0].Detail, graphtest.UPNTessa) || !strings.Contains(d[0].Detail, "NOT signed out") {
		t.Errorf("drift events: %+v", d)
	}
}

// An approved sign-out scheduled a day ahead waits for its time and reminds the thread 24 h, 1 h and 10 min
// before; the reminders survive a restart because they are timers in the store.
func TestScheduledRunWaitsAndReminds(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	r := f.approved(t, graphtest.UPNLester)
	ctx := context.Background()
	at := f.clk.Now().Add(25 * time.Hour)
	r.NotBefore = at
	if _, err := f.st.UpdateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if due, ok := f.timer(t, revocation.TimerRun, r.ID); !ok || !due.Equal(at) {
		t.Fatalf("run timer %v, want %v", due, at)
	}
	for _, before := range []time.Duration{24 * time.Hour, time.Hour, 10 * time.Minute} {
		due, ok := f.timer(t, revocation.TimerRemind, r.ID)
		if !ok || !due.Equal(at.Add(-before)) {
			t.Fatalf("reminder at %v, want %v before", due, before)
		}
		f.clk.Advance(due.Sub(f.clk.Now()))
		if err := f.runner.Remind(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := f.timer(t, revocation.TimerRemind, r.ID); ok {
		t.Error("a reminder left after the last one")
	}
	evs := f.events(t, r.ID)[revocation.EventReminder]
	if len(evs) != 3 || !strings.Contains(evs[0].Detail, "runs in 24 h") || !strings.Contains(evs[2].Detail, "runs in 10 min") {
		t.Fatalf("reminders: %+v", evs)
	}
	if n := len(f.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before the scheduled time", n)
	}
	// The bot restarts before the time and comes back only after it: a new process on the same store finds the
	// run's timer, starts at once, and says how late it is.
	restarted := &revocation.Runner{Store: f.st, Dir: f.runner.Dir, Protection: f.runner.Protection, Clock: f.clk,
		Notifier: f.notices, Owner: "after-restart", Log: f.runner.Log, VerifyBackoff: f.runner.VerifyBackoff}
	f.clk.Advance(at.Sub(f.clk.Now()) + 3*time.Hour)
	due, ok := f.timer(t, revocation.TimerRun, r.ID)
	if !ok || !due.Equal(at) {
		t.Fatalf("after a restart the run timer is %v (set %v), want %v", due, ok, at)
	}
	if err := restarted.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tenant.Revocations()); n != 1 {
		t.Fatalf("%d revocations at the scheduled time", n)
	}
	if late := f.events(t, r.ID)[revocation.EventLate]; len(late) != 1 || !strings.Contains(late[0].Detail, "3h0m0s after its scheduled time") {
		t.Errorf("late events: %+v", late)
	}
}

// policyRequest stores an approved token lifetime policy change, as the approvals flow leaves it.
func (f *fixture) policyRequest(t *testing.T, lifetime time.Duration, until time.Time) store.Request {
	t.Helper()
	now := f.clk.Now()
	data := fmt.Sprintf(`{"lifetime":%d,"until":%q}`, int64(lifetime), until.UTC().Format(time.RFC3339Nano))
	r, err := f.st.CreateRequest(context.Background(), store.Request{ID: "RPOL01", Status: store.StatusApproved, Kind: store.KindPolicy,
		ScopeKind: "policy", RequiredApprovals: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour), DecidedAt: now, Data: data,
		Requester: store.Actor{Platform: "test", ID: "U1", Name: "alice"}}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A policy change sets the organization-default lifetime, and at --until puts back exactly what was there (or
// deletes the policy it created); without the write permission it fails and says what to grant.
func TestPolicyChangeSetsAndReverts(t *testing.T) {
	tests := []struct {
		name     string
		existing time.Duration // 0: no organization-default policy
	}{
		{"no policy before: created, then deleted", 0},
		{"a policy before: changed, then restored", 90 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
			if tt.existing > 0 {
				f.tenant.SetOrganizationDefaultPolicy("Contoso default", tt.existing)
			}
			before := f.tenant.Policies()
			ctx := context.Background()
			until := f.clk.Now().Add(24 * time.Hour)
			r := f.policyRequest(t, 10*time.Minute, until)
			if err := f.runner.Run(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			lt, err := f.runner.Dir.AccessTokenLifetime(ctx)
			if err != nil || lt.Lifetime != 10*time.Minute {
				t.Fatalf("after the change: lifetime %v, %v", lt.Lifetime, err)
			}
			if due, ok := f.timer(t, revocation.TimerPolicyRevert, r.ID); !ok || !due.Equal(until) {
				t.Fatalf("revert timer %v (set %v), want %v", due, ok, until)
			}
			f.clk.Advance(24 * time.Hour)
			if err := f.runner.RevertPolicy(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			after := f.tenant.Policies()
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("policies after the revert:\n%v\nwant exactly what was there before:\n%v", after, before)
			}
			if got := f.request(t, r.ID); got.Status != store.StatusDone {
				t.Errorf("request %s after the revert", got.Status)
			}
			evs := f.events(t, r.ID)
			if len(evs[revocation.EventPolicySet]) != 1 || len(evs[revocation.EventPolicyReverted]) != 1 {
				t.Errorf("events: %v", evs)
			}
		})
	}
}

func TestPolicyChangeWithoutPermissionFails(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
	f.tenant.DenyPermission("Policy.ReadWrite.ApplicationConfiguration")
	r := f.policyRequest(t, 10*time.Minute, f.clk.Now().Add(time.Hour))
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	got := f.request(t, r.ID)
	if got.Status != store.StatusFailed || !strings.Contains(got.Failure, "Policy.ReadWrite.ApplicationConfiguration") {
		t.Fatalf("request %s, failure %q", got.Status, got.Failure)
	}
	if len(f.tenant.Policies()) != 0 {
		t.Error("a policy was written without the permission")
	}
}

// After a run, the directory audit log is checked for each revocation; a missing entry is named, and without
// AuditLog.Read.All the thread says what to grant instead of failing.
func TestCrossCheckWithTheDirectoryAuditLog(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deny     bool
		drop     string
		want     string
		wantMore string
	}{
		{"every revocation logged", false, "", "shows the revocation for 2 of 2 users", ""},
		{"one entry missing", false, graphtest.UPNTesty, "shows the revocation for 1 of 2 users", "not (yet) for: " + graphtest.UPNTesty},
		{"no permission", true, "", "lacks the Microsoft Graph permission AuditLog.Read.All", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 5})
			if tc.deny {
				f.tenant.DenyPermission("AuditLog.Read.All")
			}
			if tc.drop != "" {
				f.tenant.DropAuditFor(tc.drop)
			}
			r := f.approved(t, graphtest.UPNLester, graphtest.UPNTesty)
			ctx := context.Background()
			if err := f.runner.Run(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if err := f.runner.CrossCheck(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			evs := f.events(t, r.ID)[revocation.EventCrossCheck]
			if len(evs) != 1 || !strings.Contains(evs[0].Detail, tc.want) || !strings.Contains(evs[0].Detail, tc.wantMore) {
				t.Fatalf("cross-check events: %+v", evs)
			}
			for upn, x := range f.byUPN(t, r.ID) {
				if x.Status != store.TargetRevoked {
					t.Errorf("the cross-check changed %s: %+v", upn, x)
				}
			}
		})
	}
}
