package revocation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/store"
)

// Scheduler fires persisted timers. It is the only place that waits for time to pass between the steps of a
// request, so expiry, verification and deadline notices all survive a restart and all follow the injectable
// clock. (A run's confirmer, confirm.go, paces its read-backs in real time, but only while the run itself goes
// on; what it does not confirm is left to Verify's timer.)
//
// Handlers run concurrently, in a bounded pool, one at a time per request: a 100,000-user run holds its own slot
// for an hour, but a one-user sign-out approved meanwhile, other requests' verification passes, expiries and
// deadline notices fire at once beside it. (Within a request the work lease orders the handlers anyway.)
type Scheduler struct {
	Store    store.Store
	Clock    clock.Clock
	Handlers map[string]func(ctx context.Context, requestID string) error
	Poll     time.Duration // how often to look for due timers (default 1 s)
	// Workers bounds how many handlers run at once (default 8).
	Workers int
	// RetryDelay is how long a timer whose handler failed waits before it fires again (default: Poll).
	RetryDelay time.Duration
	// Wake, when signalled, makes the scheduler look at once (a timer was just set for now).
	Wake <-chan struct{}
	Log  *slog.Logger

	mu       sync.Mutex
	inFlight map[string]bool // request ids with a handler running
	wg       sync.WaitGroup
	finished chan struct{} // a handler ended: its request may have another timer due
}

// Run fires due timers until ctx ends, then waits for the handlers it started. A handler that fails is retried at
// a later poll (its timer is still there); a handler removes or moves its own timer when done.
func (s *Scheduler) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	defer s.wg.Wait()
	for {
		s.dispatch(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.Wake:
		case <-s.done():
		}
	}
}

// Tick fires every timer due now and waits for those handlers (tests drive the scheduler with it).
func (s *Scheduler) Tick(ctx context.Context) {
	s.dispatch(ctx)
	s.wg.Wait()
}

func (s *Scheduler) retryDelay() time.Duration {
	switch {
	case s.RetryDelay > 0:
		return s.RetryDelay
	case s.Poll > 0:
		return s.Poll
	}
	return time.Second
}

func (s *Scheduler) done() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished == nil {
		s.finished = make(chan struct{}, 1)
	}
	return s.finished
}

// dispatch starts a handler for every due timer whose request has none running, while the pool has room. Timers
// left over stay due and are picked up when a handler ends or at the next poll.
func (s *Scheduler) dispatch(ctx context.Context) {
	due, err := s.Store.DueTimers(ctx, s.Clock.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error("read timers", "err", err)
		}
		return
	}
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	finished := s.done()
	for _, tm := range due {
		h, ok := s.Handlers[tm.Kind]
		if !ok {
			s.Log.Error("timer without handler; dropping it", "kind", tm.Kind, "request", tm.RequestID)
			_ = s.Store.DeleteTimer(ctx, tm.Kind, tm.RequestID)
			continue
		}
		s.mu.Lock()
		if s.inFlight == nil {
			s.inFlight = make(map[string]bool)
		}
		if s.inFlight[tm.RequestID] || len(s.inFlight) >= workers {
			s.mu.Unlock()
			continue
		}
		s.inFlight[tm.RequestID] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func(tm store.Timer) {
			defer s.wg.Done()
			if err := h(ctx, tm.RequestID); err != nil && ctx.Err() == nil {
				// Put the timer back a little: fired again at once, a handler whose dependency is down would spin.
				retry := s.Clock.Now().Add(s.retryDelay())
				s.Log.Error("timer handler failed; will retry", "kind", tm.Kind, "request", tm.RequestID, "err", err, "retry_at", retry)
				if err := s.Store.SetTimer(context.WithoutCancel(ctx), store.Timer{Kind: tm.Kind, RequestID: tm.RequestID, Due: retry}); err != nil {
					s.Log.Error("reschedule timer", "kind", tm.Kind, "request", tm.RequestID, "err", err)
				}
			}
			s.mu.Lock()
			delete(s.inFlight, tm.RequestID)
			s.mu.Unlock()
			select {
			case finished <- struct{}{}:
			default:
			}
		}(tm)
	}
}
