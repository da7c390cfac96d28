package revocation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// countingDir counts the read-backs of each user and how many read-back calls run at once.
type countingDir struct {
	graph.Directory
	mu                    sync.Mutex
	reads                 map[string]int
	inFlight, maxInFlight int
}

func (d *countingDir) SessionsValidFrom(ctx context.Context, ids []string) ([]graph.SessionState, error) {
	d.mu.Lock()
	if d.reads == nil {
		d.reads = map[string]int{}
	}
	for _, id := range ids {
		d.reads[id]++
	}
	d.inFlight++
	d.maxInFlight = max(d.maxInFlight, d.inFlight)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		d.mu.Unlock()
	}()
	return d.Directory.SessionsValidFrom(ctx, ids)
}

func (d *countingDir) snapshot() (map[string]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.reads))
	total := 0
	for id, n := range d.reads {
		out[id] = n
		total += n
	}
	return out, total
}

// confirmingFixture is a tenant whose revocations are paced at rate per second, with a runner that reads users
// back while it revokes, every 20 ms, from 20 ms after each revocation; its targets are the big group.
func confirmingFixture(t *testing.T, users int, rate float64, opts graphtest.Options) (*fixture, *countingDir, store.Request) {
	t.Helper()
	opts.Users, opts.BigGroupSize = 10, users
	f := newFixtureWith(t, opts, graph.Config{WriteRate: rate})
	dir := &countingDir{Directory: f.runner.Dir}
	f.runner.Dir = dir
	f.runner.ConfirmAfter, f.runner.ConfirmEvery, f.runner.FlushEvery = 20*time.Millisecond, 20*time.Millisecond, 5
	members := f.tenant.FindGroups(graphtest.GroupBig)[0].MemberIDs
	if len(members) != users {
		t.Fatalf("big group has %d members, want %d", len(members), users)
	}
	return f, dir, f.approved(t, members...)
}

// confirmations counts each user's confirmation events, and says where the first one is in the log compared
// with the last revocation.
func confirmations(t *testing.T, f *fixture, id string) (perUser map[string]int, firstConfirmed, lastRevoked int64) {
	t.Helper()
	evs, err := f.st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	perUser = map[string]int{}
	for _, ev := range evs {
		switch {
		case !revocation.IsUserEvent(ev):
		case ev.Type == string(store.TargetRevoked):
			lastRevoked = ev.Seq
		case ev.Type == string(store.TargetSessionsInvalid) || ev.Type == string(store.TargetTokensExpired):
			perUser[ev.Actor.ID]++
			if firstConfirmed == 0 {
				firstConfirmed = ev.Seq
			}
		}
	}
	return perUser, firstConfirmed, lastRevoked
}

// While the run revokes, the users it has revoked are read back and confirmed: the audit log has confirmations
// before the last revocation. When Run returns every user is confirmed, once, without counting any of Verify's
// bounded passes, and nothing reads Graph for the run any more.
func TestConfirmationsArriveWhileRevoking(t *testing.T) {
	f, dir, r := confirmingFixture(t, 60, 30, graphtest.Options{}) // 60 users at 30/s: about 1.4 s of revoking
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	perUser, first, lastRevoked := confirmations(t, f, r.ID)
	if first == 0 || first > lastRevoked {
		t.Fatalf("first confirmation at seq %d, last revocation at seq %d: nobody was confirmed while the run revoked", first, lastRevoked)
	}
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetSessionsInvalid || x.VerifyPasses != 0 || perUser[x.UserID] != 1 {
			t.Errorf("%s after the run: %s, %d verify passes, %d confirmation events", upn, x.Status, x.VerifyPasses, perUser[x.UserID])
		}
	}
	if !slicesContains(f.notices.kinds(), revocation.NoticeConfirmed) {
		t.Errorf("notices %v lack %s", f.notices.kinds(), revocation.NoticeConfirmed)
	}
	_, before := dir.snapshot()
	time.Sleep(200 * time.Millisecond) // ten of the confirmer's ticks
	if _, after := dir.snapshot(); after != before {
		t.Errorf("%d read-backs after Run returned: the confirmer outlived the run", after-before)
	}
	// Verify, due now, finds nobody left to read and clears its timer.
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.timer(t, revocation.TimerVerify, r.ID); ok {
		t.Error("verification timer left with every user confirmed")
	}
	if _, after := dir.snapshot(); after != before {
		t.Errorf("Verify read %d users back that the run had confirmed", after-before)
	}
}

