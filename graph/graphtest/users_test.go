package graphtest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGetUserDefaultAndSelect(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)

	def := c.mustGet("/v1.0/users/" + UPNLester)
	wantKeys := []string{"@odata.context", "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
		"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
	var keys []string
	for k := range def {
		keys = append(keys, k)
	}
	if !slices.Equal(sorted(keys), wantKeys) {
		t.Fatalf("default keys = %v, want %v", sorted(keys), wantKeys)
	}
	if _, ok := def["signInSessionsValidFromDateTime"]; ok {
		t.Fatal("signInSessionsValidFromDateTime must only appear when selected")
	}

	tests := []struct {
		name   string
		sel    string
		want   []string
		status int
	}{
		{"without validFrom", "displayName,mail", []string{"displayName", "id", "mail"}, 200},
		{"with validFrom", "id,signInSessionsValidFromDateTime", []string{"id", "signInSessionsValidFromDateTime"}, 200},
		{"extras", "userType,accountEnabled,proxyAddresses", []string{"accountEnabled", "id", "proxyAddresses", "userType"}, 200},
		{"unknown property", "displayName,shoeSize", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/v1.0/users/" + UPNQuincy + "?$select=" + tt.sel)
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.status != 200 {
				return
			}
			m := r.json(t)
			delete(m, "@odata.context")
			var got []string
			for k := range m {
				got = append(got, k)
			}
			if !slices.Equal(sorted(got), tt.want) {
				t.Fatalf("keys %v, want %v", sorted(got), tt.want)
			}
			if v, ok := m["signInSessionsValidFromDateTime"].(string); ok {
				ts, err := time.Parse(time.RFC3339, v)
				if err != nil || !strings.HasSuffix(v, "Z") || ts.Nanosecond() != 0 {
					t.Fatalf("validFrom %q not whole-second UTC RFC3339", v)
				}
				if !ts.Before(time.Now()) {
					t.Fatalf("initial validFrom %v should be in the past", ts)
				}
			}
			if pa, ok := m["proxyAddresses"].([]any); ok {
				if len(pa) != 2 || pa[0] != "SMTP:quincy.obrien@contoso.com" || pa[1] != "smtp:qob@contoso.com" {
					t.Fatalf("proxyAddresses %v", pa)
				}
			}
		})
	}
}

func TestGetUserLookup(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	lester, _ := s.User(UPNLester)
	tests := []struct {
		name, path string
		status     int
		wantName   string
	}{
		{"by id", lester.ID, 200, "Lester Tester"},
		{"upn case-insensitive", "LESTER@Contoso.com", 200, "Lester Tester"},
		{"guest upn escaped #", url.PathEscape(UPNJaneGuest), 200, DisplayNameJaneGuest},
		{"unknown", "nobody@contoso.com", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/v1.0/users/" + tt.path + "?$select=displayName,userType")
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.status == 404 {
				if code := r.errorCode(t); code != "Request_ResourceNotFound" {
					t.Fatalf("code %s", code)
				}
				return
			}
			if got := r.json(t)["displayName"]; got != tt.wantName {
				t.Fatalf("displayName %v", got)
			}
		})
	}
	if u, _ := s.User(UPNJaneGuest); u.UserType != "Guest" {
		t.Fatalf("jane userType %q", u.UserType)
	}
	if u, _ := s.User(UPNDana); u.AccountEnabled {
		t.Fatal("dana must be disabled")
	}
}

func TestPagingFollowsNextLink(t *testing.T) {
	s := startServer(t, Options{Users: 50, BigGroupSize: 20})
	c := newClient(t, s)
	total := len(s.Users())

	next := "/v1.0/users?$top=30&$select=id,userPrincipalName&$count=true"
	var ids []string
	pages := 0
	for next != "" {
		m := c.mustGet(next)
		pages++
		vs := values(t, m)
		if len(vs) > 30 {
			t.Fatalf("page of %d > $top", len(vs))
		}
		if pages == 1 && m["@odata.count"] != float64(total) {
			t.Fatalf("@odata.count = %v, want %d", m["@odata.count"], total)
		}
		for _, v := range vs {
			if len(v) != 2 {
				t.Fatalf("$select not carried to page %d: %v", pages, v)
			}
		}
		ids = append(ids, field(vs, "id")...)
		next, _ = m["@odata.nextLink"].(string)
		if next != "" && (!strings.HasPrefix(next, s.GraphURL()+"/users?") || !strings.Contains(next, "$skiptoken=")) {
			t.Fatalf("nextLink not absolute with skiptoken: %s", next)
		}
	}
	if pages < 3 {
		t.Fatalf("only %d pages", pages)
	}
	if len(ids) != total || len(slices.Compact(sorted(ids))) != total {
		t.Fatalf("paged %d ids (%d unique), want %d", len(ids), len(slices.Compact(sorted(ids))), total)
	}
}

