package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
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

// Replicas share one database: two schedulers over one store fire every due timer exactly once between them, and
// a timer kind neither knows (a newer replica's, mid-upgrade) is left in place for one that does.
func TestSchedulersFireEachTimerOnceAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dbPath := filepath.Join(t.TempDir(), "db")
	clk := clock.NewFake(time.Now())
	const n = 40
	var mu sync.Mutex
	fired := map[string][]string{} // request → replicas that fired its timer
	var scheds []*revocation.Scheduler
	for _, owner := range []string{"replica-a", "replica-b"} {
		st, err := sqlite.Open(ctx, dbPath) // a store of its own on the shared file, as a second process has
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		scheds = append(scheds, &revocation.Scheduler{Store: st, Clock: clk, Owner: owner, Poll: 5 * time.Millisecond,
			Log: slog.New(slog.DiscardHandler), Workers: 4,
			Handlers: map[string]func(context.Context, string) error{
				"verify": func(ctx context.Context, id string) error {
					mu.Lock()
					fired[id] = append(fired[id], owner)
					mu.Unlock()
					time.Sleep(time.Millisecond) // long enough for the other replica to look meanwhile
					return st.DeleteTimer(ctx, "verify", id)
				},
			}})
	}
	st := scheds[0].Store
	for i := range n {
		if err := st.SetTimer(ctx, store.Timer{Kind: "verify", RequestID: fmt.Sprintf("R%02d", i), Due: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetTimer(ctx, store.Timer{Kind: "from-a-newer-version", RequestID: "RNEW", Due: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range scheds {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := len(fired)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // ten more polls each: a second firing would show now
	cancel()
	wg.Wait()
	byOwner := map[string]int{}
	for id, owners := range fired {
		if len(owners) != 1 {
			t.Errorf("%s fired %d times (%v), want once", id, len(owners), owners)
		}
		byOwner[owners[0]]++
	}
	if len(fired) != n {
		t.Errorf("%d of %d timers fired", len(fired), n)
	}
	t.Logf("fired by replica: %v", byOwner)
	due, err := st.DueTimers(context.Background(), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Kind != "from-a-newer-version" {
		t.Errorf("timers left: %v, want only the unknown kind's", due)
	}
}

// A replica shutting down mid-handler hands its timer back: a restarted one fires it at once, not a claim's
// lifetime later.
func TestSchedulerHandsTimersBackAtShutdown(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Now())
	started := make(chan struct{})
	newSched := func(owner string, h func(context.Context, string) error) *revocation.Scheduler {
		return &revocation.Scheduler{Store: st, Clock: clk, Owner: owner, Poll: 5 * time.Millisecond, ClaimTTL: time.Hour,
			Log: slog.New(slog.DiscardHandler), Handlers: map[string]func(context.Context, string) error{"run": h}}
	}
	if err := st.SetTimer(context.Background(), store.Timer{Kind: "run", RequestID: "R1", Due: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := newSched("before-restart", func(ctx context.Context, _ string) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	<-started
	cancel()
	<-done
	var ran atomic.Bool
	second := newSched("after-restart", func(ctx context.Context, id string) error {
		ran.Store(true)
		return st.DeleteTimer(ctx, "run", id)
	})
	second.Tick(context.Background())
	if !ran.Load() {
		t.Fatal("the restarted scheduler did not fire the interrupted timer: its claim still held it")
	}
}
