package graphtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestAssignPolicyToApplication(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	crm := s.AddApplication("Legacy CRM")
	kiosk := s.AddApplication("Kiosk")
	long := s.AddTokenLifetimePolicy("Long tokens", 24*time.Hour)
	const policies = "/v1.0/policies/tokenLifetimePolicies/"

	ref := func(pid string) []byte {
		b, _ := json.Marshal(map[string]string{"@odata.id": "https://graph.microsoft.com/v1.0/policies/tokenLifetimePolicies/" + pid})
		return b
	}
	if r := c.do(http.MethodPost, "/v1.0/applications/"+crm+"/tokenLifetimePolicies/$ref", gzipBytes(t, ref(long)), "Content-Encoding", "gzip"); r.status != http.StatusNoContent {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/v1.0/applications/"+crm+"/tokenLifetimePolicies/$ref", ref(long)); r.status != http.StatusBadRequest {
		t.Errorf("second assignment of the same policy: %d, want 400", r.status)
	}
	if r := c.do(http.MethodPost, "/v1.0/applications/"+crm+"/tokenLifetimePolicies/$ref", []byte(`{"@odata.id":"https://graph.microsoft.com/v1.0/users/x"}`)); r.status != http.StatusBadRequest {
		t.Errorf("reference to a user: %d, want 400", r.status)
	}
	if r := c.do(http.MethodPost, "/v1.0/applications/00000000-0000-0000-0000-000000000000/tokenLifetimePolicies/$ref", ref(long)); r.status != http.StatusNotFound {
		t.Errorf("unknown application: %d, want 404", r.status)
	}
	if err := s.AssignPolicy(long, kiosk); err != nil {
		t.Fatal(err)
	}
	if err := s.AssignPolicy("no-such-policy", kiosk); err == nil {
		t.Error("AssignPolicy accepted an unknown policy")
	}

	applies := values(t, c.mustGet(policies+long+"/appliesTo"))
	if len(applies) != 2 {
		t.Fatalf("appliesTo = %v, want two applications", applies)
	}
	for i, want := range []struct{ id, name string }{{crm, "Legacy CRM"}, {kiosk, "Kiosk"}} {
		a := applies[i]
		if a["@odata.type"] != "#microsoft.graph.application" || a["id"] != want.id || a["displayName"] != want.name || a["appId"] == "" || a["appId"] == want.id {
			t.Errorf("appliesTo[%d] = %v, want application %s %q with its own appId", i, a, want.id, want.name)
		}
	}
	if got := values(t, c.mustGet("/v1.0/applications/"+crm+"/tokenLifetimePolicies")); len(got) != 1 || got[0]["id"] != long {
		t.Errorf("policies of the app = %v", got)
	}
	if r := c.do(http.MethodDelete, "/v1.0/applications/"+kiosk+"/tokenLifetimePolicies/"+long+"/$ref", nil); r.status != http.StatusNoContent {
		t.Fatalf("unassign: %d %s", r.status, r.body)
	}
	if got := values(t, c.mustGet(policies+long+"/appliesTo")); len(got) != 1 || got[0]["id"] != crm {
		t.Errorf("after unassigning Kiosk: %v", got)
	}
	unassigned := s.AddTokenLifetimePolicy("Nobody", time.Hour)
	if got := values(t, c.mustGet(policies+unassigned+"/appliesTo")); len(got) != 0 {
		t.Errorf("unassigned policy applies to %v", got)
	}
	p := c.mustGet(policies + unassigned)
	if p["isOrganizationDefault"] != false || p["definition"].([]any)[0] != `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"01:00:00"}}` {
		t.Errorf("AddTokenLifetimePolicy made %v", p)
	}
	if r := c.get(policies + "00000000-0000-0000-0000-000000000000/appliesTo"); r.status != http.StatusNotFound {
		t.Errorf("appliesTo of no policy: %d", r.status)
	}
	s.DenyPermission(PermPolicyRead)
	if r := c.get(policies + long + "/appliesTo"); r.status != http.StatusForbidden {
		t.Errorf("appliesTo without Policy.Read.All: %d, want 403", r.status)
	}
}
