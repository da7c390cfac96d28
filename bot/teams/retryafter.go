package teams

import (
	"context"
	"fmt"
	"time"
)

// holdBack records that Teams answered a call in p's conversation 429 with a Retry-After of wait. Teams applies its
// limits per bot and conversation to every operation ("Optimize your bot with rate limiting in Teams"), so until
// then no call to that conversation is sent, whichever message it posts or edits.
func (m *Messenger) holdBack(p *pacer, wait time.Duration) {
	if p == nil {
		return
	}
	until := time.Now().Add(wait)
	m.mu.Lock()
	if until.After(p.until) {
		p.until = until
	}
	m.mu.Unlock()
}

// waitHeldBack waits until the last Retry-After Teams sent for p's conversation has passed.
func (m *Messenger) waitHeldBack(ctx context.Context, p *pacer) error {
	if p == nil {
		return nil
	}
	for {
		m.mu.Lock()
		d := time.Until(p.until)
		m.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("teams: waiting out Teams' Retry-After for the conversation: %w", ctx.Err())
		case <-t.C:
		}
	}
}
