package graphtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

var groupOrderBy = []string{"displayName"}

func (s *Server) handleListGroups(req *apiRequest) *apiResponse {
	opts, errResp := parseListOptions(req, groupType, []*entityType{groupType}, groupOrderBy)
	if errResp != nil {
		return errResp
	}
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	entries := make([]listEntry, 0, len(s.dir.groups))
	for _, g := range s.dir.groups {
		entries = append(entries, listEntry{typ: groupType, obj: g})
	}
	return s.page(req, opts, entries, "groups", false)
}

func (s *Server) handleCountGroups(req *apiRequest) *apiResponse {
	if !isEventual(req.header) {
		return graphError(req, http.StatusBadRequest, codeRequestBadRequest, "$count is not currently supported.")
	}
	opts, errResp := parseListOptions(req, groupType, []*entityType{groupType}, groupOrderBy)
	if errResp != nil {
		return errResp
	}
	rc := s.readCtx()
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	n := 0
	for _, g := range s.dir.groups {
		get := listEntry{typ: groupType, obj: g}.getter(rc)
		if opts.filter.matches(get) && opts.search.matches(get) {
			n++
		}
	}
	return newTextResponse(http.StatusOK, strconv.Itoa(n))
}

func (s *Server) handleGetGroup(req *apiRequest, id string) *apiResponse {
	var selected []string
	if v, ok := queryParam(req, "select"); ok {
		sel, err := parseSelect(v, []*entityType{groupType})
		if err != nil {
			qe := err.(*queryError)
			return graphError(req, http.StatusBadRequest, qe.code, qe.message)
		}
		selected = sel
	}
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	g := s.dir.groups[strings.ToLower(id)]
	if g == nil {
		return notFound(req, id)
	}
	body := jsonObject{{"@odata.context", contextURL("groups", selected) + "/$entity"}}
	body = append(body, listEntry{typ: groupType, obj: g}.render(selected, false, s.readCtx())...)
	return newJSONResponse(http.StatusOK, body)
}

// handleMembers serves members and transitiveMembers, optionally cast to
// microsoft.graph.user (only users, no @odata.type needed by clients).
func (s *Server) handleMembers(req *apiRequest, groupID string, transitive, usersOnly bool) *apiResponse {
	schema, selectable, set := directoryObjectType, []*entityType{userType, groupType, deviceType}, "directoryObjects"
	if usersOnly {
		schema, selectable, set = userType, []*entityType{userType}, "users"
	}
	opts, errResp := parseListOptions(req, schema, selectable, []string{"displayName"})
	if errResp != nil {
		return errResp
	}
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	g := s.dir.groups[strings.ToLower(groupID)]
	if g == nil {
		return notFound(req, groupID)
	}
	var members []dirObject
	if transitive {
		members = s.dir.transitiveMembersLocked(g)
	} else {
		members = s.dir.directMembersLocked(g)
	}
	entries := make([]listEntry, 0, len(members))
	for _, m := range members {
		switch {
		case m.user != nil:
			entries = append(entries, listEntry{typ: userType, obj: m.user})
		case usersOnly:
		case m.group != nil:
			entries = append(entries, listEntry{typ: groupType, obj: m.group})
		case m.device != nil:
			entries = append(entries, listEntry{typ: deviceType, obj: m.device})
		}
	}
	return s.page(req, opts, entries, set, !usersOnly)
}

// AddGroup inserts or replaces a group (by ID; an empty ID is assigned) and
// returns the stored copy.
func (s *Server) AddGroup(g Group) Group {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	return s.dir.putGroupLocked(g)
}

// FindGroups returns every group whose displayName equals displayName
// (case-insensitive), sorted by ID. More than one result means ambiguity.
func (s *Server) FindGroups(displayName string) []Group {
	s.dir.mu.RLock()
	var out []Group
	for _, g := range s.dir.groups {
		if strings.EqualFold(g.DisplayName, displayName) {
			out = append(out, g.clone())
		}
	}
	s.dir.mu.RUnlock()
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.ID, b.ID) })
	return out
}
