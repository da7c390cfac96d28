package graphtest

import (
	"net/http"
	"strings"
	"sync"
)

// Permissions DenyPermission knows how to take away. The app's token keeps listing its roles: like an admin
// revoking consent, the denial shows only in Graph's answers.
const (
	// PermPolicyRead guards reading token lifetime policies and their assignments.
	PermPolicyRead = "Policy.Read.All"
	// PermPolicyWrite guards creating, updating and deleting token lifetime policies and assigning them to
	// applications. Reads stay under PermPolicyRead, so an app can be allowed to read policies but not to
	// change them, as a tenant that grants only Policy.Read.All does.
	PermPolicyWrite = "Policy.ReadWrite.ApplicationConfiguration"
	// PermAuditRead guards reading the directory audit log (/auditLogs/directoryAudits).
	PermAuditRead = "AuditLog.Read.All"
	// PermRevokeSessions guards revokeSignInSessions.
	PermRevokeSessions = "User.RevokeSessions.All"
)

// msgInsufficientPrivileges is Graph's message for a 403 Authorization_RequestDenied.
const msgInsufficientPrivileges = "Insufficient privileges to complete the operation."

// permissions holds the denied permissions and the pending read failures.
type permissions struct {
	mu        sync.Mutex
	denied    map[string]bool           // lower-case permission name
	readFails map[string]*injectedFault // lower-case user id; remaining < 0: for ever
}

// DenyPermission makes Graph answer 403 Authorization_RequestDenied ("Insufficient privileges to complete the
// operation.") to every request that needs perm, as when an admin has not granted it: PermPolicyRead
// ("Policy.Read.All") denies reading token lifetime policies and what they apply to; PermPolicyWrite
// ("Policy.ReadWrite.ApplicationConfiguration") denies POST, PATCH and DELETE on token lifetime policies and
// assigning them to applications, while reads stay allowed; PermRevokeSessions ("User.RevokeSessions.All")
// denies every revokeSignInSessions, direct or in $batch; PermAuditRead ("AuditLog.Read.All") denies reading
// the directory audit log. Reading users is never affected. Other names are remembered but guard nothing.
func (s *Server) DenyPermission(perm string) {
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	s.perms.denied[strings.ToLower(perm)] = true
}

// GrantPermission undoes DenyPermission.
func (s *Server) GrantPermission(perm string) {
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	delete(s.perms.denied, strings.ToLower(perm))
}

func (s *Server) permissionDenied(perm string) bool {
	if perm == "" {
		return false
	}
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	return s.perms.denied[strings.ToLower(perm)]
}

func forbidden(req *apiRequest) *apiResponse {
	return graphError(req, http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges)
}

// FailReads makes the next `times` reads of one user (GET /users/{id|upn}, direct or inside $batch) answer
// status with Graph's error for it (429 and 503 with Retry-After: 1), so callers can test what they do when a
// verification read fails. times < 0 fails every read until FailReads is called again; times == 0 clears.
// A later call replaces an earlier one for the same user. Failed reads consume no budget.
func (s *Server) FailReads(userID string, status int, times int) {
	key := strings.ToLower(userID)
	if u, ok := s.User(userID); ok {
		key = strings.ToLower(u.ID) // so a failure set by UPN also fires for reads by id, and back
	}
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	if times == 0 {
		delete(s.perms.readFails, key)
		return
	}
	s.perms.readFails[key] = &injectedFault{status: status, remaining: times}
}

// takeReadFault consumes one pending read failure for the user a GET targets.
func (s *Server) takeReadFault(idOrUPN string) (injectedFault, bool) {
	key := strings.ToLower(idOrUPN)
	if u, ok := s.User(idOrUPN); ok {
		key = strings.ToLower(u.ID)
	}
	s.perms.mu.Lock()
	defer s.perms.mu.Unlock()
	f := s.perms.readFails[key]
	if f == nil {
		return injectedFault{}, false
	}
	if f.remaining > 0 {
		f.remaining--
		if f.remaining == 0 {
			delete(s.perms.readFails, key)
		}
	}
	return *f, true
}
