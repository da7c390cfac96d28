package graphtest

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// handleRevoke implements POST /users/{id|upn}/revokeSignInSessions.
func (s *Server) handleRevoke(req *apiRequest, idOrUPN string) *apiResponse {
	now := s.now()
	s.dir.mu.Lock()
	u := s.dir.lookupUserLocked(idOrUPN)
	if u == nil {
		s.dir.mu.Unlock()
		return notFound(req, idOrUPN)
	}
	// Readers on a lagging replica keep seeing whatever was visible before
	// this write, even across several revokes inside the delay window.
	u.prevValidFrom = u.visibleValidFrom(now, s.opts.ReplicationDelay)
	u.changedAt = now
	u.SignInSessionsValidFrom = now.UTC().Truncate(time.Second)
	s.dir.revocations = append(s.dir.revocations, Revocation{UserID: u.ID, At: now, AppID: req.appID})
	s.dir.recordRevokeLocked(u, req.appID, now)
	s.dir.mu.Unlock()
	s.stats.writes.Add(1)
	// Production answers 200 with an Edm.Boolean, not the documented 204.
	return newJSONResponse(http.StatusOK, jsonObject{
		{"@odata.context", metadataBase + "Edm.Boolean"},
		{"value", true},
	})
}

// Revocations lists every accepted revoke in order.
func (s *Server) Revocations() []Revocation {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	return append([]Revocation(nil), s.dir.revocations...)
}

// injectedFault is a queued answer for a user's next revoke calls.
type injectedFault struct {
	status     int
	remaining  int
	retryAfter time.Duration
}

type faultInjector struct {
	mu     sync.Mutex
	byUser map[string][]*injectedFault // lower-case user id or UPN
}

func newFaultInjector() *faultInjector {
	return &faultInjector{byUser: map[string][]*injectedFault{}}
}

// InjectFault makes the next `times` revokeSignInSessions calls for the user
// (direct or inside $batch) answer status: 429 -> TooManyRequests with
// Retry-After, 403 -> Authorization_RequestDenied, 500 -> InternalServerError,
// 503 -> ServiceUnavailable. userID may also be a UPN. Repeated calls queue up.
// Injected faults consume no budget.
func (s *Server) InjectFault(userID string, status int, times int, retryAfter time.Duration) {
	if times <= 0 {
		return
	}
	key := strings.ToLower(userID)
	if u, ok := s.User(userID); ok {
		key = strings.ToLower(u.ID) // so a fault injected by UPN also fires for calls by id
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.byUser[key] = append(s.faults.byUser[key], &injectedFault{status: status, remaining: times, retryAfter: retryAfter})
}

// takeInjectedFault consumes one pending fault for the user a revoke targets.
func (s *Server) takeInjectedFault(idOrUPN string) (injectedFault, bool) {
	key := strings.ToLower(idOrUPN)
	if u, ok := s.User(idOrUPN); ok {
		key = strings.ToLower(u.ID)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	queue := s.faults.byUser[key]
	if len(queue) == 0 {
		return injectedFault{}, false
	}
	f := queue[0]
	f.remaining--
	if f.remaining <= 0 {
		queue = queue[1:]
	}
	if len(queue) == 0 {
		delete(s.faults.byUser, key)
	} else {
		s.faults.byUser[key] = queue
	}
	return *f, true
}
