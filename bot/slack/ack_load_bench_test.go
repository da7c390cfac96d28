package slack_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// largeRunOpts is a 10,000-user group on the simulated tenant scaled 20× as graph/graphbench scales it: Entra's
// 3,000 writes per 150 s (20/s) become 400/s (80 per 200 ms, so the tenant's burst stays small), its 8,000 read
// units per 10 s 16,000/s, and Graph's ~100 ms per request 5 ms. The bot's write pace is the scaled ceiling, so
// the run revokes for about 25 s instead of 8⅓ minutes, then confirms and finishes. The card editor and the Slack
// messenger keep the product's default pace (one edit per card per second, chat.update at DefaultEditPace), not
// the tests' fast ones.
func largeRunOpts(users int) envOpts {
	return envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: users, Latency: 5 * time.Millisecond,
		WriteBudget: 80, WriteWindow: 200 * time.Millisecond, ReadBudget: 3200, ReadWindow: 200 * time.Millisecond},
		writeRate: 400, minEdit: time.Second, editPace: &slackbot.DefaultEditPace}
}

// startLargeRun requests the big group, has two admins approve it (above 100 users) and returns the request.
func (e *env) startLargeRun() store.Request {
	e.t.Helper()
	e.slash(alice, "group "+graphtest.GroupBig)
	big := e.onlyRequest()
	e.click(bob, "approve", big)
	e.click(carol, "approve", big)
	return e.request(big.ID)
}

// revokedSoFar counts revocations the tenant accepted (cheaper than reading 10,000 targets from the store).
func (e *env) revokedSoFar() int { return len(e.tenant.Revocations()) }

// openLoop sends n signed slash commands at rate per second on a fixed schedule, whatever the answers: each is
// sent at start + i/rate by its own goroutine, so a slow answer never delays the next request (no coordinated
// omission), and each latency is measured from the request's scheduled time to the end of the bot's HTTP answer.
// text gives the i-th command's text.
func (e *env) openLoop(n int, rate float64, text func(i int) string) (lat []time.Duration, failures []string) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	lat = make([]time.Duration, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := slashBody(alice, text(i), e.nextTrigger())
			ts := time.Now().Unix()
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/slack/commands", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("X-Slack-Signature", sign(ts, body))
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %d", resp.StatusCode)
				}
			}
			lat[i] = time.Since(at)
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, failures
}

// loadAverage is the machine's 1-minute load average where Linux tells it (", load 2.31"): the ack's tail is
// mostly how long a ready goroutine waits for a core, so a figure means little without it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return ", load " + f[0]
}

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(float64(len(sorted))*p))].Microseconds()) / 1000
}

// BenchmarkAckUnderLoad is issue target 4: while a 10,000-user run revokes, signed slash commands arrive over
// loopback HTTP at an open-loop 100 per second for 10 s (nine in ten `/signout help`, one in ten a one-user
// request, which stores a request and posts its card after the ack), and it prints the time to the HTTP ack
// beside the 50 ms target. It prints figures and never fails on them. To see where the time goes, add
// -cpuprofile cpu.out.
//
//	go test -run - -bench AckUnderLoad -benchtime 1x ./bot/slack/
func BenchmarkAckUnderLoad(b *testing.B) {
	const users, rate, seconds = 10000, 100, 10
	for range b.N {
		e := newEnv(b, largeRunOpts(users))
		big := e.startLargeRun()
		waitFor(b, "the large run under way", 60*time.Second, func() bool { return e.revokedSoFar() >= users/10 })
		before := e.revokedSoFar()
		lat, failures := e.openLoop(rate*seconds, rate, func(i int) string {
			if i%10 == 9 {
				return fmt.Sprintf(`user %s --reason "load %d"`, graphtest.UPNLester, i)
			}
			return "help"
		})
		after := e.revokedSoFar()
		if len(failures) > 0 {
			b.Errorf("%d of %d commands failed, e.g. %s", len(failures), len(lat), failures[0])
		}
		slices.Sort(lat)
		p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
		during := "while the run revoked"
		if after >= users {
			during = "the run finished revoking before the load ended"
		}
		fmt.Printf("ack-under-load: %d signed commands at %d/s during a %d-user run, p50 %.1f ms, p99 %.1f ms, max %.1f ms "+
			"(target 50 ms, %.0f %%), cores=%d%s; %s (%d → %d of %d revoked, request %s)\n",
			len(lat), rate, users, p50, p99, float64(lat[len(lat)-1].Microseconds())/1000, p99/50*100, runtime.NumCPU(),
			loadAverage(), during, before, after, users, big.ID)
		b.ReportMetric(p50, "ack-p50-ms")
		b.ReportMetric(p99, "ack-p99-ms")
		b.ReportMetric(p99/50*100, "%-of-50ms-target-p99")
		e.stop()
	}
}
