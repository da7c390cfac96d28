package graphtest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

const auditPath = "/v1.0/auditLogs/directoryAudits"

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestAuditEntryShape revokes one user directly and two in a $batch, on a fake clock with Graph's clock
// ahead of it, and reads the log back over HTTP: every entry must have Graph's shape and Graph's time.
func TestAuditEntryShape(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now, opts.ClockOffset = clock.Now, 7*time.Second
	s := startServer(t, opts)
	c := newClient(t, s)

	if r := c.do(http.MethodPost, "/v1.0/users/"+UPNLester+"/revokeSignInSessions", nil); r.status != http.StatusOK {
		t.Fatalf("direct revoke: %d %s", r.status, r.body)
	}
	directAt := clock.Now().Add(7 * time.Second)
	clock.Advance(90*time.Second + 250*time.Millisecond)
	if _, items := sendBatch(t, c, []map[string]any{revokeItem("1", UPNAlex), revokeItem("2", UPNAdele)}, true); items["1"].Status != http.StatusOK || items["2"].Status != http.StatusOK {
		t.Fatalf("batch revoke: %+v", items)
	}
	batchAt := clock.Now().Add(7 * time.Second)

	page := c.mustGet(auditPath)
	if page["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits" {
		t.Errorf("@odata.context = %v", page["@odata.context"])
	}
	got := values(t, page)
	want := []struct {
		upn string
		at  time.Time
	}{{UPNAdele, batchAt}, {UPNAlex, batchAt}, {UPNLester, directAt}} // newest first; ties by id
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(got), len(want), got)
	}
	slices.SortStableFunc(got[:2], func(a, b map[string]any) int { // the two batch entries share a time
		return cmp.Compare(targetUPN(a), targetUPN(b))
	})
	seen := map[string]bool{}
	for i, w := range want {
		e := got[i]
		u, _ := s.User(w.upn)
		id, _ := e["id"].(string)
		corr, _ := e["correlationId"].(string)
		if id == "" || seen[id] || !guidRE.MatchString(corr) || seen[corr] {
			t.Errorf("%s: id %q / correlationId %q must be present and unique (correlationId a GUID)", w.upn, id, corr)
		}
		seen[id], seen[corr] = true, true
		delete(e, "id")
		delete(e, "correlationId")
		wantEntry := map[string]any{
			"category":            "UserManagement",
			"result":              "success",
			"resultReason":        "",
			"activityDisplayName": "Update StsRefreshTokenValidFrom Timestamp",
			"activityDateTime":    w.at.UTC().Format("2006-01-02T15:04:05.0000000Z"),
			"loggedByService":     "Core Directory",
			"operationType":       "Update",
			"initiatedBy": map[string]any{"user": nil, "app": map[string]any{
				"appId": AppClientID, "displayName": AppDisplayName, "servicePrincipalId": appObjectID, "servicePrincipalName": nil}},
			"targetResources": []any{map[string]any{"id": u.ID, "displayName": u.DisplayName, "type": "User",
				"userPrincipalName": u.UserPrincipalName, "groupType": nil, "modifiedProperties": []any{}}},
			"additionalDetails": []any{},
		}
		if !reflect.DeepEqual(e, wantEntry) {
			gotJSON, _ := json.MarshalIndent(e, "", " ")
			wantJSON, _ := json.MarshalIndent(wantEntry, "", " ")
			t.Errorf("entry for %s:\n%s\nwant\n%s", w.upn, gotJSON, wantJSON)
		}
	}
	if audits := s.Audits(); len(audits) != 3 || audits[0].TargetUPN != UPNLester || !audits[0].At.Equal(directAt) ||
		audits[0].AppID != AppClientID || audits[0].Activity != ActivityRevokeSignInSessions {
		t.Errorf("Audits() = %+v", audits)
	}
}

func targetUPN(e map[string]any) string {
	ts, _ := e["targetResources"].([]any)
	if len(ts) == 0 {
		return ""
	}
	upn, _ := ts[0].(map[string]any)["userPrincipalName"].(string)
	return upn
}

