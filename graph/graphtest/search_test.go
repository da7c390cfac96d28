package graphtest

import (
	"slices"
	"testing"
)

func TestSearchTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Lester Tester", []string{"lester", "tester"}},
		{"Testy McTestface", []string{"testy", "mc", "testface"}},
		{"Quincy O'Brien", []string{"quincy", "o", "brien"}},
		{"jane@fabrikam.com", []string{"jane", "fabrikam", "com"}},
		{"Jane Guest (Fabrikam)", []string{"jane", "guest", "fabrikam"}},
		{"Wave User 00042", []string{"wave", "user", "00042"}},
	}
	for _, tt := range tests {
		if got := searchTokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("searchTokens(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSearchOverHTTP(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	eventual := []string{"ConsistencyLevel", "eventual"}
	tests := []struct {
		name    string
		search  string
		headers []string
		status  int
		code    string
		want    []string
	}{
		{"needs ConsistencyLevel", `"displayName:Test"`, nil, 400, "Request_UnsupportedQuery", nil},
		{"Test: word prefixes incl. case split, not Contest", `"displayName:Test"`, eventual, 200, "",
			[]string{UPNDana, UPNLester, UPNPriya, UPNTessa, UPNTesty}},
		{"case-insensitive term", `"displayName:TESTY"`, eventual, 200, "", []string{UPNTesty}},
		{"token after case change", `"displayName:testface"`, eventual, 200, "", []string{UPNTesty}},
		{"mail is not proxyAddresses", `"mail:qob"`, eventual, 200, "", nil},
		{"proxyAddresses", `"proxyAddresses:qob"`, eventual, 200, "", []string{UPNQuincy}},
		{"or", `"displayName:Adele" OR "displayName:Megan"`, eventual, 200, "", []string{UPNAdele, UPNMegan}},
		{"and", `"displayName:Test" AND "mail:lester"`, eventual, 200, "", []string{UPNLester}},
		{"multi-word term", `"displayName:Lester Tes"`, eventual, 200, "", []string{UPNLester}},
		{"unquoted", `displayName:Test`, eventual, 400, "BadRequest", nil},
		{"unsupported property", `"jobTitle:QA"`, eventual, 400, "Request_UnsupportedQuery", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/v1.0/users?$top=999&$select=userPrincipalName&$search="+q(tt.search), tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.status != 200 {
				if r.errorCode(t) != tt.code {
					t.Fatalf("code %s want %s", r.errorCode(t), tt.code)
				}
				if tt.name == "needs ConsistencyLevel" && r.errorMessage(t) != searchNeedsEventual {
					t.Fatalf("message %q", r.errorMessage(t))
				}
				return
			}
			got := sorted(field(values(t, r.json(t)), "userPrincipalName"))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
}
