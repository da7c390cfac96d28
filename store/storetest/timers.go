package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

func testTimers(t *testing.T, s store.Store) {
	if _, ok, err := s.NextTimer(ctx(t)); err != nil || ok {
		t.Fatalf("NextTimer on empty store = ok %v, err %v; want none", ok, err)
	}
	if due, err := s.DueTimers(ctx(t), base()); err != nil || len(due) != 0 {
		t.Fatalf("DueTimers on empty store = %v, %v", due, err)
	}

	set := func(kind, req string, due time.Time) {
		t.Helper()
		if err := s.SetTimer(ctx(t), store.Timer{Kind: kind, RequestID: req, Due: due}); err != nil {
			t.Fatalf("SetTimer(%s/%s): %v", kind, req, err)
		}
	}
	set("expire", "R1", base().Add(30*time.Minute))
	set("verify", "R1", base().Add(10*time.Minute))
	set("expire", "R2", base().Add(20*time.Minute))
	// Upsert: rescheduling moves R1's expiry earlier instead of adding a second timer.
	set("expire", "R1", base().Add(5*time.Minute))

	want := []store.Timer{
		{Kind: "expire", RequestID: "R1", Due: base().Add(5 * time.Minute).UTC()},
		{Kind: "verify", RequestID: "R1", Due: base().Add(10 * time.Minute).UTC()},
		{Kind: "expire", RequestID: "R2", Due: base().Add(20 * time.Minute).UTC()},
	}
	tests := []struct {
		name string
		now  time.Time
		want []store.Timer
	}{
		{"none due", base(), nil},
		{"due exactly now", base().Add(5 * time.Minute), want[:1]},
		{"two due", base().Add(15 * time.Minute), want[:2]},
		{"all due, in a different zone", base().Add(time.Hour).UTC(), want},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.DueTimers(ctx(t), tc.now)
			if err != nil {
				t.Fatalf("DueTimers: %v", err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			equal(t, "due timers", got, tc.want)
		})
	}

	next, ok, err := s.NextTimer(ctx(t))
	if err != nil || !ok {
		t.Fatalf("NextTimer = ok %v, err %v", ok, err)
	}
	equal(t, "next timer", next, want[0])
	allUTC(t, "next timer", next.Due)

	if err := s.DeleteTimer(ctx(t), "expire", "R1"); err != nil {
		t.Fatalf("DeleteTimer: %v", err)
	}
	if err := s.DeleteTimer(ctx(t), "expire", "R1"); err != nil {
		t.Errorf("DeleteTimer of a deleted timer: %v, want nil", err)
	}
	next, ok, err = s.NextTimer(ctx(t))
	if err != nil || !ok {
		t.Fatalf("NextTimer after delete = ok %v, err %v", ok, err)
	}
	equal(t, "next timer after delete", next, want[1])
	got, err := s.DueTimers(ctx(t), base().Add(time.Hour))
	if err != nil {
		t.Fatalf("DueTimers: %v", err)
	}
	equal(t, "due timers after delete", got, want[1:])
}

func testLeases(t *testing.T, s store.Store) {
	const name, ttl = "scheduler", time.Minute
	t0 := base()
	steps := []struct {
		what  string
		owner string
		at    time.Time
		want  bool
	}{
		{"free lease", "bot-a", t0, true},
		{"held by another", "bot-b", t0.Add(30 * time.Second), false},
		{"renew by holder", "bot-a", t0.Add(50 * time.Second), true},
		// Renewal moved expiry to t0+110s: at the old expiry (t0+60s) the lease is still held.
		{"old expiry no longer applies", "bot-b", t0.Add(61 * time.Second), false},
		{"just before new expiry", "bot-b", t0.Add(110*time.Second - time.Nanosecond), false},
		{"steal at expiry", "bot-b", t0.Add(110 * time.Second), true},
		{"former holder locked out", "bot-a", t0.Add(111 * time.Second), false},
	}
	for _, st := range steps {
		got, err := s.Claim(ctx(t), name, st.owner, st.at, ttl)
		if err != nil {
			t.Fatalf("%s: Claim: %v", st.what, err)
		}
		if got != st.want {
			t.Fatalf("%s: Claim(%s) = %v, want %v", st.what, st.owner, got, st.want)
		}
	}

	// bot-a no longer holds the lease: its Release must not free bot-b's.
	if err := s.Release(ctx(t), name, "bot-a"); err != nil {
		t.Fatalf("Release by non-holder: %v", err)
	}
	if ok, err := s.Claim(ctx(t), name, "bot-c", t0.Add(112*time.Second), ttl); err != nil || ok {
		t.Fatalf("Claim after non-holder Release = %v, %v; want false", ok, err)
	}
	// The holder's Release frees it at once, long before expiry.
	if err := s.Release(ctx(t), name, "bot-b"); err != nil {
		t.Fatalf("Release by holder: %v", err)
	}
	if ok, err := s.Claim(ctx(t), name, "bot-c", t0.Add(113*time.Second), ttl); err != nil || !ok {
		t.Fatalf("Claim after holder Release = %v, %v; want true", ok, err)
	}
	// Leases are independent by name.
	if ok, err := s.Claim(ctx(t), "other", "bot-a", t0.Add(113*time.Second), ttl); err != nil || !ok {
		t.Fatalf("Claim of another lease = %v, %v; want true", ok, err)
	}
	// Releasing a lease nobody holds is harmless.
	if err := s.Release(ctx(t), "never-claimed", "bot-a"); err != nil {
		t.Errorf("Release of unknown lease: %v", err)
	}
}

