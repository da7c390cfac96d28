package revocation

import (
	"context"
	"log/slog"
	"slices"
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
	// Owner names this replica in timer claims; replicas sharing a database need different ones.
	Owner string
	// ClaimTTL is how long a claimed timer is this replica's alone (default 1 min). A handler that outlasts it
	// may see its timer fired by another replica too, which the request's lease turns into a no-op; a replica
	// that dies holding claims delays those timers by up to this long.
	ClaimTTL time.Duration

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

// dispatch claims due timers, as many as the pool has room for and none of a request whose handler runs here
// already, and starts their handlers: one goroutine per request, firing its claimed timers in turn. The claim
// (see store.TimerClaim) keeps replicas sharing the database from firing the same timer; kinds without a handler
// here are never claimed, so a replica that does know them (a newer version, mid-upgrade) fires them.
func (s *Scheduler) dispatch(ctx context.Context) {
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	s.mu.Lock()
	if s.inFlight == nil {
		s.inFlight = make(map[string]bool)
	}
	free := workers - len(s.inFlight)
	skip := make([]string, 0, len(s.inFlight))
	for id := range s.inFlight {
		skip = append(skip, id)
	}
	s.mu.Unlock()
	if free <= 0 {
		return
	}
	kinds := make([]string, 0, len(s.Handlers))
	for k := range s.Handlers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	claimed, err := s.Store.ClaimTimers(ctx, store.TimerClaim{Owner: s.owner(), Kinds: kinds, Skip: skip,
		Now: s.Clock.Now(), TTL: s.claimTTL(), Limit: free})
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error("claim timers", "err", err)
		}
		return
	}
	var order []string
	byRequest := map[string][]store.Timer{}
	for _, tm := range claimed {
		if _, ok := byRequest[tm.RequestID]; !ok {
			order = append(order, tm.RequestID)
		}
		byRequest[tm.RequestID] = append(byRequest[tm.RequestID], tm)
	}
	finished := s.done()
	for _, id := range order {
		s.mu.Lock()
		s.inFlight[id] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func(id string, timers []store.Timer) {
			defer s.wg.Done()
			for _, tm := range timers {
				s.fire(ctx, tm)
			}
			s.mu.Lock()
			delete(s.inFlight, id)
			s.mu.Unlock()
			select {
			case finished <- struct{}{}:
			default:
			}
		}(id, byRequest[id])
	}
}

// fire runs one claimed timer's handler. A handler that fails has its timer put back a little later. One that
// succeeds has removed or moved its timer (which ends the claim), or left it in place because the request's work
// is another holder's right now (its lease): the claim then stands until it lapses, so the timer is tried again
// after ClaimTTL rather than at every poll while the other holder works.
func (s *Scheduler) fire(ctx context.Context, tm store.Timer) {
	h := s.Handlers[tm.Kind]
	err := h(ctx, tm.RequestID)
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		// Shutting down: hand the timer back, so a restart (or another replica) fires it at once, not after the claim.
		if err := s.Store.UnclaimTimer(bg, tm.Kind, tm.RequestID, s.owner()); err != nil {
			s.Log.Warn("unclaim timer at shutdown", "kind", tm.Kind, "request", tm.RequestID, "err", err)
		}
		return
	}
	if err != nil {
		// Fired again at once, a handler whose dependency is down would spin.
		retry := s.Clock.Now().Add(s.retryDelay())
		s.Log.Error("timer handler failed; will retry", "kind", tm.Kind, "request", tm.RequestID, "err", err, "retry_at", retry)
		if err := s.Store.SetTimer(bg, store.Timer{Kind: tm.Kind, RequestID: tm.RequestID, Due: retry}); err != nil {
			s.Log.Error("reschedule timer", "kind", tm.Kind, "request", tm.RequestID, "err", err)
		}
	}
}

func (s *Scheduler) owner() string {
	if s.Owner == "" {
		return "signoutbot"
	}
	return s.Owner
}

func (s *Scheduler) claimTTL() time.Duration {
	if s.ClaimTTL > 0 {
		return s.ClaimTTL
	}
	return time.Minute
}