func TestListQueryValidation(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	tests := []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
	}{
		{"top max", "/v1.0/users?$top=999", nil, 200, ""},
		{"top above max", "/v1.0/users?$top=1000", nil, 400, "BadRequest"},
		{"top zero", "/v1.0/users?$top=0", nil, 400, "BadRequest"},
		{"bad skiptoken", "/v1.0/users?$skiptoken=%25%25", nil, 400, "BadRequest"},
		{"count needs eventual", "/v1.0/users/$count", nil, 400, "Request_BadRequest"},
		{"orderby unknown", "/v1.0/users?$orderby=jobTitle", nil, 400, "Request_UnsupportedQuery"},
		{"unknown segment", "/v1.0/widgets", nil, 400, "BadRequest"},
		{"wrong method", "/v1.0/users/" + UPNLester + "/revokeSignInSessions", nil, 405, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(tt.path, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" && r.errorCode(t) != tt.code {
				t.Fatalf("code %s want %s", r.errorCode(t), tt.code)
			}
		})
	}
}

func TestCountAndOrderBy(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	r := c.get("/v1.0/users/$count?$filter="+q("userType eq 'Guest'"), "ConsistencyLevel", "eventual")
	if r.status != http.StatusOK || string(r.body) != "1" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("$count: %d %q %s", r.status, r.body, r.header.Get("Content-Type"))
	}
	m := c.mustGet("/v1.0/users?$orderby=displayName&$top=999&$select=displayName")
	names := field(values(t, m), "displayName")
	if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }) {
		t.Fatalf("not sorted by displayName: %v", names[:10])
	}
	m = c.mustGet("/v1.0/users?$orderby=" + q("displayName desc") + "&$top=3&$select=displayName")
	if first := field(values(t, m), "displayName")[0]; first != names[len(names)-1] {
		t.Fatalf("desc first = %q, want %q", first, names[len(names)-1])
	}
}

func TestUserHooks(t *testing.T) {
	s := New(smallOpts())
	users := s.Users()
	if !slices.IsSortedFunc(users, func(a, b User) int {
		return strings.Compare(strings.ToLower(a.UserPrincipalName), strings.ToLower(b.UserPrincipalName))
	}) {
		t.Fatal("Users() not sorted by UPN")
	}
	added := s.AddUser(User{UserPrincipalName: "new.person@contoso.com", DisplayName: "New Person", Mail: "new.person@contoso.com", AccountEnabled: true})
	if added.ID == "" || added.UserType != "Member" || !slices.Equal(added.ProxyAddresses, []string{"SMTP:new.person@contoso.com"}) {
		t.Fatalf("AddUser defaults: %+v", added)
	}
	if got, ok := s.User("NEW.PERSON@contoso.com"); !ok || got.ID != added.ID {
		t.Fatalf("User after add: %+v %v", got, ok)
	}
	if !s.DeleteUser(added.ID) || s.DeleteUser(added.ID) {
		t.Fatal("DeleteUser should succeed once")
	}
	if _, ok := s.User(added.UserPrincipalName); ok {
		t.Fatal("deleted user still found")
	}
	// Determinism: same seed, same IDs.
	a, b := New(smallOpts()), New(smallOpts())
	ua, _ := a.User(UPNLester)
	ub, _ := b.User(UPNLester)
	if ua.ID != ub.ID || len(a.Users()) != len(b.Users()) || a.Users()[len(a.Users())-1].UserPrincipalName != b.Users()[len(b.Users())-1].UserPrincipalName {
		t.Fatal("tenant not deterministic for equal seeds")
	}
	for _, u := range a.Users() {
		if strings.HasPrefix(u.UserPrincipalName, "wave.user.") || slices.Contains(TestGroupMemberUPNs(), u.UserPrincipalName) {
			continue
		}
		for _, tok := range searchTokens(u.DisplayName) {
			if strings.HasPrefix(tok, "test") && u.UserPrincipalName != UPNTessa && u.UserPrincipalName != UPNPriya {
				t.Errorf("filler/named user %q would match a Test search", u.DisplayName)
			}
		}
	}
}