func testClaimTimers(t *testing.T, s store.Store) {
	set := func(kind, req string, due time.Time) {
		t.Helper()
		if err := s.SetTimer(ctx(t), store.Timer{Kind: kind, RequestID: req, Due: due}); err != nil {
			t.Fatalf("SetTimer(%s/%s): %v", kind, req, err)
		}
	}
	t0 := base()
	set("run", "R1", t0)
	set("verify", "R1", t0.Add(time.Second))
	set("run", "R2", t0.Add(2*time.Second))
	set("future", "R3", t0.Add(time.Hour))
	set("run", "R4", t0.Add(time.Hour)) // not due
	known := []string{"run", "verify", "future"}
	claim := func(owner string, at time.Time, skip []string, limit int) []string {
		t.Helper()
		got, err := s.ClaimTimers(ctx(t), store.TimerClaim{Owner: owner, Kinds: known, Skip: skip, Now: at, TTL: time.Minute, Limit: limit})
		if err != nil {
			t.Fatalf("ClaimTimers(%s): %v", owner, err)
		}
		var out []string
		for _, tm := range got {
			out = append(out, tm.Kind+"/"+tm.RequestID)
			allUTC(t, "claimed timer", tm.Due)
		}
		return out
	}
	steps := []struct {
		what  string
		owner string
		at    time.Time
		skip  []string
		limit int
		want  []string
	}{
		{"limit, earliest first", "bot-a", t0.Add(3 * time.Second), nil, 1, []string{"run/R1"}},
		{"claimed ones are skipped; skip list honoured", "bot-b", t0.Add(3 * time.Second), []string{"R2"}, 10, []string{"verify/R1"}},
		{"the rest", "bot-a", t0.Add(4 * time.Second), nil, 10, []string{"run/R2"}},
		{"nothing left before the claims expire", "bot-b", t0.Add(time.Minute), nil, 10, nil},
		{"an expired claim is taken over", "bot-b", t0.Add(time.Minute + 3*time.Second), []string{"R2"}, 10, []string{"run/R1", "verify/R1"}},
	}
	for _, st := range steps {
		if got := claim(st.owner, st.at, st.skip, st.limit); !slices.Equal(got, st.want) {
			t.Fatalf("%s: claimed %v, want %v", st.what, got, st.want)
		}
	}
	// Moving a claimed timer ends the claim: it is a new deadline, to be fired again (verify/R1 stays claimed).
	set("run", "R1", t0.Add(2*time.Minute))
	if got := claim("bot-c", t0.Add(2*time.Minute), []string{"R2"}, 10); !slices.Equal(got, []string{"run/R1"}) {
		t.Fatalf("after SetTimer moved a claimed timer: claimed %v, want [run/R1]", got)
	}
	// Unclaiming: only the owner's claim ends, and the timer can be claimed again at once.
	if err := s.UnclaimTimer(ctx(t), "run", "R1", "bot-a"); err != nil {
		t.Fatal(err)
	}
	if got := claim("bot-a", t0.Add(2*time.Minute), []string{"R2"}, 10); len(got) != 0 {
		t.Fatalf("claimed %v after another owner's unclaim, want nothing", got)
	}
	if err := s.UnclaimTimer(ctx(t), "run", "R1", "bot-c"); err != nil {
		t.Fatal(err)
	}
	if got := claim("bot-a", t0.Add(2*time.Minute), []string{"R2"}, 10); !slices.Equal(got, []string{"run/R1"}) {
		t.Fatalf("after the owner unclaimed it: claimed %v, want [run/R1]", got)
	}
	// A kind this replica does not know stays in place for one that does.
	set("newkind", "R5", t0)
	if got := claim("bot-c", t0.Add(3*time.Hour), []string{"R1", "R2", "R3", "R4"}, 10); len(got) != 0 {
		t.Fatalf("claimed %v, want nothing (unknown kind, skipped requests)", got)
	}
	due, err := s.DueTimers(ctx(t), t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(due, func(tm store.Timer) bool { return tm.Kind == "newkind" }) {
		t.Fatalf("the unknown kind's timer is gone: %v", due)
	}
	for _, bad := range []store.TimerClaim{
		{Kinds: known, Now: t0, TTL: time.Minute, Limit: 1},
		{Owner: "x", Kinds: known, Now: t0, Limit: 1},
		{Owner: "x", Kinds: known, Now: t0, TTL: time.Minute},
		{Owner: "x", Now: t0, TTL: time.Minute, Limit: 1},
	} {
		if _, err := s.ClaimTimers(ctx(t), bad); err == nil {
			t.Errorf("ClaimTimers(%+v) = nil error, want one", bad)
		}
	}
}

// testClaimTimersConcurrent: claimants racing for the same due timers never get the same one, and together get
// every one.
func testClaimTimersConcurrent(t *testing.T, s store.Store) {
	const n, claimants = 60, 4
	t0 := base()
	for i := range n {
		if err := s.SetTimer(ctx(t), store.Timer{Kind: "run", RequestID: fmt.Sprintf("R%03d", i), Due: t0}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for c := range claimants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("bot-%d", c)
			for {
				tms, err := s.ClaimTimers(ctx(t), store.TimerClaim{Owner: owner, Kinds: []string{"run"}, Now: t0, TTL: time.Minute, Limit: 3})
				if err != nil {
					t.Error(err)
					return
				}
				if len(tms) == 0 {
					return
				}
				mu.Lock()
				for _, tm := range tms {
					if prev, dup := got[tm.RequestID]; dup {
						t.Errorf("%s claimed by %s and %s", tm.RequestID, prev, owner)
					}
					got[tm.RequestID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d of %d timers claimed", len(got), n)
	}
}
