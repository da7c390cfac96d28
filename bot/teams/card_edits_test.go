package teams_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// editFigures describes the Connector calls that edited one card (PUT …/activities/{id}).
type editFigures struct {
	edits    []time.Time // every edit that reached the Connector, refused ones included
	conv     []time.Time // every call to the card's conversation (edits, thread replies)
	refused  int         // edits answered 429
	honoured int         // 429s after which the card was not edited again before Retry-After had passed
	early    []string    // the edits that came too early
	// besides: calls to the card's conversation other than its edits (thread replies) inside a Retry-After
	besides int
	beside  []string
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

// inFlight is how soon after a 429 another call to the conversation is taken to have been sent before the bot had
// read the 429 (on loopback an answer takes well under a millisecond; a bot that ignored Retry-After would go on
// calling throughout it, which is at least a second).
const inFlight = 100 * time.Millisecond

// cardEdits sums up the calls that edited the card of r.
func cardEdits(calls []fakeconnector.Call, r store.Request) editFigures {
	var f editFigures
	edit := "/activities/" + r.Message.ID
	conv := "/v3/conversations/" + r.Message.Channel
	for i, c := range calls {
		if !strings.HasPrefix(c.Path, conv) {
			continue
		}
		f.conv = append(f.conv, c.At)
		if c.Method != http.MethodPut || !strings.HasSuffix(c.Path, edit) {
			continue
		}
		f.edits = append(f.edits, c.At)
		if c.Status != http.StatusTooManyRequests {
			continue
		}
		f.refused++
		ok := true
		for j, next := range calls { // in the order answered, so look at every call
			gap := next.At.Sub(c.At)
			switch {
			case j == i || gap < 0 || gap >= c.RetryAfter || !strings.HasPrefix(next.Path, conv):
			case next.Path != c.Path && gap < inFlight:
				// Sent before the bot could have read the 429 (edits of one card never overlap, other calls may).
			case next.Path == c.Path:
				ok = false
				f.early = append(f.early, fmt.Sprintf("%s %s %s after a 429 with Retry-After %s", next.Method, next.Path,
					gap.Round(time.Millisecond), c.RetryAfter))
			default:
				f.besides++
				f.beside = append(f.beside, fmt.Sprintf("%s %s %s after a 429 with Retry-After %s", next.Method, next.Path,
					gap.Round(time.Millisecond), c.RetryAfter))
			}
		}
		if ok {
			f.honoured++
		}
	}
	slices.SortFunc(f.edits, func(a, b time.Time) int { return a.Compare(b) })
	slices.SortFunc(f.conv, func(a, b time.Time) int { return a.Compare(b) })
	return f
}

// startLargeRun requests the big group, has two admins approve it (above 100 users) and returns the request.
func (e *env) startLargeRun() store.Request {
	e.t.Helper()
	e.command(e.p("alice"), "signout group "+graphtest.GroupBig)
	big := e.onlyRequest()
	e.invoke(e.p("bob"), "approve", big, "")
	e.invoke(e.p("carol"), "approve", big, "")
	return e.request(big.ID)
}

// waitEditsIdle waits until the Connector has seen no call for quiet: the card editor has shown what it had.
func (e *env) waitEditsIdle(quiet time.Duration) {
	e.t.Helper()
	last, lastChange := -1, time.Now()
	waitFor(e.t, "the card editor to go quiet", time.Minute, func() bool {
		if n := len(e.fc.Calls()); n != last {
			last, lastChange = n, time.Now()
		}
		return time.Since(lastChange) >= quiet
	})
}

// finalCardCorrect reports whether the card Teams shows is the card the store renders now: it renders the request
// afresh, edits the card with it and compares (call it once the editor is idle; it adds one edit).
func (e *env) finalCardCorrect(r store.Request) (ok bool, shown, fresh string) {
	e.t.Helper()
	shown = e.card(r).AllText()
	msg, req, err := e.app.Card(context.Background(), r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.msgr.Update(context.Background(), req.Message, msg); err != nil {
		e.t.Fatal(err)
	}
	fresh = e.card(r).AllText()
	return shown == fresh, shown, fresh
}

// TestCardEditsHonourRetryAfter: while a run edits its card, Teams refuses every third edit with 429 and
// Retry-After. The card may not be edited again before Retry-After has passed, and it must end showing the
// request's final state (the last edit is never lost). TestRetryAfterHoldsBackTheConversation checks the other
// calls to the conversation.
func TestCardEditsHonourRetryAfter(t *testing.T) {
	e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 300}, writeRate: 100, minEdit: 200 * time.Millisecond})
	e.fc.ThrottleEdits(3, time.Second)
	big := e.startLargeRun()
	e.waitStatus(big.ID, store.StatusDone)
	e.waitEditsIdle(2 * time.Second)
	f := cardEdits(e.fc.Calls(), big)
	if f.refused == 0 {
		t.Fatalf("Teams refused none of the %d edits: the test proves nothing", len(f.edits))
	}
	for _, s := range f.early {
		t.Error(s)
	}
	e.fc.ThrottleEdits(0, 0)
	if ok, shown, fresh := e.finalCardCorrect(big); !ok {
		t.Errorf("the card does not show the final state.\nshown:\n%s\nrendered from the store:\n%s", shown, fresh)
	}
	t.Logf("%d edits, %d refused with 429, %d of them honoured, max %d/s; other calls to the conversation inside a "+
		"Retry-After: %d %q", len(f.edits), f.refused, f.honoured, maxInWindow(f.edits, time.Second), f.besides, f.beside)
}

// TestRetryAfterHoldsBackTheConversation: Teams' limits hold per bot and conversation for every operation, so after
// a 429 on a card's edit a reply in the card's thread waits for Retry-After too, and the refused edit lands after it.
func TestRetryAfterHoldsBackTheConversation(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.command(e.p("alice"), "signout user "+graphtest.UPNLester)
	r := e.onlyRequest()
	ctx := context.Background()
	msg, _, err := e.app.Card(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	edit := "/activities/" + r.Message.ID
	refused := func() (fakeconnector.Call, bool) {
		for _, c := range e.fc.Calls() {
			if c.Method == http.MethodPut && strings.HasSuffix(c.Path, edit) && c.Status == http.StatusTooManyRequests {
				return c, true
			}
		}
		return fakeconnector.Call{}, false
	}
	e.fc.ThrottleEdits(1, time.Second)
	done := make(chan error, 1)
	go func() { done <- e.msgr.Update(ctx, r.Message, msg) }()
	waitFor(t, "the 429", 5*time.Second, func() bool { _, ok := refused(); return ok })
	e.fc.ThrottleEdits(0, 0)
	time.Sleep(200 * time.Millisecond) // the bot has read the 429 by now; one that ignored it would reply at once
	reply, err := e.msgr.Reply(ctx, r.Message, bot.Message{Text: "news"})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the refused edit: %v", err)
	}
	c, _ := refused()
	for _, x := range e.fc.Calls() {
		if strings.HasPrefix(x.Path, "/v3/conversations/"+r.Message.Channel) && x.At.After(c.At) && x.At.Sub(c.At) < c.RetryAfter {
			t.Errorf("%s %s %s after a 429 with Retry-After %s", x.Method, x.Path, x.At.Sub(c.At).Round(time.Millisecond), c.RetryAfter)
		}
	}
	if reply.ID == "" {
		t.Error("the reply has no id")
	}
}
