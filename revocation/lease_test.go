package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// A replica that loses its lease mid-run (it stalled past the TTL and another replica took the run over) stops
// the run and records nothing more: from the takeover on, only the new holder writes the audit log.
func TestRunStopsWhenItsLeaseIsTakenOver(t *testing.T) {
	f, _, r := confirmingFixture(t, 200, 40, graphtest.Options{})
	f.runner.LeaseTTL = 300 * time.Millisecond
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(ctx, r.ID) }()
	revoked := func() int {
		evs, err := f.st.Events(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if revocation.IsUserEvent(ev) && ev.Type == string(store.TargetRevoked) {
				n++
			}
		}
		return n
	}
	for revoked() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	// Another replica takes the lease: on the runner's clock, the lease has lapsed.
	f.clk.Advance(time.Second)
	if ok, err := f.st.Claim(ctx, "request:"+r.ID, "other-replica", f.clk.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("take over the lease: %v %v", ok, err)
	}
	atTakeover := revoked()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrLeaseLost) && !errors.Is(err, context.Canceled) {
			t.Errorf("Run after losing its lease returned %v, want the lease lost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run went on for 5 s after its lease was taken over")
	}
	time.Sleep(100 * time.Millisecond)
	after := revoked()
	// At most the group being written when the lease went (the fence is checked before each group) is recorded.
	if after > atTakeover+f.runner.FlushEvery {
		t.Errorf("%d revocations recorded after the takeover (%d at it): the old holder kept writing", after-atTakeover, atTakeover)
	}
	if after >= 200 {
		t.Errorf("every user recorded revoked by the replica that lost the lease")
	}
	t.Logf("%d of 200 recorded when the lease was taken over, %d when the old holder stopped", atTakeover, after)
}
