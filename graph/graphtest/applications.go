package graphtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// application is an app registration, just enough to carry token lifetime policy assignments.
type application struct {
	ID          string // object id: what /applications/{id} takes
	AppID       string // client id
	DisplayName string
}

func (a *application) render() jsonObject {
	return jsonObject{
		{"@odata.type", "#microsoft.graph.application"},
		{"id", a.ID},
		{"appId", a.AppID},
		{"displayName", a.DisplayName},
	}
}

// AddApplication registers an application and returns its object id, which AssignPolicy and
// /applications/{id} take.
func (s *Server) AddApplication(displayName string) string {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	app := &application{ID: s.dir.newIDLocked(), AppID: s.dir.newIDLocked(), DisplayName: displayName}
	s.dir.apps[app.ID] = app
	return app.ID
}

// AssignPolicy assigns a token lifetime policy to an application (by object id), as
// POST /applications/{id}/tokenLifetimePolicies/$ref does.
func (s *Server) AssignPolicy(policyID, appID string) error {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	return s.dir.assignPolicyLocked(policyID, appID)
}

// errAlreadyAssigned carries Graph's message for a reference that exists already.
var errAlreadyAssigned = errors.New("one or more added object references already exist for the following modified properties: 'tokenLifetimePolicies'")

func (d *directory) assignPolicyLocked(policyID, appID string) error {
	app := d.apps[strings.ToLower(appID)]
	if app == nil {
		return fmt.Errorf("graphtest: no application %q", appID)
	}
	p := d.policies[strings.ToLower(policyID)]
	if p == nil {
		return fmt.Errorf("graphtest: no token lifetime policy %q", policyID)
	}
	if slices.Contains(p.AppliesTo, app.ID) {
		return errAlreadyAssigned
	}
	p.AppliesTo = append(p.AppliesTo, app.ID)
	return nil
}

// resolveApplications routes /applications/{id}/tokenLifetimePolicies[/$ref | /{pid}/$ref].
func (s *Server) resolveApplications(req *apiRequest, appID string, rest []string) (endpoint, *apiResponse) {
	if len(rest) == 0 || rest[0] != "tokenLifetimePolicies" {
		return endpoint{}, badRequest(req, fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(req.segments)))
	}
	switch {
	case len(rest) == 1 && req.method == http.MethodGet:
		return endpoint{readCost: costList, perm: PermPolicyRead,
			handle: func(r *apiRequest) *apiResponse { return s.handleAppPolicies(r, appID) }}, nil
	case len(rest) == 2 && rest[1] == "$ref" && req.method == http.MethodPost:
		return endpoint{perm: PermPolicyWrite, handle: func(r *apiRequest) *apiResponse { return s.handleAssignPolicy(r, appID) }}, nil
	case len(rest) == 3 && rest[2] == "$ref" && req.method == http.MethodDelete:
		pid := rest[1]
		return endpoint{perm: PermPolicyWrite, handle: func(r *apiRequest) *apiResponse { return s.handleUnassignPolicy(r, appID, pid) }}, nil
	case len(rest) <= 3:
		return endpoint{}, methodNotAllowed(req)
	}
	return endpoint{}, badRequest(req, fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(rest)))
}

// handleAssignPolicy implements POST /applications/{id}/tokenLifetimePolicies/$ref with
// {"@odata.id": "https://graph.microsoft.com/v1.0/policies/tokenLifetimePolicies/{pid}"}.
func (s *Server) handleAssignPolicy(req *apiRequest, appID string) *apiResponse {
	var in struct {
		ODataID string `json:"@odata.id"`
	}
	if errResp := decodeJSONBody(req, &in); errResp != nil {
		return errResp
	}
	pid, ok := policyRefID(in.ODataID)
	if !ok {
		return badRequest(req, fmt.Sprintf("Invalid object identifier '%s'.", in.ODataID))
	}
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	if s.dir.apps[strings.ToLower(appID)] == nil {
		return notFound(req, appID)
	}
	if s.dir.policies[strings.ToLower(pid)] == nil {
		return notFound(req, pid)
	}
	if err := s.dir.assignPolicyLocked(pid, appID); err != nil {
		return badRequest(req, err.Error())
	}
	return newEmptyResponse(http.StatusNoContent)
}

// policyRefID takes the policy id out of ".../policies/tokenLifetimePolicies/{id}".
func policyRefID(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || ref == "" {
		return "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	n := len(segs)
	if n < 3 || segs[n-3] != "policies" || segs[n-2] != "tokenLifetimePolicies" || segs[n-1] == "" {
		return "", false
	}
	return segs[n-1], true
}

// handleUnassignPolicy implements DELETE /applications/{id}/tokenLifetimePolicies/{pid}/$ref.
func (s *Server) handleUnassignPolicy(req *apiRequest, appID, pid string) *apiResponse {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	app := s.dir.apps[strings.ToLower(appID)]
	if app == nil {
		return notFound(req, appID)
	}
	p := s.dir.policies[strings.ToLower(pid)]
	if p == nil || !slices.Contains(p.AppliesTo, app.ID) {
		return notFound(req, pid)
	}
	p.AppliesTo = slices.DeleteFunc(p.AppliesTo, func(id string) bool { return id == app.ID })
	return newEmptyResponse(http.StatusNoContent)
}

// handleAppPolicies implements GET /applications/{id}/tokenLifetimePolicies.
func (s *Server) handleAppPolicies(req *apiRequest, appID string) *apiResponse {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	app := s.dir.apps[strings.ToLower(appID)]
	if app == nil {
		return notFound(req, appID)
	}
	var ps []*tokenLifetimePolicy
	for _, p := range s.dir.policies {
		if slices.Contains(p.AppliesTo, app.ID) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *tokenLifetimePolicy) int { return strings.Compare(a.ID, b.ID) })
	values := make([]jsonObject, 0, len(ps))
	for _, p := range ps {
		values = append(values, p.render())
	}
	return newJSONResponse(http.StatusOK, jsonObject{{"@odata.context", metadataBase + policiesSet}, {"value", values}})
}
