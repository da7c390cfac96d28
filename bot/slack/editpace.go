package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// EditPace bounds the chat.update calls of one Messenger (one bot token, so one workspace). Slack limits
// chat.update as a Tier 3 method, "50+ per minute" per method, app and workspace, sporadic bursts welcome
// (https://api.slack.com/apis/rate-limits, https://api.slack.com/methods/chat.update), whatever message is edited:
// every request's card shares the budget. A token bucket of Burst refilled at PerMinute admits at most Burst +
// PerMinute calls in any minute.
type EditPace struct {
	PerMinute float64
	Burst     int
}

// DefaultEditPace stays within Tier 3's 50 a minute (45 + a burst of 5). The card editor folds the changes that
// arrive while an edit waits here into that edit, so waiting costs no news, only a little freshness.
var DefaultEditPace = EditPace{PerMinute: 45, Burst: 5}

// WithEditPace sets the pace of chat.update (DefaultEditPace when not given).
func WithEditPace(p EditPace) MessengerOption {
	return func(m *Messenger) { m.edits.pace = p }
}

// editPacer spaces out chat.update calls and holds all of them back while Slack's last Retry-After for the method
// runs: a 429 on one card's edit applies to the edits of every card.
type editPacer struct {
	pace    EditPace
	once    sync.Once
	limiter *rate.Limiter

	mu    sync.Mutex
	until time.Time // no chat.update before this (Retry-After)
}

// wait blocks until a chat.update may be sent.
func (p *editPacer) wait(ctx context.Context) error {
	p.once.Do(func() {
		pace := p.pace
		if pace.PerMinute <= 0 {
			pace = DefaultEditPace
		}
		p.limiter = rate.NewLimiter(rate.Limit(pace.PerMinute/60), max(pace.Burst, 1))
	})
	if err := p.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("slack chat.update: pacing within Slack's rate limit: %w", err)
	}
	for {
		p.mu.Lock()
		d := time.Until(p.until)
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("slack chat.update: waiting out Slack's Retry-After: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// observe notes a 429's Retry-After, which holds back every chat.update.
func (p *editPacer) observe(err error) {
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		return
	}
	until := time.Now().Add(max(rl.RetryAfter, time.Second))
	p.mu.Lock()
	if until.After(p.until) {
		p.until = until
	}
	p.mu.Unlock()
}
