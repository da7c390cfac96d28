package slack_test

import (
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// BenchmarkUrgentSignOutDuringLargeRun measures what an incident responder waits for when they sign one user out
// while a cutover is revoking a large group at Graph's real write ceiling (20 per second): the time from the
// approval of the one-user request to its user's "sessions invalid" confirmation, beside the large run's own
// progress. Before requests ran concurrently, the one user waited for the whole large run.
//
//	go test -run - -bench UrgentSignOut -benchtime 1x ./bot/slack/
func BenchmarkUrgentSignOutDuringLargeRun(b *testing.B) {
	for range b.N {
		e := newEnv(b, envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 600, Latency: 20 * time.Millisecond}, writeRate: 20})
		e.slash(alice, "group "+graphtest.GroupBig)
		big := e.onlyRequest()
		e.click(bob, "approve", big)
		e.click(carol, "approve", big)
		revoked := func(id string) int {
			n := 0
			for _, x := range e.targets(id) {
				if !x.RevokedAt.IsZero() {
					n++
				}
			}
			return n
		}
		waitFor(b, "the large run under way", 60*time.Second, func() bool { return revoked(big.ID) >= 60 })
		e.slash(alice, "user "+graphtest.UPNMegan+` --reason "phished"`)
		var urgent store.Request
		waitFor(b, "the urgent request", 10*time.Second, func() bool {
			for _, r := range e.requests() {
				if r.ScopeKind == "users" {
					urgent = r
					return true
				}
			}
			return false
		})
		approved := time.Now()
		bigAtApproval := revoked(big.ID)
		e.click(bob, "approve", urgent)
		waitFor(b, "the urgent user confirmed", 60*time.Second, func() bool {
			t := e.targets(urgent.ID)
			return len(t) == 1 && (t[0].Status == store.TargetSessionsInvalid || t[0].Status == store.TargetTokensExpired)
		})
		took := time.Since(approved)
		bigThen := revoked(big.ID)
		b.ReportMetric(took.Seconds(), "s-approval-to-confirmed")
		b.Logf("urgent 1-user sign-out during a 600-user run at 20 revocations/s: approval → sessions invalid in %.2f s; "+
			"the large run revoked %d users meanwhile (%d → %d of 600); waiting for the whole run would have taken about %.0f s",
			took.Seconds(), bigThen-bigAtApproval, bigAtApproval, bigThen, float64(600-bigAtApproval)/20)
		e.stop()
	}
}
