package slack_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// BenchmarkCardEditsDuringLargeRun is issue target 5 on Slack: a 10,000-user run (the tenant scaled as in
// BenchmarkAckUnderLoad; the card editor and chat.update at the product's default pace) edits its card while
// Slack refuses every seventh chat.update with 429 and Retry-After: 2. It prints how many edits reached Slack, the
// most in any 1 s and any 60 s window, the steady pace per minute (the run is shorter than a minute) beside
// Slack's limits, how many 429s were honoured (no chat.update before Retry-After had passed) and whether the card
// ends showing the final state. Slack's limits (https://api.slack.com/apis/rate-limits,
// https://api.slack.com/methods/chat.update): chat.update is Tier 3, "50+ per minute" per method, app and
// workspace, sporadic bursts welcome; posting is about one message per second per channel. The figures are
// printed, not asserted; TestCardEditsHonourRetryAfter, TestRetryAfterHoldsBackEveryCardEdit and
// TestRefusedCardEditIsTriedAgain check Retry-After and the final card.
//
//	go test -run - -bench CardEditsDuringLargeRun -benchtime 1x ./bot/slack/
func BenchmarkCardEditsDuringLargeRun(b *testing.B) {
	const users = 10000
	for range b.N {
		e := newEnv(b, largeRunOpts(users))
		e.slack.RateLimitUpdates(7, 2*time.Second)
		start := time.Now()
		big := e.startLargeRun()
		e.waitStatus(big.ID, store.StatusDone, 3*time.Minute)
		took := time.Since(start)
		e.waitEditsIdle(3 * time.Second)
		f := cardEdits(e.slack.UpdateCalls(), big.Message.ID)
		e.slack.RateLimitUpdates(0, 0)
		ok, _, _ := e.finalCardCorrect(big)
		span := 0.0
		if len(f.calls) > 1 {
			span = f.calls[len(f.calls)-1].Sub(f.calls[0]).Seconds()
		}
		fmt.Printf("card-edits (Slack): %d-user run done in %.1f s, %d chat.update calls of its card in %.1f s (%.2f/s), "+
			"max %d in any 1 s, %d in any 60 s, steady pace %.0f per minute (Slack: chat.update Tier 3, 50+ per minute "+
			"per workspace), 429s honoured: %d of %d, final card correct: %s, cores=%d\n",
			users, took.Seconds(), len(f.calls), span, float64(len(f.calls))/max(span, 1), f.max1s, f.max60s,
			steadyPerMinute(f.calls), f.honoured, f.refused, yesNo(ok), runtime.NumCPU())
		for _, s := range f.early {
			fmt.Println("  too early:", s)
		}
		b.ReportMetric(float64(len(f.calls)), "edits")
		b.ReportMetric(float64(f.max1s), "max-edits/1s")
		b.ReportMetric(float64(f.max60s), "max-edits/60s")
		b.ReportMetric(steadyPerMinute(f.calls), "steady-edits/min")
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
