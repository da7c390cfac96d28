package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// tokenLifetimePolicy mirrors microsoft.graph.tokenLifetimePolicy.
type tokenLifetimePolicy struct {
	ID                    string
	DisplayName           string
	Definition            []string
	IsOrganizationDefault bool
	AppliesTo             []string // object ids of the applications the policy is assigned to, in order
}

func (p *tokenLifetimePolicy) render() jsonObject {
	def := p.Definition
	if def == nil {
		def = []string{}
	}
	return jsonObject{
		{"id", p.ID},
		{"deletedDateTime", nil},
		{"definition", def},
		{"displayName", p.DisplayName},
		{"isOrganizationDefault", p.IsOrganizationDefault},
	}
}

const policiesSet = "policies/tokenLifetimePolicies"

func (s *Server) resolvePolicies(req *apiRequest, rest []string) (endpoint, *apiResponse) {
	ep := func(cost int, h func(*apiRequest) *apiResponse) (endpoint, *apiResponse) {
		e := endpoint{readCost: cost, handle: h, perm: PermPolicyWrite}
		if req.method == http.MethodGet {
			e.perm = PermPolicyRead
		}
		return e, nil
	}
	switch len(rest) {
	case 0:
		switch req.method {
		case http.MethodGet:
			return ep(costList, s.handleListPolicies)
		case http.MethodPost:
			return ep(0, s.handleCreatePolicy)
		}
	case 1:
		id := rest[0]
		switch req.method {
		case http.MethodGet:
			return ep(costGetOne, func(r *apiRequest) *apiResponse { return s.handleGetPolicy(r, id) })
		case http.MethodPatch:
			return ep(0, func(r *apiRequest) *apiResponse { return s.handlePatchPolicy(r, id) })
		case http.MethodDelete:
			return ep(0, func(r *apiRequest) *apiResponse { return s.handleDeletePolicy(r, id) })
		}
	case 2:
		if rest[1] != "appliesTo" {
			break
		}
		if req.method != http.MethodGet {
			return endpoint{}, methodNotAllowed(req)
		}
		id := rest[0]
		return ep(costList, func(r *apiRequest) *apiResponse { return s.handleAppliesTo(r, id) })
	}
	if len(rest) > 1 {
		return endpoint{}, badRequest(req, fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(rest)))
	}
	return endpoint{}, methodNotAllowed(req)
}

// handleAppliesTo implements GET /policies/tokenLifetimePolicies/{id}/appliesTo: the applications the policy
// is assigned to, as directoryObjects carrying their @odata.type.
func (s *Server) handleAppliesTo(req *apiRequest, id string) *apiResponse {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	p := s.dir.policies[strings.ToLower(id)]
	if p == nil {
		return notFound(req, id)
	}
	values := make([]jsonObject, 0, len(p.AppliesTo))
	for _, appID := range p.AppliesTo {
		if app := s.dir.apps[strings.ToLower(appID)]; app != nil {
			values = append(values, app.render())
		}
	}
	return newJSONResponse(http.StatusOK, jsonObject{{"@odata.context", metadataBase + "directoryObjects"}, {"value", values}})
}

func (s *Server) handleListPolicies(req *apiRequest) *apiResponse {
	s.dir.mu.RLock()
	ps := make([]*tokenLifetimePolicy, 0, len(s.dir.policies))
	for _, p := range s.dir.policies {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *tokenLifetimePolicy) int { return strings.Compare(a.ID, b.ID) })
	values := make([]jsonObject, 0, len(ps))
	for _, p := range ps {
		values = append(values, p.render())
	}
	s.dir.mu.RUnlock()
	return newJSONResponse(http.StatusOK, jsonObject{{"@odata.context", metadataBase + policiesSet}, {"value", values}})
}

func (s *Server) handleGetPolicy(req *apiRequest, id string) *apiResponse {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	p := s.dir.policies[strings.ToLower(id)]
	if p == nil {
		return notFound(req, id)
	}
	return newJSONResponse(http.StatusOK, append(jsonObject{{"@odata.context", metadataBase + policiesSet + "/$entity"}}, p.render()...))
}

// policyPatch is the writable subset; pointers tell "absent" from "zero".
type policyPatch struct {
	DisplayName           *string   `json:"displayName"`
	Definition            *[]string `json:"definition"`
	IsOrganizationDefault *bool     `json:"isOrganizationDefault"`
}

func validateDefinition(def []string) error {
	if len(def) == 0 {
		return fmt.Errorf("definition must contain one policy document")
	}
	for _, d := range def {
		var doc struct {
			TokenLifetimePolicy *struct {
				Version int `json:"Version"`
			} `json:"TokenLifetimePolicy"`
		}
		if err := json.Unmarshal([]byte(d), &doc); err != nil || doc.TokenLifetimePolicy == nil {
			return fmt.Errorf("definition %q is not a TokenLifetimePolicy document", d)
		}
	}
	return nil
}

