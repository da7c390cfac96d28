package graphtest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestClockOffsetShiftsEveryGraphTimestamp(t *testing.T) {
	for _, offset := range []time.Duration{5 * time.Second, -5 * time.Second} {
		t.Run(offset.String(), func(t *testing.T) {
			clock := newFakeClock()
			opts := smallOpts()
			opts.Now = clock.Now
			s := startServer(t, opts)
			c := newClient(t, s) // token issued before the clock moves: it must stay valid
			s.SetClockOffset(offset)
			if s.ClockOffset() != offset {
				t.Fatalf("ClockOffset() = %s, want %s", s.ClockOffset(), offset)
			}
			graphNow := clock.Now().Add(offset)
			wantDate := graphNow.UTC().Format(http.TimeFormat)

			plain := c.get("/v1.0/users/" + url.PathEscape(UPNAdele))
			if plain.status != http.StatusOK || plain.header.Get("Date") != wantDate {
				t.Errorf("plain GET: status %d Date %q; want 200 with %q", plain.status, plain.header.Get("Date"), wantDate)
			}

			clock.Advance(1500 * time.Millisecond)
			graphNow = clock.Now().Add(offset)
			outer, items := sendBatch(t, c, []map[string]any{revokeItem("1", UPNLester)}, true)
			if items["1"].Status != http.StatusOK {
				t.Fatalf("revoke item: %+v", items["1"])
			}
			if got, want := outer.header.Get("Date"), graphNow.UTC().Format(http.TimeFormat); got != want {
				t.Errorf("$batch Date = %q, want %q", got, want)
			}
			lester, _ := s.User(UPNLester)
			if want := graphNow.Truncate(time.Second); !lester.SignInSessionsValidFrom.Equal(want) {
				t.Errorf("signInSessionsValidFromDateTime = %s, want %s (Graph's clock, whole seconds)", lester.SignInSessionsValidFrom, want)
			}
			m := c.mustGet("/v1.0/users/" + lester.ID + "?$select=signInSessionsValidFromDateTime")
			if got, want := m["signInSessionsValidFromDateTime"], graphNow.UTC().Truncate(time.Second).Format(time.RFC3339); got != want {
				t.Errorf("read back %v, want %s", got, want)
			}
			if revs := s.Revocations(); len(revs) != 1 || !revs[0].At.Equal(graphNow) {
				t.Errorf("revocations %+v, want one at %s", revs, graphNow)
			}

			nf := c.get("/v1.0/users/nobody@contoso.com")
			inner := nf.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
			if got, want := inner["date"], graphNow.UTC().Format("2006-01-02T15:04:05"); got != want {
				t.Errorf("innerError.date = %v, want %s", got, want)
			}
			tok := postFormResponse(t, s)
			if got := tok.Header.Get("Date"); got != graphNow.UTC().Format(http.TimeFormat) {
				t.Errorf("token endpoint Date = %q, want Graph's clock", got)
			}
		})
	}
}

func postFormResponse(t *testing.T, s *Server) *http.Response {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.URL()+"/"+s.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestClockOffsetOption(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now, opts.ClockOffset = clock.Now, -90*time.Second
	s := startServer(t, opts)
	c := newClient(t, s)
	if got, want := c.get("/v1.0/users?$top=1").header.Get("Date"), clock.Now().Add(-90*time.Second).Format(http.TimeFormat); got != want {
		t.Errorf("Date = %q, want %q", got, want)
	}
	// The sample's past sign-in times lie before Graph's now, not merely before the host's.
	for _, u := range s.Users() {
		if !u.SignInSessionsValidFrom.Before(s.Now().Add(-24 * time.Hour)) {
			t.Fatalf("%s: initial valid-from %s is not days before Graph's now %s", u.UserPrincipalName, u.SignInSessionsValidFrom, s.Now())
		}
	}
}
