package graph

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer keeps writes at the tenant's write ceiling. Running at the ceiling, not above it, is what makes a
// large cutover fast: a 429 makes Graph pause the whole app for Retry-After seconds. When a 429 comes anyway
// (another tool is writing in the same tenant, or the budget is lower than configured) the pacer holds every
// worker until Retry-After has passed and lowers its rate; clean successes raise it back towards the ceiling.
type pacer struct {
	ceiling float64 // the configured ceiling, lowered to what the tenant showed it allows
	floor   float64
	lim     *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
	lastCut     time.Time
	sinceCut    int // successes since the last cut, to climb back slowly
}

func newPacer(perSecond float64, burst int) *pacer {
	return &pacer{ceiling: perSecond, floor: perSecond / 20, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// wait blocks until n writes may be sent: after any pause, and at the current rate.
func (p *pacer) wait(ctx context.Context, n int) error {
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
