package graphtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) readCtx() readCtx {
	return readCtx{now: s.now(), delay: s.opts.ReplicationDelay}
}

var userOrderBy = []string{"displayName", "userPrincipalName"}

func (s *Server) handleListUsers(req *apiRequest) *apiResponse {
	opts, errResp := parseListOptions(req, userType, []*entityType{userType}, userOrderBy)
	if errResp != nil {
		return errResp
	}
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	entries := make([]listEntry, 0, len(s.dir.users))
	for _, u := range s.dir.users {
		entries = append(entries, listEntry{typ: userType, obj: u})
	}
	return s.page(req, opts, entries, "users", false)
}

// handleCountUsers serves GET /users/$count, which Graph only answers as an
// advanced query.
func (s *Server) handleCountUsers(req *apiRequest) *apiResponse {
	if !isEventual(req.header) {
		return graphError(req, http.StatusBadRequest, codeRequestBadRequest, "$count is not currently supported.")
	}
	opts, errResp := parseListOptions(req, userType, []*entityType{userType}, userOrderBy)
	if errResp != nil {
		return errResp
	}
	rc := s.readCtx()
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	n := 0
	for _, u := range s.dir.users {
		get := listEntry{typ: userType, obj: u}.getter(rc)
		if opts.filter.matches(get) && opts.search.matches(get) {
			n++
		}
	}
	return newTextResponse(http.StatusOK, strconv.Itoa(n))
}

func (s *Server) handleGetUser(req *apiRequest, idOrUPN string) *apiResponse {
	var selected []string
	if v, ok := queryParam(req, "select"); ok {
		sel, err := parseSelect(v, []*entityType{userType})
		if err != nil {
			qe := err.(*queryError)
			return graphError(req, http.StatusBadRequest, qe.code, qe.message)
		}
		selected = sel
	}
	rc := s.readCtx()
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	u := s.dir.lookupUserLocked(idOrUPN)
	if u == nil {
		return notFound(req, idOrUPN)
	}
	body := jsonObject{{"@odata.context", contextURL("users", selected) + "/$entity"}}
	body = append(body, listEntry{typ: userType, obj: u}.render(selected, false, rc)...)
	return newJSONResponse(http.StatusOK, body)
}

// Users is a snapshot of all users, sorted by UPN (authoritative values, not
// replication-lagged).
func (s *Server) Users() []User {
	s.dir.mu.RLock()
	out := make([]User, 0, len(s.dir.users))
	for _, u := range s.dir.users {
		out = append(out, u.User.clone())
	}
	s.dir.mu.RUnlock()
	slices.SortFunc(out, func(a, b User) int {
		return strings.Compare(strings.ToLower(a.UserPrincipalName), strings.ToLower(b.UserPrincipalName))
	})
	return out
}

// User looks a user up by id or (case-insensitive) UPN.
func (s *Server) User(idOrUPN string) (User, bool) {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	u := s.dir.lookupUserLocked(idOrUPN)
	if u == nil {
		return User{}, false
	}
	return u.User.clone(), true
}

// AddUser inserts or replaces a user (matched by ID, else by UPN) and returns
// the stored copy. An empty ID is assigned; UserType defaults to "Member" and
// ProxyAddresses to ["SMTP:"+Mail]. AccountEnabled is taken as given.
func (s *Server) AddUser(u User) User {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	return s.dir.putUserLocked(u)
}

// DeleteUser removes a user; group memberships pointing at it are ignored
// from then on. Reports whether the user existed.
func (s *Server) DeleteUser(idOrUPN string) bool {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	u := s.dir.lookupUserLocked(idOrUPN)
	if u == nil {
		return false
	}
	delete(s.dir.users, strings.ToLower(u.ID))
	delete(s.dir.upnIndex, strings.ToLower(u.UserPrincipalName))
	return true
}