// Graph never shows the revocations: the run's read-backs stay bounded (at most MaxVerifyPasses a user, every
// user at least once), count none of Verify's passes and give nobody up; Verify's bounded passes then run in
// full, as without read-backs during the run.
func TestConfirmationsDuringTheRunAreBoundedAndNeverGiveUp(t *testing.T) {
	f, dir, r := confirmingFixture(t, 40, 40, graphtest.Options{ReplicationDelay: time.Hour})
	f.runner.MaxVerifyPasses = 3
	f.runner.VerifyBackoff = []time.Duration{10 * time.Millisecond}
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	reads, _ := dir.snapshot()
	most := 0
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetRevoked || x.VerifyPasses != 0 {
			t.Errorf("%s after the run: %s with %d verify passes", upn, x.Status, x.VerifyPasses)
		}
		if n := reads[x.UserID]; n < 1 || n > f.runner.MaxVerifyPasses {
			t.Errorf("%s read back %d times during the run, want 1 to %d", upn, n, f.runner.MaxVerifyPasses)
		}
		most = max(most, reads[x.UserID])
	}
	if most < 2 {
		t.Errorf("nobody was read back twice during the run: the test proves nothing about the bound")
	}
	for pass := 1; pass <= 3; pass++ {
		if err := f.runner.Verify(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		for upn, x := range f.byUPN(t, r.ID) {
			want := store.TargetRevoked
			if pass == 3 {
				want = store.TargetUnconfirmed
			}
			if x.Status != want || (pass < 3 && x.VerifyPasses != pass) {
				t.Fatalf("%s after Verify's pass %d: %s with %d passes, want %s", upn, pass, x.Status, x.VerifyPasses, want)
			}
		}
		f.clk.Advance(10 * time.Millisecond)
	}
}

// Verify called beside a run of the same request (never so in the scheduler, but nothing stops a caller, and
// another replica's scheduler may): the request's lease keeps the two from reading back at once, and nobody is
// confirmed twice.
func TestOneVerificationPassAtATime(t *testing.T) {
	f, dir, r := confirmingFixture(t, 60, 40, graphtest.Options{})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(ctx, r.ID) }()
	for { // Verify goes on only once the run holds the lease; before that it would win it and the run would wait.
		if req, err := f.st.GetRequest(ctx, r.ID); err != nil {
			t.Fatal(err)
		} else if req.Status == store.StatusRunning {
			break
		}
		time.Sleep(time.Millisecond)
	}
	verified := 0
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			if err := f.runner.Verify(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			verified++
			time.Sleep(15 * time.Millisecond)
		}
	}
	perUser, _, _ := confirmations(t, f, r.ID)
	for upn, x := range f.byUPN(t, r.ID) {
		if x.Status != store.TargetSessionsInvalid || perUser[x.UserID] != 1 {
			t.Errorf("%s: %s, confirmed %d times", upn, x.Status, perUser[x.UserID])
		}
	}
	if dir.maxInFlight != 1 {
		t.Errorf("%d verification read-backs of one request ran at once", dir.maxInFlight)
	}
	t.Logf("%d Verify calls beside the run", verified)
}

// A run that ends early (its context cancelled, as at shutdown) stops its confirmer with it.
func TestConfirmerStopsWithTheRun(t *testing.T) {
	f, dir, r := confirmingFixture(t, 60, 20, graphtest.Options{ReplicationDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	_ = f.runner.Run(ctx, r.ID) // context.Canceled, or nil if the run beat the cancel
	_, before := dir.snapshot()
	time.Sleep(200 * time.Millisecond)
	if _, after := dir.snapshot(); after != before {
		t.Errorf("%d read-backs after the run ended", after-before)
	}
}
