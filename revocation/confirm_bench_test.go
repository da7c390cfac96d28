package revocation_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// BenchmarkConfirmationsAsTheyHappen revokes 1,000 users on a simulated tenant whose write budget is scaled to
// 200 revocations per second (10× Graph's ceiling, so the run takes about 5 s rather than 50 s), with a 200 ms
// replication delay, and drives verification as the scheduler does (Verify when its timer is due). It prints
// when the last user was confirmed ("sessions invalid") counted from the start of Run, how long revoking took,
// how long one verification pass over every user takes, and
//
//	ratio = all confirmed / (revocation time + one verification pass)
//
// the cost of confirming compared with the least possible: revoking, then one pass that finds everyone. Read-backs
// during the run aim at ≤ 1.2. The same run without them (ConfirmAfter -1) is printed beside it, as is its
// revocation time, to show the read-backs do not slow the revocations.
//
//	go test -run - -bench ConfirmationsAsTheyHappen ./revocation/
func BenchmarkConfirmationsAsTheyHappen(b *testing.B) {
	const users, rate = 1000, 200.0
	for _, during := range []bool{true, false} {
		name := "during the run"
		if !during {
			name = "after the run"
		}
		b.Run(name, func(b *testing.B) {
			var last confirmRun
			for range b.N {
				last = confirmOnce(b, users, rate, during)
			}
			pass := onePass(b, users, rate)
			ratio := last.allConfirmed.Seconds() / (last.revoking + pass).Seconds()
			b.ReportMetric(last.allConfirmed.Seconds(), "s-all-confirmed")
			b.ReportMetric(last.revoking.Seconds(), "s-revoking")
			b.ReportMetric(pass.Seconds(), "s-one-pass")
			b.ReportMetric(ratio, "ratio")
			fmt.Printf("confirmations-as-they-happen (%s): %d users at %g/s: first confirmed %s, half %s, all %s after Run started; "+
				"revoking took %s; one verification pass over all %d takes %s; ratio all/(revoking+pass) = %.2f (target 1.2); "+
				"Graph reads %d; cores=%d\n",
				name, users, rate, last.first.Round(time.Millisecond), last.half.Round(time.Millisecond),
				last.allConfirmed.Round(time.Millisecond), last.revoking.Round(time.Millisecond), users,
				pass.Round(time.Millisecond), ratio, last.reads, runtime.NumCPU())
		})
	}
}

type confirmRun struct {
	first, half, allConfirmed, revoking time.Duration
	reads                               int
}

// benchFixture is a tenant of users in the big group, revoked at rate per second, and a runner with the
// production defaults for verification, on the real clock.
func benchFixture(b *testing.B, users int, rate float64) (*fixture, *countingDir, store.Request) {
	f := newFixtureWith(b, graphtest.Options{Users: 10, BigGroupSize: users, ReplicationDelay: 200 * time.Millisecond},
		graph.Config{WriteRate: rate})
	f.tenant.SetWriteBudget(int(rate*150), 150*time.Second) // Entra's 3,000 per 150 s, scaled like the pace
	dir := &countingDir{Directory: f.runner.Dir}
	f.runner.Dir, f.runner.Clock = dir, clock.System{}
	f.runner.VerifyBackoff, f.runner.ConfirmAfter = nil, 0
	return f, dir, f.approved(b, f.tenant.FindGroups(graphtest.GroupBig)[0].MemberIDs...)
}

func confirmOnce(b *testing.B, users int, rate float64, during bool) confirmRun {
	b.StopTimer()
	f, dir, r := benchFixture(b, users, rate)
	if !during {
		f.runner.ConfirmAfter = -1
	}
	ctx := context.Background()
	b.StartTimer()
	start := time.Now()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		b.Fatal(err)
	}
	// As the scheduler would: Verify whenever its timer is due, until nobody is left to read back.
	for {
		due, ok := f.timer(b, revocation.TimerVerify, r.ID)
		if !ok {
			break
		}
		time.Sleep(time.Until(due))
		if err := f.runner.Verify(ctx, r.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var out confirmRun
	var confirmedAt []time.Duration
	for upn, x := range f.byUPN(b, r.ID) {
		if x.Status != store.TargetSessionsInvalid {
			b.Fatalf("%s ended %s (%s)", upn, x.Status, x.Detail)
		}
		confirmedAt = append(confirmedAt, x.ConfirmedAt.Sub(start))
		out.revoking = max(out.revoking, x.RevokedAt.Sub(start))
	}
	slices.Sort(confirmedAt)
	out.first, out.half, out.allConfirmed = confirmedAt[0], confirmedAt[len(confirmedAt)/2], confirmedAt[len(confirmedAt)-1]
	_, out.reads = dir.snapshot()
	return out
}

// onePass is how long one verification pass over every user of a run takes once Graph shows every revocation:
// the least time confirming can add to revoking.
func onePass(b *testing.B, users int, rate float64) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	f, _, r := benchFixture(b, users, rate)
	f.runner.ConfirmAfter = -1
	ctx := context.Background()
	if err := f.runner.Run(ctx, r.ID); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the replication delay
	start := time.Now()
	if err := f.runner.Verify(ctx, r.ID); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	for upn, x := range f.byUPN(b, r.ID) {
		if x.Status != store.TargetSessionsInvalid {
			b.Fatalf("%s not confirmed by one pass: %s", upn, x.Status)
		}
	}
	return took
}
