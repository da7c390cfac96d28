package graph_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/graph/graphtest/tenanttest"
)

// newTenant starts a simulated tenant and a real msgraph-sdk-go client authenticated by azidentity against it.
func newTenant(t *testing.T, opts graphtest.Options, cfg graph.Config) (*graphtest.Server, *graph.Client) {
	t.Helper()
	return tenanttest.Start(t, opts, cfg)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func userID(t *testing.T, srv *graphtest.Server, upn string) string {
	t.Helper()
	u, ok := srv.User(upn)
	if !ok {
		t.Fatalf("sample tenant has no %s", upn)
	}
	return u.ID
}

func TestResolveUser(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 20, BigGroupSize: 5}, graph.Config{})
	lester := userID(t, srv, graphtest.UPNLester)
	tests := []struct {
		name, ref, wantUPN string
		wantErr            error
	}{
		{"upn", "lester@contoso.com", graphtest.UPNLester, nil},
		{"upn other case", "LESTER@Contoso.com", graphtest.UPNLester, nil},
		{"object id", lester, graphtest.UPNLester, nil},
		{"proxy address", "smtp:qob@contoso.com", graphtest.UPNQuincy, nil},
		{"alias as mail", "qob@contoso.com", graphtest.UPNQuincy, nil},
		{"guest upn with #EXT#", graphtest.UPNJaneGuest, graphtest.UPNJaneGuest, nil},
		{"guest by mail", "jane@fabrikam.com", graphtest.UPNJaneGuest, nil},
		{"no such user", "nobody@contoso.com", "", graph.ErrNotFound},
		{"no such id", "00000000-0000-0000-0000-000000000000", "", graph.ErrNotFound},
		{"injection stays a literal", "x' or startswith(displayName,'a", "", graph.ErrNotFound},
		{"quote in proxy address", "smtp:o'brien@contoso.com", "", graph.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.ResolveUser(ctx(t), tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ResolveUser(%q) = %+v, %v; want %v", tt.ref, u, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "no such user") {
					t.Errorf("error %q does not say no such user", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveUser(%q): %v", tt.ref, err)
			}
			if !strings.EqualFold(u.UPN, tt.wantUPN) {
				t.Fatalf("ResolveUser(%q).UPN = %q, want %q", tt.ref, u.UPN, tt.wantUPN)
			}
		})
	}
	g, err := c.ResolveUser(ctx(t), graphtest.UPNJaneGuest)
	if err != nil || !g.Guest {
		t.Errorf("guest: %+v, %v; want Guest=true", g, err)
	}
	d, err := c.ResolveUser(ctx(t), graphtest.UPNDana)
	if err != nil || d.Enabled {
		t.Errorf("disabled user: %+v, %v; want Enabled=false", d, err)
	}
}

