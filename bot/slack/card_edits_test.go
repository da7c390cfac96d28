package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// editFigures describes the chat.update calls that edited one card.
type editFigures struct {
	calls         []time.Time // every chat.update of the card that reached Slack, refused ones included
	max1s, max60s int         // the most calls in any 1 s and any 60 s window
	refused       int         // answered 429
	honoured      int         // 429s after which no chat.update at all reached Slack before Retry-After had passed
	early         []string    // the calls that came too early
}

// maxInWindow is the most of the sorted times that fall in any window of length w.
func maxInWindow(at []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi := range at {
		for at[hi].Sub(at[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// cardEdits sums up the chat.update calls for card ts. Slack's rate limits (and so its Retry-After) hold per
// method, app and workspace, so after a 429 no chat.update of any message may come before Retry-After has passed.
func cardEdits(calls []fakeslack.UpdateCall, ts string) editFigures {
	var f editFigures
	for i, c := range calls {
		if c.TS == ts {
			f.calls = append(f.calls, c.At)
		}
		if c.Status != http.StatusTooManyRequests {
			continue
		}
		f.refused++
		ok := true
		for _, next := range calls[i+1:] {
			if gap := next.At.Sub(c.At); gap < c.RetryAfter {
				ok = false
				f.early = append(f.early, fmt.Sprintf("chat.update of %s %s after a 429 with Retry-After %s", next.TS,
					gap.Round(time.Millisecond), c.RetryAfter))
			}
		}
		if ok {
			f.honoured++
		}
	}
	slices.SortFunc(f.calls, func(a, b time.Time) int { return a.Compare(b) })
	f.max1s, f.max60s = maxInWindow(f.calls, time.Second), maxInWindow(f.calls, time.Minute)
	return f
}

// steadyPerMinute is the pace of the second half of the sorted times, per minute: what a run longer than the
// benchmark's would keep up, its first burst aside.
func steadyPerMinute(at []time.Time) float64 {
	k := len(at) / 2
	if len(at)-k < 2 {
		return 0
	}
	return float64(len(at)-1-k) / at[len(at)-1].Sub(at[k]).Minutes()
}

// waitEditsIdle waits until no chat.update has reached Slack for quiet: the card editor has shown what it had.
func (e *env) waitEditsIdle(quiet time.Duration) {
	e.t.Helper()
	last, lastChange := -1, time.Now()
	waitFor(e.t, "the card editor to go quiet", time.Minute, func() bool {
		if n := len(e.slack.UpdateCalls()); n != last {
			last, lastChange = n, time.Now()
		}
		return time.Since(lastChange) >= quiet
	})
}

// finalCardCorrect reports whether the card Slack shows is the card the store renders now: it renders the request
// afresh, edits the card with it and compares (call it once the editor is idle; it adds one chat.update).
func (e *env) finalCardCorrect(r store.Request) (ok bool, shown, fresh string) {
	e.t.Helper()
	shown = e.card(r).AllText()
	msg, req, err := e.app.Card(context.Background(), r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.handler.Messenger.Update(context.Background(), req.Message, msg); err != nil {
		e.t.Fatal(err)
	}
	fresh = e.card(r).AllText()
	return shown == fresh, shown, fresh
}

// TestCardEditsHonourRetryAfter: while a run edits its card, Slack refuses every third chat.update with 429 and
// Retry-After. No chat.update may reach Slack before Retry-After has passed, and the card must end showing the
// request's final state (the last edit is never lost).
func TestCardEditsHonourRetryAfter(t *testing.T) {
	e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 300}, writeRate: 100, minEdit: 200 * time.Millisecond})
	e.slack.RateLimitUpdates(3, time.Second)
	big := e.startLargeRun()
	e.waitStatus(big.ID, store.StatusDone, time.Minute)
	e.waitEditsIdle(2 * time.Second)
	f := cardEdits(e.slack.UpdateCalls(), big.Message.ID)
	if f.refused == 0 {
		t.Fatalf("Slack refused none of the %d edits: the test proves nothing", len(f.calls))
	}
	for _, s := range f.early {
		t.Error(s)
	}
	e.slack.RateLimitUpdates(0, 0)
	if ok, shown, fresh := e.finalCardCorrect(big); !ok {
		t.Errorf("the card does not show the final state.\nshown:\n%s\nrendered from the store:\n%s", shown, fresh)
	}
	t.Logf("%d edits, %d refused with 429, %d of them honoured, max %d/s", len(f.calls), f.refused, f.honoured, f.max1s)
}

// TestRefusedCardEditIsTriedAgain: the one edit that shows a request's last change (here its cancellation) is
// refused by Slack; the card editor tries it again, so the card does not keep showing the Approve button.
func TestRefusedCardEditIsTriedAgain(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user "+graphtest.UPNLester+` --reason "retry"`)
	r := e.onlyRequest()
	if !hasButtons(e.card(r)) {
		t.Fatalf("the pending card has no buttons:\n%s", e.card(r).AllText())
	}
	e.waitEditsIdle(300 * time.Millisecond)
	e.slack.FailUpdates(2)
	e.slash(alice, "cancel "+r.ID)
	waitFor(t, "the card to show the cancellation", 10*time.Second, func() bool { return !hasButtons(e.card(r)) })
	failed := 0
	for _, c := range e.slack.UpdateCalls() {
		if c.Error != "" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d chat.update calls were refused, want 2", failed)
	}
	if ok, shown, fresh := e.finalCardCorrect(r); !ok {
		t.Errorf("the card does not show the final state.\nshown:\n%s\nrendered from the store:\n%s", shown, fresh)
	}
}
