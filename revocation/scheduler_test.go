package revocation_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// A long run holds only its own request: another request's timers fire while it goes on, and a request never
// has two handlers at once. (Before, handlers ran one at a time: a one-user sign-out approved during a
// 10,000-user run waited for the whole run.)
func TestSchedulerRunsRequestsConcurrently(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Now())
	release := make(chan struct{})
	smallDone := make(chan struct{})
	var bigRunning, bigMax, bigCalls atomic.Int32
	handlers := map[string]func(context.Context, string) error{
		"run": func(ctx context.Context, id string) error {
			if id == "RSMALL" {
				close(smallDone)
				return st.DeleteTimer(ctx, "run", id)
			}
			bigCalls.Add(1)
			n := bigRunning.Add(1)
			defer bigRunning.Add(-1)
			for cur := bigMax.Load(); n > cur && !bigMax.CompareAndSwap(cur, n); cur = bigMax.Load() {
			}
			select {
			case <-release:
				return st.DeleteTimer(ctx, "run", id)
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		"verify": func(ctx context.Context, id string) error { return st.DeleteTimer(ctx, "verify", id) },
	}
	s := &revocation.Scheduler{Store: st, Clock: clk, Handlers: handlers, Poll: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	for _, tm := range []store.Timer{{Kind: "run", RequestID: "RBIG"}, {Kind: "verify", RequestID: "RBIG"}} {
		tm.Due = clk.Now()
		if err := st.SetTimer(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for bigRunning.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := st.SetTimer(ctx, store.Timer{Kind: "run", RequestID: "RSMALL", Due: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-smallDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the small request never ran while the big one was running")
	}
	if bigRunning.Load() != 1 {
		t.Fatal("the big run ended before the small one ran: the test proves nothing")
	}
	close(release)
	cancel()
	<-done
	if bigMax.Load() != 1 || bigCalls.Load() != 1 {
		t.Errorf("the big request had %d handlers at once (%d calls); want 1", bigMax.Load(), bigCalls.Load())
	}
}

// A handler that fails is retried after RetryDelay, not spun on.
func TestSchedulerBacksOffAFailingHandler(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Now())
	var calls atomic.Int32
	s := &revocation.Scheduler{Store: st, Clock: clk, RetryDelay: time.Minute, Log: slog.New(slog.DiscardHandler),
		Handlers: map[string]func(context.Context, string) error{"run": func(context.Context, string) error {
			calls.Add(1)
			return errors.New("graph is down")
		}}}
	if err := st.SetTimer(ctx, store.Timer{Kind: "run", RequestID: "R1", Due: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Tick(ctx)
	s.Tick(ctx)
	if calls.Load() != 1 {
		t.Fatalf("%d calls before the retry delay", calls.Load())
	}
	clk.Advance(time.Minute)
	s.Tick(ctx)
	if calls.Load() != 2 {
		t.Fatalf("%d calls after the retry delay", calls.Load())
	}
}
