package graphtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestTokenLifetimePoliciesCRUD(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	const path = "/v1.0/policies/tokenLifetimePolicies"
	if vs := values(t, c.mustGet(path)); len(vs) != 0 {
		t.Fatalf("sample tenant starts with policies: %v", vs)
	}

	def := `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"02:00:00"}}`
	body, _ := json.Marshal(map[string]any{"displayName": "Short tokens", "definition": []string{def}, "isOrganizationDefault": true})
	r := c.do(http.MethodPost, path, gzipBytes(t, body), "Content-Encoding", "gzip")
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	created := r.json(t)
	id, _ := created["id"].(string)
	if id == "" || created["isOrganizationDefault"] != true || created["deletedDateTime"] != nil {
		t.Fatalf("created %v", created)
	}
	if _, ok := created["deletedDateTime"]; !ok {
		t.Fatal("deletedDateTime must be present (null)")
	}

	patch, _ := json.Marshal(map[string]any{"displayName": "Renamed"})
	if r := c.do(http.MethodPatch, path+"/"+id, patch); r.status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	got := c.mustGet(path + "/" + id)
	if got["displayName"] != "Renamed" || got["definition"].([]any)[0] != def {
		t.Fatalf("after PATCH: %v", got)
	}
	bad, _ := json.Marshal(map[string]any{"displayName": "x", "definition": []string{"not json"}})
	if r := c.do(http.MethodPost, path, bad); r.status != http.StatusBadRequest {
		t.Fatalf("bad definition: %d", r.status)
	}
	if r := c.do(http.MethodDelete, path+"/"+id, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.status)
	}
	if r := c.get(path + "/" + id); r.status != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", r.status)
	}
	if r := c.do(http.MethodDelete, path+"/"+id, nil); r.status != http.StatusNotFound {
		t.Fatalf("second DELETE: %d", r.status)
	}

	s.SetOrganizationDefaultAccessTokenLifetime(90 * time.Minute)
	s.SetOrganizationDefaultAccessTokenLifetime(3 * time.Hour) // updates, doesn't add
	vs := values(t, c.mustGet(path))
	if len(vs) != 1 || vs[0]["definition"].([]any)[0] != `{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"03:00:00"}}` {
		t.Fatalf("hook policy %v", vs)
	}
}

func TestFormatTimeSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour:                  "02:00:00",
		90*time.Minute + 5*time.Second: "01:30:05",
		26 * time.Hour:                 "1.02:00:00",
		10 * time.Minute:               "00:10:00",
	} {
		if got := formatTimeSpan(d); got != want {
			t.Errorf("formatTimeSpan(%v) = %s, want %s", d, got, want)
		}
	}
}
