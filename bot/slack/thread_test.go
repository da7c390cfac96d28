package slack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// The thread is an outbox over the audit log: news the runner stored while Slack refused thread replies must
// arrive once Slack takes them again — through the retry timer, or after a restart through start-up recovery —
// each piece exactly once and in order.
func TestThreadRepliesArriveAfterOutage(t *testing.T) {
	tests := []struct {
		name        string
		restart     bool
		threadRetry time.Duration
	}{
		// The retry timer alone delivers it.
		{name: "retry timer", threadRetry: 200 * time.Millisecond},
		// The process dies during the outage; the retry would be an hour away, so only recovery at start can
		// deliver it.
		{name: "restart", restart: true, threadRetry: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := envOpts{threadRetry: tc.threadRetry}
			e := newEnv(t, o)
			e.slash(alice, "group Test")
			r := e.onlyRequest()
			listed := len(e.slack.Thread(channel, r.Message.ID)) // the scope list, posted with the card

			e.slack.FailThreadReplies(true)
			e.click(bob, "approve", r)
			r = e.waitStatus(r.ID, store.StatusDone, 30*time.Second)
			if n := len(e.slack.Thread(channel, r.Message.ID)); n != listed {
				t.Fatalf("thread grew from %d to %d messages while Slack refused replies", listed, n)
			}
			e.waitCard(r, "— done") // the card itself is edited, not replied to: it carries on through the outage

			if tc.restart {
				e.stop()
			}
			e.slack.FailThreadReplies(false)
			if tc.restart {
				e.start(o)
			}
			waitFor(t, "the deadline notice in the thread", 20*time.Second, func() bool {
				return strings.Contains(e.threadText(r), "Access tokens expired")
			})
			time.Sleep(300 * time.Millisecond) // let any duplicate show up
			thread := e.threadText(r)
			for _, once := range []string{"Every revocation has been sent", "Access tokens expired", "Sessions invalid, confirmed from Graph"} {
				n := 0
				for _, m := range e.slack.Thread(channel, r.Message.ID) {
					if strings.Contains(m.AllText(), once) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d thread messages say %q, want one:\n%s", n, once, thread)
				}
			}
			if strings.Index(thread, "Every revocation has been sent") > strings.Index(thread, "Access tokens expired") {
				t.Errorf("the deadline notice came before the announcement of the deadline:\n%s", thread)
			}
			confirmed := 0
			for _, x := range e.targets(r.ID) {
				if x.ConfirmedAt.IsZero() {
					continue
				}
				confirmed++
				if n := strings.Count(thread, x.UPN+"` — confirmed "); n != 1 {
					t.Errorf("%s is confirmed in the thread %d times, want once", x.UPN, n)
				}
			}
			if confirmed == 0 {
				t.Fatal("no target confirmed; the test proves nothing")
			}
			if n := strings.Count(thread, "` — confirmed "); n != confirmed {
				t.Errorf("%d confirmation lines for %d confirmed users", n, confirmed)
			}
		})
	}
}
