package slack_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkSlashCommandAck measures what Slack waits for: the HTTP 200 to a signed /signout that creates a
// request (Slack gives up after 3 s). Verifying the signature and parsing are inside the measurement; resolving
// the scope and posting the card happen after the ack and are not. Run it under -race too: the figure should
// stay far below Slack's limit even there.
func BenchmarkSlashCommandAck(b *testing.B) {
	e := newEnv(b, envOpts{})
	var acks []time.Duration
	for b.Loop() {
		body := slashBody(alice, `user lester@contoso.com --reason "bench"`, e.nextTrigger())
		ts := time.Now().Unix()
		start := time.Now()
		code, resp := e.postSigned("/slack/commands", body, ts, sign(ts, body))
		acks = append(acks, time.Since(start))
		if code != http.StatusOK {
			b.Fatalf("slash command: %d %s", code, resp)
		}
		b.StopTimer()
		e.handler.Wait() // the background work of one command does not slow the next ack
		b.StartTimer()
	}
	slices.Sort(acks)
	pct := func(p float64) float64 {
		return float64(acks[min(len(acks)-1, int(float64(len(acks))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "ack-p50-ms")
	b.ReportMetric(pct(0.99), "ack-p99-ms")
	b.ReportMetric(pct(0.99)/3000*100, "%-of-slack-3s-limit-p99")
}
