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
	ceiling float64
	lim     *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
	sinceCut    int // successes since the last cut, to climb back slowly
}

func newPacer(perSecond float64, burst int) *pacer {
	return &pacer{ceiling: perSecond, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// wait blocks until n writes may be sent.
func (p *pacer) wait(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		until := p.pausedUntil
		p.mu.Unlock()
		if d := time.Until(until); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		return p.lim.WaitN(ctx, n)
	}
}

// throttled records a 429: pause everyone for retryAfter and slow down by a tenth.
func (p *pacer) throttled(retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	next := max(float64(p.lim.Limit())*0.9, p.ceiling/20)
	p.lim.SetLimit(rate.Limit(next))
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

// rate is the current pace, for logs and benchmarks.
func (p *pacer) rate() float64 { return float64(p.lim.Limit()) }
