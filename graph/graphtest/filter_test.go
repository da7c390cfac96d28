package graphtest

import (
	"slices"
	"strings"
	"testing"
)

// runFilter evaluates src over the sample tenant's users (no filler users)
// and returns the matching UPNs, sorted.
func runFilter(t *testing.T, s *Server, schema *entityType, src string) ([]string, error) {
	t.Helper()
	f, err := parseFilter(src, schema)
	if err != nil {
		return nil, err
	}
	rc := s.readCtx()
	var out []string
	s.dir.mu.RLock()
	defer s.dir.mu.RUnlock()
	if schema == groupType {
		for _, g := range s.dir.groups {
			if f.matches(listEntry{typ: groupType, obj: g}.getter(rc)) {
				out = append(out, g.Description)
			}
		}
	} else {
		for _, u := range s.dir.users {
			if f.matches(listEntry{typ: userType, obj: u}.getter(rc)) {
				out = append(out, u.UserPrincipalName)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func TestFilterParser(t *testing.T) {
	s := New(Options{Users: -1, BigGroupSize: -1})
	tests := []struct {
		name   string
		filter string
		want   []string // nil with code == "" means "matches nothing"
		code   string   // expected error code
	}{
		{"eq", "userPrincipalName eq 'lester@contoso.com'", []string{UPNLester}, ""},
		{"eq case-insensitive", "displayName eq 'LESTER tester'", []string{UPNLester}, ""},
		{"ne", "userType ne 'Member'", []string{UPNJaneGuest}, ""},
		{"bool", "accountEnabled eq false", []string{UPNDana}, ""},
		{"startswith", "startswith(displayName,'Te')", []string{UPNTessa, UPNTesty}, ""},
		{"startsWith camel case", "startsWith(displayName,'te')", []string{UPNTessa, UPNTesty}, ""},
		{"endswith", "endswith(mail,'@fabrikam.com')", []string{UPNJaneGuest}, ""},
		{"in", "userPrincipalName in ('adele@contoso.com','ALEX@contoso.com','nobody@x')", []string{UPNAdele, UPNAlex}, ""},
		{"or", "mail eq 'megan@contoso.com' or mail eq 'diego@contoso.com'", []string{UPNDiego, UPNMegan}, ""},
		{"and", "startswith(displayName,'D') and accountEnabled eq true", []string{UPNDeepak, UPNDiego}, ""},
		{"precedence: and binds tighter", "mail eq 'alex@contoso.com' or startswith(displayName,'Tessa') and accountEnabled eq false", []string{UPNAlex}, ""},
		{"parentheses", "(mail eq 'alex@contoso.com' or startswith(displayName,'Dana')) and accountEnabled eq false", []string{UPNDana}, ""},
		{"not", "not(accountEnabled eq true) and userType eq 'Member'", []string{UPNDana}, ""},
		{"any eq case-insensitive", "proxyAddresses/any(x:x eq 'SMTP:QOB@contoso.com')", []string{UPNQuincy}, ""},
		{"any startswith", "proxyAddresses/any(p:startswith(p,'smtp:adele.v'))", []string{UPNAdele}, ""},
		{"escaped quote matches O'Brien", "displayName eq 'Quincy O''Brien'", []string{UPNQuincy}, ""},
		{"null", "jobTitle eq null and userType eq 'Guest'", []string{UPNJaneGuest}, ""},
		{"id in", "id in ('00000000-0000-0000-0000-000000000000')", nil, ""},
		// Injection: the escaped form is ONE literal (matches nothing) ...
		{"escaped injection is one literal", "displayName eq 'x'' or startswith(displayName,''a'", nil, ""},
		// ... the unescaped form is an or-expression (matches the A-names).
		{"unescaped injection is an or", "displayName eq 'x' or startswith(displayName,'a')", []string{UPNAdele, UPNAlex}, ""},
		{"unterminated literal", "displayName eq 'x", nil, "BadRequest"},
		{"dangling and", "displayName eq 'x' and", nil, "BadRequest"},
		{"missing operator", "displayName 'x'", nil, "BadRequest"},
		{"unbalanced paren", "(displayName eq 'x'", nil, "BadRequest"},
		{"trailing garbage", "displayName eq 'x' 'y'", nil, "BadRequest"},
		{"bad character", "displayName eq \"x\"", nil, "BadRequest"},
		{"empty", "  ", nil, "BadRequest"},
		{"type mismatch", "accountEnabled eq 'yes'", nil, "BadRequest"},
		{"number literal", "displayName eq 5", nil, "BadRequest"},
		{"unknown property", "shoeSize eq 'x'", nil, "BadRequest"},
		{"unknown function", "frobnicate(displayName,'x')", nil, "BadRequest"},
		{"contains unsupported", "contains(displayName,'x')", nil, "Request_UnsupportedQuery"},
		{"collection without any", "proxyAddresses eq 'smtp:a@b'", nil, "Request_UnsupportedQuery"},
		{"not filterable", "signInSessionsValidFromDateTime eq '2026-01-01T00:00:00Z'", nil, "Request_UnsupportedQuery"},
		{"all unsupported", "proxyAddresses/all(x:x eq 'a')", nil, "Request_UnsupportedQuery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runFilter(t, s, userType, tt.filter)
			if tt.code != "" {
				qe, ok := err.(*queryError)
				if !ok || qe.code != tt.code {
					t.Fatalf("err = %v, want code %s", err, tt.code)
				}
				if tt.code == "BadRequest" && !strings.HasPrefix(qe.message, "Invalid filter clause") &&
					!strings.HasPrefix(qe.message, "Could not find a property") {
					t.Fatalf("message %q", qe.message)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterAdvancedFlag(t *testing.T) {
	for src, want := range map[string]bool{
		"displayName eq 'a'":             false,
		"displayName ne 'a'":             true,
		"not(displayName eq 'a')":        true,
		"endswith(mail,'a')":             true,
		"startswith(displayName,'a')":    false,
		"proxyAddresses/any(x:x eq 'a')": false,
	} {
		f, err := parseFilter(src, userType)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if f.advanced != want {
			t.Errorf("%s: advanced = %v, want %v", src, f.advanced, want)
		}
	}
}

func TestGroupFilters(t *testing.T) {
	s := New(Options{Users: -1, BigGroupSize: -1})
	tests := []struct {
		filter string
		want   []string // descriptions
	}{
		{"displayName eq 'Sales'", []string{"Sales Americas", "Sales EMEA"}},
		{"startswith(displayName,'Test ')", []string{"Nested inside Test", "Nested two levels below Test"}},
	}
	for _, tt := range tests {
		got, err := runFilter(t, s, groupType, tt.filter)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, %v; want %v", tt.filter, got, err, tt.want)
		}
	}
	id := s.FindGroups(GroupBreakGlass)[0].ID
	got, err := runFilter(t, s, groupType, "id in ('"+id+"','nope')")
	if err != nil || len(got) != 1 {
		t.Fatalf("id in: %v %v", got, err)
	}
}

func TestFilterOverHTTP(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	tests := []struct {
		name    string
		filter  string
		headers []string
		count   bool
		status  int
		code    string
		want    []string
	}{
		{"escaped injection", "displayName eq 'x'' or startswith(displayName,''a'", nil, false, 200, "", nil},
		{"unescaped injection", "displayName eq 'x' or startswith(displayName,'adele')", nil, false, 200, "", []string{UPNAdele}},
		{"syntax error", "displayName eq 'x", nil, false, 400, "BadRequest", nil},
		{"unknown property", "foo eq 'x'", nil, false, 400, "BadRequest", nil},
		{"endswith needs advanced query", "endswith(mail,'@fabrikam.com')", nil, false, 400, "Request_UnsupportedQuery", nil},
		{"endswith with advanced query", "endswith(mail,'@fabrikam.com')", []string{"ConsistencyLevel", "eventual"}, true, 200, "", []string{UPNJaneGuest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1.0/users?$select=userPrincipalName&$filter=" + q(tt.filter)
			if tt.count {
				path += "&$count=true"
			}
			r := c.get(path, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.status != 200 {
				if r.errorCode(t) != tt.code {
					t.Fatalf("code %s want %s", r.errorCode(t), tt.code)
				}
				if tt.code == "BadRequest" && tt.name == "syntax error" && !strings.HasPrefix(r.errorMessage(t), "Invalid filter clause: ") {
					t.Fatalf("message %q", r.errorMessage(t))
				}
				return
			}
			if got := sorted(field(values(t, r.json(t)), "userPrincipalName")); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
}
