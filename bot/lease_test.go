package bot

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// slowChat is a thread chat whose replies take a while, as Slack's do at one message a second: the window in
// which two replicas flushing one thread would both post what the audit log holds past the cursor.
type slowChat struct {
	*threadChat
}

func (c slowChat) Reply(ctx context.Context, ref store.MessageRef, msg Message) (store.MessageRef, error) {
	time.Sleep(5 * time.Millisecond)
	return c.threadChat.Reply(ctx, ref, msg)
}

// Two replicas share the store and the chat, and both hear of every piece of news (each flushes the thread when
// woken). The thread's lease lets one post at a time: the confirmations add up to the scope exactly, none is
// reported twice, and the replica that found the thread busy left itself a timer to look again.
func TestTwoReplicasNeverPostTheSameReply(t *testing.T) {
	const n, step = 400, 40
	r := newThreadRig(t, n)
	chat := slowChat{r.chat}
	replicas := make([]*App, 2)
	for i := range replicas {
		a := &App{Store: r.st, Clock: r.clk, Log: slog.New(slog.DiscardHandler), Owner: []string{"replica-a", "replica-b"}[i]}
		a.AddMessenger(chat)
		replicas[i] = a
	}
	ctx := context.Background()
	for from := 0; from < n; from += step {
		r.record(t, span(from, from+step), store.TargetSessionsInvalid, nil, 50*time.Millisecond)
		var wg sync.WaitGroup
		for _, a := range replicas {
			wg.Add(1)
			go func() { defer wg.Done(); a.flushThread(ctx, r.req.ID) }()
		}
		wg.Wait()
	}
	due, err := r.st.DueTimers(ctx, r.clk.Now().Add(threadBusyRetry))
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, tm := range due {
		if tm.Kind == TimerThread {
			busy++
		}
	}
	if busy == 0 {
		t.Error("neither replica ever found the thread busy: the test did not make them race")
	}
	replicas[0].flushThread(ctx, r.req.ID) // the retry timer's work
	_, thread := scopeParts(r.chat.texts())
	total, digests := confirmedCounts(t, thread, n)
	if total != n {
		t.Errorf("the thread reports %d confirmations of %d users in %d digests:\n%s", total, n, digests, strings.Join(thread, "\n---\n"))
	}
	t.Logf("%d confirmations in %d digests; a replica found the thread busy", total, digests)
}
