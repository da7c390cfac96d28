package teams_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// BenchmarkCardEditsDuringLargeRun is issue target 5 on Teams: a 10,000-user run edits its card with the product's
// defaults (one edit per card per second at most, teams.DefaultPace) on the simulated tenant scaled 20× as
// graph/graphbench scales it (400 writes/s: 80 per 200 ms; 5 ms per request), while the Connector refuses every
// seventh edit with 429 and Retry-After: 2. It prints the edits, the most in any 1 s window, for the card and for
// every call to its conversation (edits and thread replies), beside Teams' limits, the 429s honoured and whether
// the card ends showing the final state. Teams' limits ("Optimize your bot with rate limiting in Teams",
// https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit): per bot per conversation
// 7 operations in 1 s, 8 in 2 s, 60 in 30 s, 1,800 in an hour; 50 requests per second per app per tenant.
// Figures are printed, not asserted; TestCardEditsHonourRetryAfter checks Retry-After and the final card.
//
//	go test -run - -bench CardEditsDuringLargeRun -benchtime 1x ./bot/teams/
func BenchmarkCardEditsDuringLargeRun(b *testing.B) {
	const users = 10000
	for range b.N {
		e := newEnv(b, envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: users, Latency: 5 * time.Millisecond,
			WriteBudget: 80, WriteWindow: 200 * time.Millisecond, ReadBudget: 3200, ReadWindow: 200 * time.Millisecond},
			writeRate: 400, minEdit: time.Second, pace: &teams.DefaultPace})
		e.fc.ThrottleEdits(7, 2*time.Second)
		start := time.Now()
		big := e.startLargeRun()
		waitFor(b, "the run to finish", 3*time.Minute, func() bool { return e.request(big.ID).Status == store.StatusDone })
		took := time.Since(start)
		e.waitEditsIdle(3 * time.Second)
		f := cardEdits(e.fc.Calls(), big)
		e.fc.ThrottleEdits(0, 0)
		ok, _, _ := e.finalCardCorrect(big)
		span := 0.0
		if len(f.edits) > 1 {
			span = f.edits[len(f.edits)-1].Sub(f.edits[0]).Seconds()
		}
		fmt.Printf("card-edits (Teams): %d-user run done in %.1f s, %d edits of its card in %.1f s (%.2f/s), max %d in any 1 s, "+
			"%d in any 60 s; all calls to the conversation: max %d in 1 s, %d in 2 s, %d in 30 s (Teams: 7 in 1 s, 8 in 2 s, "+
			"60 in 30 s per conversation), 429s honoured: %d of %d (other calls to the conversation inside a Retry-After: %d), "+
			"final card correct: %s, cores=%d\n",
			users, took.Seconds(), len(f.edits), span, float64(len(f.edits))/max(span, 1), maxInWindow(f.edits, time.Second),
			maxInWindow(f.edits, time.Minute), maxInWindow(f.conv, time.Second), maxInWindow(f.conv, 2*time.Second),
			maxInWindow(f.conv, 30*time.Second), f.honoured, f.refused, f.besides, yesNo(ok), runtime.NumCPU())
		for _, s := range f.early {
			fmt.Println("  too early:", s)
		}
		b.ReportMetric(float64(len(f.edits)), "edits")
		b.ReportMetric(float64(maxInWindow(f.edits, time.Second)), "max-edits/1s")
		b.ReportMetric(float64(maxInWindow(f.conv, time.Second)), "max-conversation-calls/1s")
		b.ReportMetric(float64(f.refused-f.honoured), "429s-not-honoured")
		e.stop()
	}
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
