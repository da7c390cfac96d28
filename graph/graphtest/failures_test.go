package graphtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

func TestFailReads(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	lester, _ := s.User(UPNLester)
	adele, _ := s.User(UPNAdele)

	s.FailReads(UPNLester, http.StatusServiceUnavailable, 2) // set by UPN, fires for reads by id too
	for i, target := range []string{lester.ID, url.PathEscape(UPNLester)} {
		r := c.get("/v1.0/users/" + target)
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "ServiceUnavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("read %d: status %d code %q Retry-After %q; want 503 ServiceUnavailable with Retry-After", i, r.status, r.errorCode(t), r.header.Get("Retry-After"))
		}
	}
	if r := c.get("/v1.0/users/" + lester.ID); r.status != http.StatusOK {
		t.Fatalf("third read: %d; the failure was for two reads", r.status)
	}

	s.FailReads(lester.ID, http.StatusInternalServerError, -1)
	get := func(id string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": "/users/" + id + "?$select=id,signInSessionsValidFromDateTime"}
	}
	for range 3 {
		_, items := sendBatch(t, c, []map[string]any{get(lester.ID), get(adele.ID)}, false)
		if items[lester.ID].Status != http.StatusInternalServerError || items[adele.ID].Status != http.StatusOK {
			t.Fatalf("batch reads: lester %d, adele %d; want 500 and 200", items[lester.ID].Status, items[adele.ID].Status)
		}
	}
	// Revocations and listings are not reads of one user.
	if r := c.do(http.MethodPost, "/v1.0/users/"+lester.ID+"/revokeSignInSessions", nil); r.status != http.StatusOK {
		t.Errorf("revoke while reads fail: %d", r.status)
	}
	s.FailReads(lester.ID, 0, 0)
	if r := c.get("/v1.0/users/" + lester.ID); r.status != http.StatusOK {
		t.Errorf("after clearing: %d", r.status)
	}
}

func TestDenyPermission(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	lester, _ := s.User(UPNLester)

	s.DenyPermission(PermPolicyRead)
	r := c.get("/v1.0/policies/tokenLifetimePolicies")
	if r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" ||
		r.errorMessage(t) != "Insufficient privileges to complete the operation." {
		t.Fatalf("policies without Policy.Read.All: %d %s", r.status, r.body)
	}
	if r := c.get("/v1.0/users/" + lester.ID); r.status != http.StatusOK {
		t.Fatalf("reading a user is not a policy read: %d", r.status)
	}
	s.GrantPermission(PermPolicyRead)
	if r := c.get("/v1.0/policies/tokenLifetimePolicies"); r.status != http.StatusOK {
		t.Fatalf("after GrantPermission: %d", r.status)
	}

	s.DenyPermission(PermRevokeSessions)
	before := lester.SignInSessionsValidFrom
	direct := c.do(http.MethodPost, "/v1.0/users/"+lester.ID+"/revokeSignInSessions", nil)
	_, items := sendBatch(t, c, []map[string]any{revokeItem("1", lester.ID)}, false)
	if direct.status != http.StatusForbidden || direct.errorCode(t) != "Authorization_RequestDenied" || items["1"].Status != http.StatusForbidden {
		t.Fatalf("revoke without permission: direct %d %s, batch item %d", direct.status, direct.body, items["1"].Status)
	}
	if u, _ := s.User(lester.ID); !u.SignInSessionsValidFrom.Equal(before) || len(s.Revocations()) != 0 {
		t.Fatalf("a denied revoke changed the user: %s → %s", before, u.SignInSessionsValidFrom)
	}
	if r := c.get("/v1.0/users?$top=5"); r.status != http.StatusOK {
		t.Fatalf("listing users with revocation denied: %d", r.status)
	}
}

// TestDenyPolicyWrite takes Policy.ReadWrite.ApplicationConfiguration away: every way of changing a token
// lifetime policy answers 403 and changes nothing, while every read still works.
func TestDenyPolicyWrite(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	const path = "/v1.0/policies/tokenLifetimePolicies"
	def := `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"02:00:00"}}`
	id := s.AddPolicy(Policy{DisplayName: "Existing", Definition: []string{def}, IsOrganizationDefault: true})
	app := s.AddApplication("Legacy CRM")
	s.DenyPermission(PermPolicyWrite)

	create, _ := json.Marshal(map[string]any{"displayName": "New", "definition": []string{def}})
	rename, _ := json.Marshal(map[string]any{"displayName": "Renamed"})
	ref, _ := json.Marshal(map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/policies/tokenLifetimePolicies/" + id})
	writes := []struct {
		name, method, path string
		body               []byte
	}{
		{"create", http.MethodPost, path, create},
		{"update", http.MethodPatch, path + "/" + id, rename},
		{"delete", http.MethodDelete, path + "/" + id, nil},
		{"assign", http.MethodPost, "/v1.0/applications/" + app + "/tokenLifetimePolicies/$ref", ref},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if r := c.do(w.method, w.path, w.body); r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" {
				t.Fatalf("%s %s: %d %s; want 403", w.method, w.path, r.status, r.body)
			}
		})
	}
	if ps := s.Policies(); len(ps) != 1 || ps[0].DisplayName != "Existing" || len(ps[0].AppliesTo) != 0 {
		t.Errorf("denied writes changed the policies: %+v", ps)
	}
	for _, read := range []string{path, path + "/" + id, path + "/" + id + "/appliesTo", "/v1.0/applications/" + app + "/tokenLifetimePolicies"} {
		if r := c.get(read); r.status != http.StatusOK {
			t.Errorf("GET %s with writes denied: %d", read, r.status)
		}
	}
	s.GrantPermission(PermPolicyWrite)
	if r := c.do(http.MethodPatch, path+"/"+id, rename); r.status != http.StatusNoContent {
		t.Errorf("PATCH after GrantPermission: %d", r.status)
	}
}
