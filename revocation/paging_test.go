package revocation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// A run, its verification passes and its deadline handle the scope a page at a time (Runner.PageSize): with pages
// of 7, a 45-user request (one of them protected since the preview) must end exactly as it would in one page —
// everyone revoked, confirmed and signed out once, the protected user left alone, one deadline notice for all.
func TestRunInPages(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
	}{
		{"one page", 0},
		{"pages of 7", 7},
		{"pages of 1", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 44}, graphtest.GroupBreakGlass)
			f.runner.PageSize = tc.pageSize
			f.tenant.SetOrganizationDefaultAccessTokenLifetime(time.Hour)
			upns := []string{graphtest.UPNBreakGlass}
			for _, u := range f.tenant.Users() {
				if strings.HasPrefix(u.DisplayName, "Wave User") {
					upns = append(upns, u.UserPrincipalName)
				}
			}
			r := f.approved(t, upns...)
			ctx := context.Background()
			if err := f.runner.Run(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if err := f.runner.Verify(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(2 * time.Hour)
			if err := f.runner.TokensExpired(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			for upn, x := range f.byUPN(t, r.ID) {
				want := store.TargetTokensExpired
				if upn == graphtest.UPNBreakGlass {
					want = store.TargetExcluded
				}
				if x.Status != want {
					t.Errorf("%s ended %s (%s), want %s", upn, x.Status, x.Detail, want)
				}
			}
			if req := f.request(t, r.ID); req.Status != store.StatusDone {
				t.Errorf("request %s, want done", req.Status)
			}
			evs := f.events(t, r.ID)
			if n := len(evs[revocation.EventTokensExpired]); n != 1 {
				t.Fatalf("%d deadline events, want one for everyone", n)
			}
			if d := evs[revocation.EventTokensExpired][0].Detail; !strings.Contains(d, "for 44 confirmed users") {
				t.Errorf("deadline event %q, want it to count 44 users", d)
			}
			if n := len(f.tenant.Revocations()); n != 44 {
				t.Errorf("%d revocations reached the tenant, want 44", n)
			}
		})
	}
}

// A request in which Graph accepted nobody fails with every reason counted, whatever the page size.
func TestFailureReasonsCountedAcrossPages(t *testing.T) {
	f := newFixture(t, graphtest.Options{Users: 10, BigGroupSize: 10})
	f.runner.PageSize = 3
	f.tenant.DenyPermission("User.RevokeSessions.All")
	var upns []string
	for _, u := range f.tenant.Users() {
		if strings.HasPrefix(u.DisplayName, "Wave User") {
			upns = append(upns, u.UserPrincipalName)
		}
	}
	r := f.approved(t, upns...)
	if err := f.runner.Run(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, r.ID)
	if req.Status != store.StatusFailed || !strings.Contains(req.Failure, "(10)") {
		t.Fatalf("request %s, failure %q; want failed, the reason counted for all 10", req.Status, req.Failure)
	}
}
