package storetest

import (
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
