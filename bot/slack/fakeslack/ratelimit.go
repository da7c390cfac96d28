package fakeslack

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// UpdateCall is one chat.update that reached the fake, and how it was answered.
type UpdateCall struct {
	At          time.Time
	Channel, TS string
	Status      int           // 200, or 429 when RateLimitUpdates refused it
	RetryAfter  time.Duration // with a 429
	Error       string        // Slack's error when FailUpdates refused it ("fatal_error")
}

// editLimit is RateLimitUpdates' state (guarded by Server.mu).
type editLimit struct {
	every      int // every n-th chat.update answers 429 (0: never)
	retryAfter time.Duration
	n          int
	fail       int // chat.update calls still to answer fatal_error (FailUpdates)
	calls      []UpdateCall
}

// RateLimitUpdates makes every n-th chat.update answer HTTP 429 with Retry-After (whole seconds, at least 1), as
// Slack does when an app edits faster than chat.update's tier allows (Tier 3, per method, app and workspace).
// n ≤ 0 stops it.
func (s *Server) RateLimitUpdates(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edits.every, s.edits.retryAfter = n, max(retryAfter.Round(time.Second), time.Second)
}

// FailUpdates makes the next n chat.update calls answer fatal_error (Slack's "something went wrong on our side"),
// which no Web API client retries by itself.
func (s *Server) FailUpdates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edits.fail = n
}

// UpdateCalls lists every chat.update in the order it arrived, refused ones included.
func (s *Server) UpdateCalls() []UpdateCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits.calls)
}

// limitedUpdate records a chat.update and answers it, or refuses it as RateLimitUpdates or FailUpdates ask.
func (s *Server) limitedUpdate(w http.ResponseWriter, r *http.Request) {
	c := UpdateCall{At: time.Now(), Channel: r.FormValue("channel"), TS: r.FormValue("ts"), Status: http.StatusOK}
	s.mu.Lock()
	s.edits.n++
	switch {
	case s.edits.every > 0 && s.edits.n%s.edits.every == 0:
		c.Status, c.RetryAfter = http.StatusTooManyRequests, s.edits.retryAfter
	case s.edits.fail > 0:
		s.edits.fail--
		c.Error = "fatal_error"
	}
	s.edits.calls = append(s.edits.calls, c)
	s.mu.Unlock()
	if c.Error != "" {
		reply(w, map[string]any{"ok": false, "error": c.Error})
		return
	}
	if c.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(int(c.RetryAfter/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		reply(w, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	s.update(w, r)
}
