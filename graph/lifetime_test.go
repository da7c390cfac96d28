package graph_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

func TestAccessTokenLifetimeAcrossPolicies(t *testing.T) {
	tests := []struct {
		name           string
		setup          func(t *testing.T, srv *graphtest.Server)
		want           time.Duration
		wantSource     string
		wantFromPolicy bool
		wantStatus     int // an error wrapping *graph.APIError with this status
	}{
		{
			name:       "no policy",
			setup:      func(*testing.T, *graphtest.Server) {},
			want:       2 * time.Hour,
			wantSource: "no token lifetime policy in the tenant (default for Teams and Microsoft 365 clients)",
		},
		{
			name: "organization default 10 min",
			setup: func(_ *testing.T, srv *graphtest.Server) {
				srv.SetOrganizationDefaultPolicy("Cutover 10 min", 10*time.Minute)
			},
			want: 10 * time.Minute, wantSource: `organization-default policy "Cutover 10 min"`, wantFromPolicy: true,
		},
		{
			name: "organization default 10 min and an app policy of 1 day",
			setup: func(t *testing.T, srv *graphtest.Server) {
				srv.SetOrganizationDefaultPolicy("Cutover 10 min", 10*time.Minute)
				assign(t, srv, srv.AddTokenLifetimePolicy("Long tokens", 24*time.Hour), "Legacy CRM")
			},
			want: 24 * time.Hour, wantSource: `policy "Long tokens" assigned to app "Legacy CRM"`, wantFromPolicy: true,
		},
		{
			name: "app policy of 1 day on three apps",
			setup: func(t *testing.T, srv *graphtest.Server) {
				srv.SetOrganizationDefaultPolicy("Cutover 10 min", 10*time.Minute)
				assign(t, srv, srv.AddTokenLifetimePolicy("Long tokens", 24*time.Hour), "Legacy CRM", "Kiosk", "Scanner")
				assign(t, srv, srv.AddTokenLifetimePolicy("Medium tokens", 3*time.Hour), "Portal")
			},
			want: 24 * time.Hour, wantSource: `policy "Long tokens" assigned to app "Legacy CRM" and 2 more`, wantFromPolicy: true,
		},
		{
			name: "app policy of 30 min without organization default: the configured 2 h still applies to other apps",
			setup: func(t *testing.T, srv *graphtest.Server) {
				assign(t, srv, srv.AddTokenLifetimePolicy("Short tokens", 30*time.Minute), "Legacy CRM")
			},
			want: 2 * time.Hour, wantSource: "no organization-default token lifetime policy (default for Teams and Microsoft 365 clients)",
		},
		{
			name: "a policy assigned to nothing is ignored",
			setup: func(_ *testing.T, srv *graphtest.Server) {
				srv.SetOrganizationDefaultPolicy("Cutover 10 min", 10*time.Minute)
				srv.AddTokenLifetimePolicy("Unused long tokens", 24*time.Hour)
			},
			want: 10 * time.Minute, wantSource: `organization-default policy "Cutover 10 min"`, wantFromPolicy: true,
		},
		{
			name: "policies unreadable (no Policy.Read.All)",
			setup: func(_ *testing.T, srv *graphtest.Server) {
				srv.SetOrganizationDefaultPolicy("Cutover 10 min", 10*time.Minute)
				srv.DenyPermission(graphtest.PermPolicyRead)
			},
			wantStatus: http.StatusForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
			tt.setup(t, srv)
			lt, err := c.AccessTokenLifetime(ctx(t))
			if tt.wantStatus != 0 {
				var ae *graph.APIError
				if !errors.As(err, &ae) || ae.Status != tt.wantStatus || ae.Code != "Authorization_RequestDenied" {
					t.Fatalf("AccessTokenLifetime = %+v, %v; want an *APIError with status %d", lt, err, tt.wantStatus)
				}
				if lt != (graph.TokenLifetime{}) {
					t.Errorf("guessed %+v alongside the error", lt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lt.Lifetime != tt.want || lt.Source != tt.wantSource || lt.FromPolicy != tt.wantFromPolicy || (lt.PolicyID != "") != tt.wantFromPolicy {
				t.Errorf("AccessTokenLifetime = %+v;\nwant Lifetime %s, Source %q, FromPolicy %v", lt, tt.want, tt.wantSource, tt.wantFromPolicy)
			}
		})
	}
}

// assign registers each app and assigns the policy to it, in order.
func assign(t *testing.T, srv *graphtest.Server, policyID string, apps ...string) {
	t.Helper()
	for _, name := range apps {
		if err := srv.AssignPolicy(policyID, srv.AddApplication(name)); err != nil {
			t.Fatal(err)
		}
	}
}
