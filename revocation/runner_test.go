package revocation_test

import (
	"context"
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

func newFixture(t *testing.T, opts graphtest.Options, protected ...string) *fixture {
	t.Helper()
	tenant, dir := tenanttest.Start(t, opts, graph.Config{})
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{tenant: tenant, st: st, clk: clock.NewFake(time.Now()), notices: &notices{}}
	f.runner = &revocation.Runner{Store: st, Dir: dir, Protection: scope.NewProtection(dir, protected), Clock: f.clk,
		Notifier: f.notices, Owner: "test", Log: slog.New(slog.DiscardHandler), VerifyBackoff: []time.Duration{10 * time.Second}}
	return f
}

// approved stores an approved request for the given users, as the approvals flow leaves it.
func (f *fixture) approved(t *testing.T, upns ...string) store.Request {
	t.Helper()
	var targets []store.Target
	for i, upn := range upns {
		u, ok := f.tenant.User(upn)
		if !ok {
			t.Fatalf("no %s", upn)
		}
		targets = append(targets, store.Target{Seq: i, UserID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName,
			Guest: u.UserType == "Guest", Status: store.TargetPending})
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

func (f *fixture) byUPN(t *testing.T, id string) map[string]store.Target {
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

func (f *fixture) timer(t *testing.T, kind, id string) (time.Time, bool) {
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
		if x.Status != store.TargetSessionsInvalid || x.SessionsValidFrom.Before(x.RevokedAt.Truncate(time.Second)) {
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
