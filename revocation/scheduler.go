package revocation

import (
	"context"
	"log/slog"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/store"
)

// Scheduler fires persisted timers. It is the only place that waits for time to pass, so expiry, verification
// and deadline notices all survive a restart and all follow the injectable clock.
type Scheduler struct {
	Store    store.Store
	Clock    clock.Clock
	Handlers map[string]func(ctx context.Context, requestID string) error
	Poll     time.Duration // how often to look for due timers (default 1 s)
	// Wake, when signalled, makes the scheduler look at once (a timer was just set for now).
	Wake <-chan struct{}
	Log  *slog.Logger
}

// Run fires due timers until ctx ends. A handler that fails is retried at the next poll (its timer is still
// there); a handler removes or moves its own timer when done.
func (s *Scheduler) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.Wake:
		}
	}
}

// Tick fires every timer due now, once.
func (s *Scheduler) Tick(ctx context.Context) {
	due, err := s.Store.DueTimers(ctx, s.Clock.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error("read timers", "err", err)
		}
		return
	}
	for _, tm := range due {
		h, ok := s.Handlers[tm.Kind]
		if !ok {
			s.Log.Error("timer without handler; dropping it", "kind", tm.Kind, "request", tm.RequestID)
			_ = s.Store.DeleteTimer(ctx, tm.Kind, tm.RequestID)
			continue
		}
		if err := h(ctx, tm.RequestID); err != nil && ctx.Err() == nil {
			s.Log.Error("timer handler failed; will retry", "kind", tm.Kind, "request", tm.RequestID, "err", err)
		}
	}
}