func TestQuoteEscapesODataLiterals(t *testing.T) {
	tests := map[string]string{
		"O'Brien":                         "'O''Brien'",
		"x' or startswith(displayName,'a": "'x'' or startswith(displayName,''a'",
		"":                                "''",
	}
	for in, want := range tests {
		if got := graph.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMatchUsers(t *testing.T) {
	_, c := newTenant(t, graphtest.Options{Users: 50, BigGroupSize: 5}, graph.Config{})
	users, err := graph.CollectUsers(ctx(t), func(ctx context.Context, fn func([]graph.User) error) error {
		return c.MatchUsers(ctx, "Test", fn)
	})
	if err != nil {
		t.Fatal(err)
	}
	var upns []string
	for _, u := range users {
		upns = append(upns, u.UPN)
	}
	for _, want := range []string{graphtest.UPNLester, graphtest.UPNTesty, graphtest.UPNTessa, graphtest.UPNPriya, graphtest.UPNDana} {
		if !slices.Contains(upns, want) {
			t.Errorf("match Test: missing %s in %v", want, upns)
		}
	}
	for _, u := range users {
		if !strings.Contains(strings.ToLower(u.DisplayName), "test") {
			t.Errorf("match Test returned %q", u.DisplayName)
		}
	}
	// "O'Brien" must reach $search intact and find Quincy; an injection attempt must find nobody.
	obrien, err := graph.CollectUsers(ctx(t), func(ctx context.Context, fn func([]graph.User) error) error {
		return c.MatchUsers(ctx, "O'Brien", fn)
	})
	if err != nil || len(obrien) != 1 || obrien[0].UPN != graphtest.UPNQuincy {
		t.Errorf("match O'Brien = %v, %v; want Quincy", obrien, err)
	}
	inj, err := graph.CollectUsers(ctx(t), func(ctx context.Context, fn func([]graph.User) error) error {
		return c.MatchUsers(ctx, `x" OR "displayName:a`, fn)
	})
	if err == nil || len(inj) != 0 {
		t.Errorf("injection via $search returned %d users, %v; want a refusal", len(inj), err)
	}
}

func TestGroupsNestedPagedAndAmbiguous(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 20, BigGroupSize: 2500}, graph.Config{})
	g, err := c.ResolveGroup(ctx(t), graphtest.GroupTest)
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	var upns []string
	err = c.GroupMembers(ctx(t), g.ID, func(page []graph.User) error {
		pages++
		for _, u := range page {
			upns = append(upns, strings.ToLower(u.UPN))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(upns)
	want := graphtest.TestGroupMemberUPNs()
	for i := range want {
		want[i] = strings.ToLower(want[i])
	}
	if !slices.Equal(upns, want) {
		t.Errorf("members of Test (transitive, users only):\n got %v\nwant %v", upns, want)
	}

	big, err := c.ResolveGroup(ctx(t), graphtest.GroupBig)
	if err != nil {
		t.Fatal(err)
	}
	pages = 0
	seen := map[string]bool{}
	err = c.GroupMembers(ctx(t), big.ID, func(page []graph.User) error {
		pages++
		for _, u := range page {
			if seen[u.ID] {
				t.Errorf("user %s twice", u.UPN)
			}
			seen[u.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2500 || pages < 3 {
		t.Errorf("big group: %d users in %d pages; want 2500 in ≥ 3 pages", len(seen), pages)
	}

	_, err = c.ResolveGroup(ctx(t), graphtest.GroupSales)
	var amb *graph.AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Fatalf("ResolveGroup(Sales) = %v; want AmbiguousError with 2 candidates", err)
	}
	for _, cand := range amb.Candidates {
		if !strings.Contains(err.Error(), cand.ID) {
			t.Errorf("ambiguity error %q does not list %s", err, cand.ID)
		}
	}
	byID, err := c.ResolveGroup(ctx(t), amb.Candidates[1].ID)
	if err != nil || byID.ID != amb.Candidates[1].ID {
		t.Errorf("ResolveGroup(id) = %+v, %v", byID, err)
	}
	if _, err := c.ResolveGroup(ctx(t), "No Such Group' or displayName eq 'Test"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("injected group name: %v; want not found", err)
	}
	_ = srv
}

func TestRevokeThenReadBack(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 60, BigGroupSize: 5}, graph.Config{})
	var ids []string
	for _, u := range srv.Users()[:45] { // three batches
		ids = append(ids, u.ID)
	}
	before, err := c.SessionsValidFrom(ctx(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	var progress int
	var mu sync.Mutex
	results, err := c.RevokeSessions(ctx(t), ids, func(graph.RevokeResult) { mu.Lock(); progress++; mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if progress != len(ids) {
		t.Errorf("progress called %d times for %d users", progress, len(ids))
	}
	after, err := c.SessionsValidFrom(ctx(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.UserID != ids[i] || r.Outcome != graph.OutcomeRevoked {
			t.Fatalf("result %d = %+v", i, r)
		}
		if !after[i].Found || after[i].SessionsValidFrom.Before(r.At.Truncate(time.Second)) {
			t.Errorf("%s: valid-from %s is before revocation %s", ids[i], after[i].SessionsValidFrom, r.At)
		}
		if !after[i].SessionsValidFrom.After(before[i].SessionsValidFrom) {
			t.Errorf("%s: valid-from did not move (%s → %s)", ids[i], before[i].SessionsValidFrom, after[i].SessionsValidFrom)
		}
	}
	if n := len(srv.Revocations()); n != len(ids) {
		t.Errorf("tenant recorded %d revocations, want %d", n, len(ids))
	}
	if st := srv.Stats(); st.BatchRequests < 3 {
		t.Errorf("%d $batch requests for 45 users; want ≥ 3 (≤ 20 per batch)", st.BatchRequests)
	}
}

func TestRevokeMixedBatchOutcomes(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 30, BigGroupSize: 5}, graph.Config{MaxAttempts: 3})
	users := srv.Users()
	ok1, throttled, broken, forbidden, flaky := users[0].ID, users[1].ID, users[2].ID, users[3].ID, users[4].ID
	srv.InjectFault(throttled, http.StatusTooManyRequests, 1, time.Second)
	srv.InjectFault(broken, http.StatusInternalServerError, 100, 0)
	srv.InjectFault(forbidden, http.StatusForbidden, 1, 0)
	srv.InjectFault(flaky, http.StatusServiceUnavailable, 1, 0)
	missing := "00000000-0000-0000-0000-00000000dead"
	ids := []string{ok1, throttled, broken, missing, forbidden, flaky}
	start := time.Now()
	results, err := c.RevokeSessions(ctx(t), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []graph.Outcome{graph.OutcomeRevoked, graph.OutcomeRevoked, graph.OutcomeFailed, graph.OutcomeNotFound, graph.OutcomeForbidden, graph.OutcomeRevoked}
	for i, r := range results {
		if r.UserID != ids[i] || r.Outcome != want[i] {
			t.Errorf("user %d (%s): %+v; want %s", i, ids[i], r, want[i])
		}
	}
	if r := results[2]; r.Status != 500 || r.Code == "" || r.Attempts != 3 {
		t.Errorf("500 item: status %d code %q attempts %d; want 500 with Graph's code after 3 attempts", r.Status, r.Code, r.Attempts)
	}
	if r := results[1]; r.Attempts != 2 {
		t.Errorf("429 item took %d attempts, want 2", r.Attempts)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("finished in %s: the item's Retry-After of 1 s was not waited for", elapsed)
	}
	if st := srv.Stats(); st.Throttled429Items != 1 {
		t.Errorf("tenant saw %d throttled items, want 1", st.Throttled429Items)
	}
}

func TestRetryAfterOnWholeRequestIsWaited(t *testing.T) {
	// A write budget of 20 per 10 s: the second batch of 20 is throttled as a whole and told to come back.
	srv, c := newTenant(t, graphtest.Options{Users: 60, BigGroupSize: 5, WriteBudget: 20, WriteWindow: 2 * time.Second},
		graph.Config{Concurrency: 1})
	var ids []string
	for _, u := range srv.Users()[:40] {
		ids = append(ids, u.ID)
	}
	start := time.Now()
	results, err := c.RevokeSessions(ctx(t), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	for _, r := range results {
		if r.Outcome != graph.OutcomeRevoked {
			t.Fatalf("%+v", r)
		}
	}
	st := srv.Stats()
	if st.Throttled429Items == 0 {
		t.Fatalf("no item was throttled; the test does not exercise Retry-After (stats %+v)", st)
	}
	// 20 more writes need 2 s of refill; Retry-After says so and the client must wait it out.
	if elapsed < 1500*time.Millisecond {
		t.Errorf("all revoked after %s; Retry-After was not honoured", elapsed)
	}
	t.Logf("40 users with a budget of 20 per 2 s: %s, %d throttled items", elapsed, st.Throttled429Items)
}

func TestRetryAfterTwoSecondsOnSingleRequest(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	srv.SetReadBudget(1, 2*time.Second)
	u := graphtest.UPNLester
	if _, err := c.ResolveUser(ctx(t), u); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := c.ResolveUser(ctx(t), u) // over the read budget: 429 with Retry-After: 2
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if got.UPN != u {
		t.Errorf("got %s", got.UPN)
	}
	if elapsed < 1900*time.Millisecond {
		t.Errorf("second read took %s; Retry-After: 2 was not waited for", elapsed)
	}
	if srv.Stats().Throttled429Requests == 0 {
		t.Error("tenant throttled nothing")
	}
	t.Logf("throttled read waited %s", elapsed)
}

func TestUnauthenticatedRequestIs401(t *testing.T) {
	srv := graphtest.New(graphtest.Options{Users: 5, BigGroupSize: 5})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, auth := range []string{"", "Bearer not-a-token"} {
		req, _ := http.NewRequest(http.MethodGet, srv.GraphURL()+"/users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestAccessTokenLifetime(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{DefaultTokenLifetime: 90 * time.Minute})
	lt, err := c.AccessTokenLifetime(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if lt.Lifetime != 90*time.Minute || lt.PolicyID != "" || !strings.Contains(lt.Source, "default") {
		t.Errorf("without a policy: %+v; want the configured default", lt)
	}
	srv.SetOrganizationDefaultAccessTokenLifetime(25 * time.Minute)
	lt, err = c.AccessTokenLifetime(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if lt.Lifetime != 25*time.Minute || lt.PolicyID == "" || !strings.Contains(lt.Source, "policy") {
		t.Errorf("with a policy: %+v; want 25m from the policy", lt)
	}
}

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"02:00:00", 2 * time.Hour, true},
		{"00:10:00", 10 * time.Minute, true},
		{"1.00:00:00", 24 * time.Hour, true},
		{"1:2", 0, false},
		{"xx:00:00", 0, false},
		{"00:61:00", 0, false},
	}
	for _, tt := range tests {
		got, err := graph.ParseTimeSpan(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %s, %v", tt.in, got, err)
		}
		if tt.ok && graph.FormatTimeSpan(got) != tt.in {
			t.Errorf("FormatTimeSpan(%s) = %s, want %s", got, graph.FormatTimeSpan(got), tt.in)
		}
	}
}

func TestRevokeNeverDropsUsersOnCancel(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 100, BigGroupSize: 5, Latency: 50 * time.Millisecond}, graph.Config{WriteRate: 40, Concurrency: 1})
	var ids []string
	for _, u := range srv.Users()[:100] {
		ids = append(ids, u.ID)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	results, err := c.RevokeSessions(cctx, ids, nil)
	if err == nil {
		t.Fatal("expected the deadline to stop the run")
	}
	if len(results) != len(ids) {
		t.Fatalf("%d results for %d users", len(results), len(ids))
	}
	var revoked, cancelled int
	for i, r := range results {
		if r.UserID != ids[i] {
			t.Fatalf("result %d is for %s, want %s", i, r.UserID, ids[i])
		}
		switch {
		case r.Outcome == graph.OutcomeRevoked:
			revoked++
		case r.Code == "cancelled":
			cancelled++
		}
	}
	if revoked == 0 || cancelled == 0 || revoked+cancelled != len(ids) {
		t.Errorf("revoked %d, cancelled %d of %d", revoked, cancelled, len(ids))
	}
}

// A group can be found by its description, with the description quoted safely into the filter.
func TestGroupsByDescription(t *testing.T) {
	_, c := tenanttest.Start(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	ctx := context.Background()
	got, err := c.GroupsByDescription(ctx, "Sales EMEA")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].DisplayName != graphtest.GroupSales || got[0].Description != "Sales EMEA" {
		t.Fatalf("GroupsByDescription(Sales EMEA) = %+v", got)
	}
	for _, text := range []string{"Nothing like it", "x' or startswith(displayName,'S"} {
		if got, err := c.GroupsByDescription(ctx, text); err != nil || len(got) != 0 {
			t.Errorf("GroupsByDescription(%q) = %+v, %v; want none", text, got, err)
		}
	}
}