// auditTenant revokes Lester, Alex, Adele and Lester again, one minute apart starting at the fake clock's
// start (Graph's clock, no offset).
func auditTenant(t *testing.T) (*Server, *testClient, time.Time) {
	t.Helper()
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	s := startServer(t, opts)
	s.SetAuditBudget(-1, 0) // these tests read the log more often than Graph's 5 per 10 s allow
	c := newClient(t, s)
	t0 := clock.Now()
	for _, upn := range []string{UPNLester, UPNAlex, UPNAdele, UPNLester} {
		if r := c.do(http.MethodPost, "/v1.0/users/"+upn+"/revokeSignInSessions", nil); r.status != http.StatusOK {
			t.Fatalf("revoke %s: %d", upn, r.status)
		}
		clock.Advance(time.Minute)
	}
	return s, c, t0
}

func TestAuditFilters(t *testing.T) {
	s, c, t0 := auditTenant(t)
	id := func(upn string) string { u, _ := s.User(upn); return u.ID }
	at := func(d time.Duration) string { return t0.Add(d).UTC().Format(time.RFC3339) }
	const activity = "activityDisplayName eq 'Update StsRefreshTokenValidFrom Timestamp'"
	tests := []struct {
		name, filter string
		want         []string // target UPNs, newest first
		code         string
	}{
		{"activity", activity, []string{UPNLester, UPNAdele, UPNAlex, UPNLester}, ""},
		{"other activity", "activityDisplayName eq 'Add member to group'", nil, ""},
		{"activity startswith", "startswith(activityDisplayName,'Update Sts')", []string{UPNLester, UPNAdele, UPNAlex, UPNLester}, ""},
		{"since", "activityDateTime ge " + at(time.Minute), []string{UPNLester, UPNAdele, UPNAlex}, ""},
		{"until", "activityDateTime le " + at(time.Minute), []string{UPNAlex, UPNLester}, ""},
		{"between", "activityDateTime ge " + at(30*time.Second) + " and activityDateTime le " + at(2*time.Minute), []string{UPNAdele, UPNAlex}, ""},
		{"fractional seconds and offset", "activityDateTime ge " + t0.Add(90*time.Second).In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000-07:00"), []string{UPNLester, UPNAdele}, ""},
		{"app", "initiatedBy/app/appId eq '" + AppClientID + "'", []string{UPNLester, UPNAdele, UPNAlex, UPNLester}, ""},
		{"other app", "initiatedBy/app/appId eq '00000000-0000-0000-0000-000000000001'", nil, ""},
		{"user initiator is null", "initiatedBy/user/id eq '" + id(UPNLester) + "'", nil, ""},
		{"target", "targetResources/any(t: t/id eq '" + id(UPNAlex) + "')", []string{UPNAlex}, ""},
		{"targets with or inside any", "targetResources/any(t: t/id eq '" + id(UPNAlex) + "' or t/id eq '" + id(UPNAdele) + "')", []string{UPNAdele, UPNAlex}, ""},
		{"target by display name", "targetResources/any(x: startswith(x/displayName, 'Lester'))", []string{UPNLester, UPNLester}, ""},
		{"all combined", activity + " and initiatedBy/app/appId eq '" + AppClientID + "' and activityDateTime ge " + at(time.Second) +
			" and targetResources/any(t: t/id eq '" + id(UPNLester) + "')", []string{UPNLester}, ""},
		{"datetime compared with a string", "activityDateTime ge '" + at(0) + "'", nil, "BadRequest"},
		{"string compared with a datetime", "activityDisplayName eq " + at(0), nil, "BadRequest"},
		{"impossible date", "activityDateTime ge 2026-13-45T00:00:00Z", nil, "BadRequest"},
		{"range variable without member", "targetResources/any(t: t eq 'x')", nil, "BadRequest"},
		{"unknown member", "targetResources/any(t: t/shoeSize eq 'x')", nil, "BadRequest"},
		{"unfilterable member", "targetResources/any(t: t/userPrincipalName eq 'x')", nil, "Request_UnsupportedQuery"},
		{"collection without any", "targetResources eq 'x'", nil, "Request_UnsupportedQuery"},
		{"unknown path", "initiatedBy/app/shoeSize eq 'x'", nil, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(auditPath + "?$filter=" + q(tt.filter))
			if tt.code != "" {
				if r.status != http.StatusBadRequest || r.errorCode(t) != tt.code {
					t.Fatalf("status %d code %q, want 400 %s: %s", r.status, r.errorCode(t), tt.code, r.body)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got []string
			for _, e := range values(t, r.json(t)) {
				got = append(got, targetUPN(e))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuditPaging(t *testing.T) {
	s, c, _ := auditTenant(t)
	filter := "initiatedBy/app/appId eq '" + AppClientID + "'"
	next := auditPath + "?$top=3&$filter=" + q(filter)
	var ids []string
	var sizes []int
	for next != "" {
		page := c.mustGet(next)
		vs := values(t, page)
		sizes = append(sizes, len(vs))
		ids = append(ids, field(vs, "id")...)
		next, _ = page["@odata.nextLink"].(string)
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Query().Get("$filter") != filter || u.Query().Get("$top") != "3" {
				t.Fatalf("nextLink %q does not keep the query", next)
			}
		}
	}
	if !slices.Equal(sizes, []int{3, 1}) {
		t.Errorf("page sizes %v, want [3 1]", sizes)
	}
	var want []string
	audits := s.Audits()
	for i := len(audits) - 1; i >= 0; i-- {
		want = append(want, audits[i].ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids across pages %v, want every entry once, newest first: %v", ids, want)
	}
	if r := c.get(auditPath + "?$top=0"); r.status != http.StatusBadRequest {
		t.Errorf("$top=0: %d", r.status)
	}
	asc := values(t, c.mustGet(auditPath+"?$orderby="+q("activityDateTime asc")))
	if got := field(asc, "id"); !slices.Equal(got, []string{audits[0].ID, audits[1].ID, audits[2].ID, audits[3].ID}) {
		t.Errorf("$orderby asc: %v", got)
	}
}

func TestAuditPermissionAndBudget(t *testing.T) {
	tests := []struct {
		name    string
		budget  func(s *Server) // nil: the default, 5 requests per 10 s
		allowed int
		retry   time.Duration // Retry-After of the first refusal
		refill  time.Duration // after which one more request is allowed
	}{
		{"Graph's reporting limit by default", nil, 5, 2 * time.Second, 2 * time.Second},
		{"scaled down", func(s *Server) { s.SetAuditBudget(2, 10*time.Second) }, 2, 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			opts := smallOpts()
			opts.Now = clock.Now
			s := startServer(t, opts)
			c := newClient(t, s)
			if tt.budget != nil {
				tt.budget(s)
			}

			s.DenyPermission(PermAuditRead)
			if r := c.get(auditPath); r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" {
				t.Fatalf("without %s: %d %s", PermAuditRead, r.status, r.body)
			}
			if r := c.get("/v1.0/users/" + UPNAlex); r.status != http.StatusOK {
				t.Fatalf("user read with audit denied: %d", r.status)
			}
			s.GrantPermission(PermAuditRead)
			if n := s.Stats().AuditRequests; n != 0 {
				t.Fatalf("a refused read used the audit budget: AuditRequests = %d", n)
			}

			for i := range tt.allowed {
				if r := c.get(auditPath); r.status != http.StatusOK {
					t.Fatalf("read %d: %d", i, r.status)
				}
			}
			r := c.get(auditPath)
			if r.status != http.StatusTooManyRequests || r.errorCode(t) != "TooManyRequests" {
				t.Fatalf("read %d: %d %s; want 429", tt.allowed, r.status, r.body)
			}
			if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); time.Duration(ra)*time.Second != tt.retry {
				t.Errorf("Retry-After %q, want %s", r.header.Get("Retry-After"), tt.retry)
			}
			if scope := r.header.Get("x-ms-throttle-scope"); scope != "Tenant_Application/ReportRequests/"+s.TenantID()+"/"+AppClientID {
				t.Errorf("x-ms-throttle-scope %q", scope)
			}
			// The directory's own budget is apart: reading users still works.
			if r := c.get("/v1.0/users/" + UPNAlex); r.status != http.StatusOK {
				t.Fatalf("user read while audits throttled: %d", r.status)
			}
			// In a $batch, too, an audit read counts against the same budget.
			_, items := sendBatch(t, c, []map[string]any{{"id": "1", "method": "GET", "url": "/auditLogs/directoryAudits"}}, false)
			if items["1"].Status != http.StatusTooManyRequests {
				t.Errorf("audit read in $batch: %d, want 429", items["1"].Status)
			}
			clock.Advance(tt.refill)
			if r := c.get(auditPath); r.status != http.StatusOK {
				t.Fatalf("after %s: %d", tt.refill, r.status)
			}
			if st := s.Stats(); st.AuditRequests != tt.allowed+3 || st.Throttled429Requests != 1 || st.Throttled429Items != 1 {
				t.Errorf("stats %+v; want %d audit requests, one 429 direct and one in $batch", st, tt.allowed+3)
			}
		})
	}
}

func TestDropAuditFor(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	revoke := func(upn string) {
		t.Helper()
		if r := c.do(http.MethodPost, "/v1.0/users/"+upn+"/revokeSignInSessions", nil); r.status != http.StatusOK {
			t.Fatalf("revoke %s: %d", upn, r.status)
		}
	}
	targets := func() []string {
		var out []string
		for _, a := range s.Audits() {
			out = append(out, a.TargetUPN)
		}
		return out
	}
	revoke(UPNLester)
	revoke(UPNAlex)
	if !s.DropAuditFor(UPNLester) {
		t.Fatal("DropAuditFor(Lester) = false")
	}
	if got := targets(); !slices.Equal(got, []string{UPNAlex}) {
		t.Errorf("after dropping Lester: %v", got)
	}
	revoke(UPNLester) // still revoked, still not logged
	revoke(UPNAdele)
	if got := targets(); !slices.Equal(got, []string{UPNAlex, UPNAdele}) {
		t.Errorf("after revoking Lester again: %v", got)
	}
	if n := len(s.Revocations()); n != 4 {
		t.Errorf("%d revocations, want 4: dropping the log must not stop the revocation", n)
	}
	if vs := values(t, c.mustGet(auditPath)); len(vs) != 2 {
		t.Errorf("the log over HTTP has %d entries, want 2", len(vs))
	}
	if s.DropAuditFor("nobody@contoso.com") {
		t.Error("DropAuditFor(nobody) = true")
	}
}

// TestSetClock installs a fake clock after the tenant started: Graph's timestamps follow it (with the offset
// on top), the token fetched before stays good however far the clock jumps, and nil gives the real clock back.
func TestSetClock(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	clock := &fakeClock{t: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	s.SetClock(clock.Now)
	s.SetClockOffset(-3 * time.Second)
	clock.Advance(5 * time.Hour) // past the token's lifetime on this clock

	graphNow := clock.Now().Add(-3 * time.Second)
	r := c.do(http.MethodPost, "/v1.0/users/"+UPNLester+"/revokeSignInSessions", nil)
	if r.status != http.StatusOK {
		t.Fatalf("revoke with the token fetched before the clock moved: %d %s", r.status, r.body)
	}
	if got := r.header.Get("Date"); got != graphNow.Format(http.TimeFormat) {
		t.Errorf("Date %q, want %q", got, graphNow.Format(http.TimeFormat))
	}
	if u, _ := s.User(UPNLester); !u.SignInSessionsValidFrom.Equal(graphNow) {
		t.Errorf("valid-from %s, want %s", u.SignInSessionsValidFrom, graphNow)
	}
	if a := s.Audits(); len(a) != 1 || !a[0].At.Equal(graphNow) {
		t.Errorf("audit %+v, want one at %s", a, graphNow)
	}
	if !s.Now().Equal(graphNow) {
		t.Errorf("Now() = %s, want %s", s.Now(), graphNow)
	}

	s.SetClock(nil)
	s.SetClockOffset(0)
	if s.Now().Year() == 2001 {
		t.Errorf("Now() = %s after SetClock(nil); want the real clock", s.Now())
	}
}
