package graph

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer keeps writes at the tenant's write ceiling. Running at the ceiling, not above it, is what makes a
// large cutover fast: a 429 makes Graph pause the whole app for Retry-After seconds. When a 429 comes anyway
// (another tool is writing in the same tenant, or the budget is lower than configured) the pacer holds every
// worker until Retry-After has passed and lowers its rate; clean successes raise it back towards the ceiling.
//
// The budget is shared fairly between concurrent callers (RevokeSessions calls), each with its own paceKey:
// only one goroutine at a time waits in the limiter, and when it is through the next turn goes to the next
// caller in round-robin order that has a goroutine waiting. A rate.Limiter alone serves reservations in
// arrival order, so a one-user revocation started during a 10,000-user run would queue behind every batch the
// run's workers had already reserved; with turns it waits for at most the one batch now in the limiter.
type pacer struct {
	ceiling float64 // the configured ceiling, lowered to what the tenant showed it allows
	floor   float64
	lim     *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
	lastCut     time.Time
	sinceCut    int // successes since the last cut, to climb back slowly

	turnMu sync.Mutex
	busy   bool       // a goroutine holds the turn: it is the one waiting in the limiter
	keys   []*paceKey // callers in the order they joined: the round-robin ring
	cur    *paceKey   // the caller that holds, or last held, the turn
}

// paceKey is one caller's place in the round-robin of turns.
type paceKey struct {
	waiters []*paceWaiter // this caller's goroutines waiting for a turn, first come first served
}

type paceWaiter struct {
	ready   chan struct{} // closed when the turn is handed to this waiter
	granted bool          // guarded by pacer.turnMu
}

// join registers a caller; every goroutine working for it passes the key to wait. leave it when done.
func (p *pacer) join() *paceKey {
	p.turnMu.Lock()
	defer p.turnMu.Unlock()
	k := &paceKey{}
	p.keys = append(p.keys, k)
	return k
}

func (p *pacer) leave(k *paceKey) {
	p.turnMu.Lock()
	defer p.turnMu.Unlock()
	p.keys = slices.DeleteFunc(p.keys, func(x *paceKey) bool { return x == k })
}

// acquire returns when the calling goroutine holds the turn; it must then release it.
func (p *pacer) acquire(ctx context.Context, k *paceKey) error {
	p.turnMu.Lock()
	if !p.busy {
		p.busy, p.cur = true, k
		p.turnMu.Unlock()
		return nil
	}
	w := &paceWaiter{ready: make(chan struct{})}
	k.waiters = append(k.waiters, w)
	p.turnMu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	p.turnMu.Lock()
	if w.granted {
		// The turn arrived as ctx ended: pass it on, or nobody would ever get it again.
		p.turnMu.Unlock()
		p.release()
		return ctx.Err()
	}
	k.waiters = slices.DeleteFunc(k.waiters, func(x *paceWaiter) bool { return x == w })
	p.turnMu.Unlock()
	return ctx.Err()
}

// release hands the turn to the first waiting goroutine of the next caller after the current one (the current
// caller itself last), or frees it when nobody waits.
func (p *pacer) release() {
	p.turnMu.Lock()
	defer p.turnMu.Unlock()
	start := slices.Index(p.keys, p.cur) + 1 // 0 when the current caller has left
	for i := range len(p.keys) {
		k := p.keys[(start+i)%len(p.keys)]
		if len(k.waiters) == 0 {
			continue
		}
		w := k.waiters[0]
		k.waiters = k.waiters[1:]
		w.granted = true
		close(w.ready)
		p.cur = k
		return
	}
	p.busy = false
}

func newPacer(perSecond float64, burst int) *pacer {
	return &pacer{ceiling: perSecond, floor: perSecond / 20, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// wait blocks until n writes may be sent for caller k: after its turn, after any pause, and at the current
// rate. A nil k is a caller of its own.
func (p *pacer) wait(ctx context.Context, k *paceKey, n int) error {
	if k == nil {
		k = p.join()
		defer p.leave(k)
	}
	if err := p.acquire(ctx, k); err != nil {
		return err
	}
	defer p.release()
	for {
		if err := p.waitPause(ctx); err != nil {
			return err
		}
		if err := p.lim.WaitN(ctx, n); err != nil {
			return err
		}
		// A 429 may have come in while this worker waited for its turn. Its turn was reserved at the old
		// pace, so it queues again at the new one rather than sending with everyone else when the pause ends.
		if !p.paused() {
			return nil
		}
	}
}

func (p *pacer) paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Before(p.pausedUntil)
}

func (p *pacer) waitPause(ctx context.Context) error {
	for {
		p.mu.Lock()
		until := p.pausedUntil
		p.mu.Unlock()
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// throttled records a 429 for a request sent at sentAt: pause everyone for retryAfter, remember that the
// tenant's real ceiling is below the current pace (climb back to at most 85 % of it), and drop to 70 % so the
// next stretch runs clean.
// A 429 for a request sent before the last cut says nothing about the new pace and only extends the pause.
func (p *pacer) throttled(sentAt time.Time, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if sentAt.Before(p.lastCut) {
		return
	}
	p.lastCut = time.Now()
	cur := float64(p.lim.Limit())
	p.ceiling = max(min(p.ceiling, cur*0.85), p.floor)
	p.lim.SetLimit(rate.Limit(max(cur*0.7, p.floor)))
	p.sinceCut = 0
}

// succeeded records n accepted writes; after a clean stretch the rate climbs 5 % back towards the ceiling.
func (p *pacer) succeeded(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if float64(p.lim.Limit()) >= p.ceiling {
		return
	}
	p.sinceCut += n
	if p.sinceCut >= 5*batchLimit {
		p.sinceCut = 0
		p.lim.SetLimit(rate.Limit(min(float64(p.lim.Limit())*1.05, p.ceiling)))
	}
}