func (s *Server) handleCreatePolicy(req *apiRequest) *apiResponse {
	var in policyPatch
	if errResp := decodeJSONBody(req, &in); errResp != nil {
		return errResp
	}
	if in.DisplayName == nil || *in.DisplayName == "" || in.Definition == nil {
		return badRequest(req, "Property 'displayName' and 'definition' are required.")
	}
	if err := validateDefinition(*in.Definition); err != nil {
		return badRequest(req, "Invalid value specified for property 'definition' of resource 'TokenLifetimePolicy': "+err.Error())
	}
	s.dir.mu.Lock()
	p := &tokenLifetimePolicy{ID: s.dir.newIDLocked(), DisplayName: *in.DisplayName, Definition: slices.Clone(*in.Definition)}
	if in.IsOrganizationDefault != nil {
		p.IsOrganizationDefault = *in.IsOrganizationDefault
	}
	s.dir.policies[p.ID] = p
	body := append(jsonObject{{"@odata.context", metadataBase + policiesSet + "/$entity"}}, p.render()...)
	s.dir.mu.Unlock()
	resp := newJSONResponse(http.StatusCreated, body)
	resp.header.Set("Location", req.base+"/v1.0/"+policiesSet+"/"+p.ID)
	return resp
}

func (s *Server) handlePatchPolicy(req *apiRequest, id string) *apiResponse {
	var in policyPatch
	if errResp := decodeJSONBody(req, &in); errResp != nil {
		return errResp
	}
	if in.Definition != nil {
		if err := validateDefinition(*in.Definition); err != nil {
			return badRequest(req, "Invalid value specified for property 'definition' of resource 'TokenLifetimePolicy': "+err.Error())
		}
	}
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	p := s.dir.policies[strings.ToLower(id)]
	if p == nil {
		return notFound(req, id)
	}
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
	}
	if in.Definition != nil {
		p.Definition = slices.Clone(*in.Definition)
	}
	if in.IsOrganizationDefault != nil {
		p.IsOrganizationDefault = *in.IsOrganizationDefault
	}
	return newEmptyResponse(http.StatusNoContent)
}

func (s *Server) handleDeletePolicy(req *apiRequest, id string) *apiResponse {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	if s.dir.policies[strings.ToLower(id)] == nil {
		return notFound(req, id)
	}
	delete(s.dir.policies, strings.ToLower(id))
	return newEmptyResponse(http.StatusNoContent)
}

// AddTokenLifetimePolicy creates a policy that is not the organization default, with the given
// AccessTokenLifetime, and returns its id. It applies to nothing until assigned (AssignPolicy). Like
// SetOrganizationDefaultPolicy it accepts any lifetime.
func (s *Server) AddTokenLifetimePolicy(displayName string, d time.Duration) string {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	id := s.dir.newIDLocked()
	s.dir.policies[id] = &tokenLifetimePolicy{ID: id, DisplayName: displayName, Definition: []string{lifetimeDefinition(d)}}
	return id
}

func lifetimeDefinition(d time.Duration) string {
	return fmt.Sprintf(`{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"%s"}}`, formatTimeSpan(d))
}

// SetOrganizationDefaultAccessTokenLifetime creates or updates the
// organization-default token lifetime policy (test hook).
func (s *Server) SetOrganizationDefaultAccessTokenLifetime(d time.Duration) {
	s.SetOrganizationDefaultPolicy("Organization default token lifetime", d)
}

// SetOrganizationDefaultPolicy is SetOrganizationDefaultAccessTokenLifetime with the policy's display name,
// which the bot shows as the lifetime's source. Unlike Entra ID it accepts lifetimes under 10 minutes, so a demo
// can compress time.
func (s *Server) SetOrganizationDefaultPolicy(displayName string, d time.Duration) {
	def := lifetimeDefinition(d)
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	for _, p := range s.dir.policies {
		if p.IsOrganizationDefault {
			p.Definition, p.DisplayName = []string{def}, displayName
			return
		}
	}
	id := s.dir.newIDLocked()
	s.dir.policies[id] = &tokenLifetimePolicy{ID: id, DisplayName: displayName,
		Definition: []string{def}, IsOrganizationDefault: true}
}

// formatTimeSpan renders a .NET TimeSpan ("02:00:00", "1.00:00:00"), the
// format token lifetime policies use.
func formatTimeSpan(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m, sec := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	if days > 0 {
		return fmt.Sprintf("%d.%02d:%02d:%02d", days, h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

// Policy is a token lifetime policy as the test hooks see it.
type Policy struct {
	ID                    string
	DisplayName           string
	Definition            []string // stored byte for byte as written, so a test can tell an exact restore
	IsOrganizationDefault bool
	AppliesTo             []string // object ids of the applications it is assigned to
}

// Policies lists every token lifetime policy, ordered by id.
func (s *Server) Policies() []Policy {
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	out := make([]Policy, 0, len(s.dir.policies))
	for _, p := range s.dir.policies {
		out = append(out, Policy{ID: p.ID, DisplayName: p.DisplayName, Definition: slices.Clone(p.Definition),
			IsOrganizationDefault: p.IsOrganizationDefault, AppliesTo: slices.Clone(p.AppliesTo)})
	}
	slices.SortFunc(out, func(a, b Policy) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AddPolicy stores a token lifetime policy with whatever definition strings it is given (unlike the API it
// does not check them, so a test can seed a tenant with a definition an admin wrote by hand) and returns
// its id, generated when p.ID is empty. AppliesTo is ignored: use AssignPolicy.
func (s *Server) AddPolicy(p Policy) string {
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	if p.ID == "" {
		p.ID = s.dir.newIDLocked()
	}
	s.dir.policies[strings.ToLower(p.ID)] = &tokenLifetimePolicy{ID: p.ID, DisplayName: p.DisplayName,
		Definition: slices.Clone(p.Definition), IsOrganizationDefault: p.IsOrganizationDefault}
	return p.ID
}
