package graphtest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestRevokeAndReadBack(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	opts.ReplicationDelay = 30 * time.Second
	s := startServer(t, opts)
	c := newClient(t, s)

	readValidFrom := func(upn string) string {
		t.Helper()
		m := c.mustGet("/v1.0/users/" + url.PathEscape(upn) + "?$select=signInSessionsValidFromDateTime")
		v, _ := m["signInSessionsValidFromDateTime"].(string)
		return v
	}
	before := readValidFrom(UPNLester)

	clock.Advance(1500 * time.Millisecond) // revoke time is truncated to whole seconds
	r := c.do(http.MethodPost, "/v1.0/users/"+UPNLester+"/revokeSignInSessions", nil)
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["value"] != true || m["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean" {
		t.Fatalf("revoke body %v", m)
	}
	want := "2026-11-25T10:00:01Z"

	// Replication delay: reads still show the old value ...
	if got := readValidFrom(UPNLester); got != before {
		t.Fatalf("during replication delay: %s, want old %s", got, before)
	}
	// ... while the hook shows the authoritative value.
	if u, _ := s.User(UPNLester); u.SignInSessionsValidFrom.Format(time.RFC3339) != want {
		t.Fatalf("hook value %v", u.SignInSessionsValidFrom)
	}
	clock.Advance(30 * time.Second)
	if got := readValidFrom(UPNLester); got != want {
		t.Fatalf("after delay: %s, want %s", got, want)
	}

	revs := s.Revocations()
	lester, _ := s.User(UPNLester)
	if len(revs) != 1 || revs[0].UserID != lester.ID || revs[0].AppID != s.ClientID() || !revs[0].At.Equal(clock.Now().Add(-30*time.Second)) {
		t.Fatalf("revocations %+v", revs)
	}
	if st := s.Stats(); st.Writes != 1 {
		t.Fatalf("writes %d", st.Writes)
	}
}

func TestRevokeTargets(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	dana, _ := s.User(UPNDana)
	tests := []struct {
		name   string
		target string
		status int
		code   string
	}{
		{"by id", dana.ID, 200, ""},
		{"guest by escaped UPN", url.PathEscape(UPNJaneGuest), 200, ""},
		{"upper-case UPN", "ADELE@CONTOSO.COM", 200, ""},
		{"unknown", "ghost@contoso.com", 404, "Request_ResourceNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(http.MethodPost, "/v1.0/users/"+tt.target+"/revokeSignInSessions", nil)
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.code != "" && r.errorCode(t) != tt.code {
				t.Fatalf("code %s", r.errorCode(t))
			}
		})
	}
	if n := len(s.Revocations()); n != 3 {
		t.Fatalf("revocations %d, want 3", n)
	}
}

func TestInjectFaultDirect(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	s.InjectFault(UPNMegan, http.StatusForbidden, 1, 0)
	s.InjectFault(UPNMegan, http.StatusTooManyRequests, 2, 7*time.Second)
	want := []struct {
		status     int
		code       string
		retryAfter string
	}{
		{403, "Authorization_RequestDenied", ""},
		{429, "TooManyRequests", "7"},
		{429, "TooManyRequests", "7"},
		{200, "", ""},
	}
	for i, w := range want {
		r := c.do(http.MethodPost, "/v1.0/users/"+UPNMegan+"/revokeSignInSessions", nil)
		if r.status != w.status || r.header.Get("Retry-After") != w.retryAfter {
			t.Fatalf("call %d: %d Retry-After %q: %s", i, r.status, r.header.Get("Retry-After"), r.body)
		}
		if w.code != "" && r.errorCode(t) != w.code {
			t.Fatalf("call %d code %s", i, r.errorCode(t))
		}
	}
	if st := s.Stats(); st.Writes != 1 || st.Throttled429Requests != 2 {
		t.Fatalf("stats %+v", st)
	}
}
