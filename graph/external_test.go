package graph_test

import (
	"context"
	"testing"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

func TestExternalMembersAreGuests(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
	srv.AddUser(graphtest.User{UserPrincipalName: "erik_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Erik External",
		Mail: "erik@fabrikam.com", UserType: "Member", ExternalUserState: "Accepted", AccountEnabled: true})
	srv.AddUser(graphtest.User{UserPrincipalName: "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Pat Pending",
		UserType: "Member", AccountEnabled: true})
	srv.AddUser(graphtest.User{UserPrincipalName: "conv@contoso.com", DisplayName: "Converted Member",
		UserType: "Member", ExternalUserState: "PendingAcceptance", AccountEnabled: true})
	tests := []struct {
		ref             string
		guest, external bool
	}{
		{"erik_fabrikam.com#EXT#@contoso.onmicrosoft.com", true, true},
		{"pat_fabrikam.com#EXT#@contoso.onmicrosoft.com", true, true}, // #EXT# alone is enough
		{"conv@contoso.com", true, true},                              // externalUserState alone is enough
		{graphtest.UPNJaneGuest, true, false},                         // a guest by userType is no "external member"
		{graphtest.UPNLester, false, false},
	}
	for _, tt := range tests {
		u, err := c.ResolveUser(ctx(t), tt.ref)
		if err != nil {
			t.Fatalf("ResolveUser(%q): %v", tt.ref, err)
		}
		if u.Guest != tt.guest || u.External != tt.external {
			t.Errorf("%s: Guest %v External %v; want %v %v", tt.ref, u.Guest, u.External, tt.guest, tt.external)
		}
	}
	// Listings select the same properties.
	found, err := graph.CollectUsers(ctx(t), func(ctx context.Context, fn func([]graph.User) error) error {
		return c.MatchUsers(ctx, "Erik", fn)
	})
	if err != nil || len(found) != 1 || !found[0].External || !found[0].Guest {
		t.Errorf("MatchUsers(Erik) = %+v, %v; want one external member", found, err)
	}
}
