package fakeconnector

import "time"

// editThrottle is ThrottleEdits' state (guarded by Server.mu).
type editThrottle struct {
	every      int
	retryAfter time.Duration
	n          int
}

// refuse counts one activity edit and reports whether ThrottleEdits refuses it.
func (t *editThrottle) refuse() bool {
	if t.every <= 0 {
		return false
	}
	t.n++
	return t.n%t.every == 0
}

// ThrottleEdits makes every n-th activity edit (PUT …/activities/{id}) answer 429 with Retry-After (whole
// seconds, at least 1), as Teams does to a bot that edits faster than its per-conversation limits; other calls
// are not affected (Throttle refuses the next calls of any kind). n ≤ 0 stops it. Calls records each answer.
func (s *Server) ThrottleEdits(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.editLimit = editThrottle{every: n, retryAfter: max(retryAfter.Round(time.Second), time.Second)}
}
