package scope_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/graph/graphtest/tenanttest"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// tenant is the sample tenant behind the real graph client.
func tenant(t *testing.T) *graph.Client {
	t.Helper()
	_, c := tenanttest.Start(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	return c
}

// Protected entries are resolved to object ids once; a typo, an alias that names nobody, or an ambiguous group
// name stops start-up instead of protecting nobody.
func TestResolveProtection(t *testing.T) {
	srv, dir := tenanttest.Start(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	ctx := context.Background()
	breakGlass, _ := srv.User(graphtest.UPNBreakGlass)
	quincy, _ := srv.User(graphtest.UPNQuincy)
	p, err := scope.ResolveProtection(ctx, dir, []string{" BreakGlass@Contoso.com ", "Break Glass", "", "  ", "smtp:qob@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.UserIDs) != 2 || p.UserIDs[0] != breakGlass.ID || p.UserIDs[1] != quincy.ID {
		t.Errorf("UserIDs = %q, want the break-glass admin's and Quincy's object ids", p.UserIDs)
	}
	glass := srv.FindGroups(graphtest.GroupBreakGlass)
	if len(p.GroupIDs) != 1 || len(glass) != 1 || p.GroupIDs[0] != glass[0].ID {
		t.Errorf("GroupIDs = %q, want the Break Glass group's id", p.GroupIDs)
	}
	for _, bad := range [][]string{{"typo@contoso.com"}, {"No Such Group"}, {graphtest.GroupSales}} {
		if _, err := scope.ResolveProtection(ctx, dir, bad); err == nil || !strings.Contains(err.Error(), "SIGNOUTBOT_PROTECTED") {
			t.Errorf("ResolveProtection(%q) = %v, want an error naming SIGNOUTBOT_PROTECTED", bad, err)
		}
	}

	// A second group created later with the protected group's name changes nothing: protection is by id.
	srv.AddGroup(graphtest.Group{DisplayName: graphtest.GroupBreakGlass})
	set, err := p.Set(ctx)
	if err != nil {
		t.Fatalf("Set after a look-alike group appeared: %v", err)
	}
	if !set[strings.ToLower(breakGlass.ID)] {
		t.Errorf("break-glass admin not protected: %v", set)
	}
}

func TestResolve(t *testing.T) {
	dir := tenant(t)
	type want struct {
		status store.TargetStatus
		detail string
	}
	tests := []struct {
		name      string
		protected []string
		cmd       commands.Command
		want      map[string]want // by UPN (any case); every target must be listed
	}{
		{
			name:      "named users: duplicates once, the unknown, the disabled and the protected listed with their reason",
			protected: []string{"LESTER@contoso.com"},
			cmd: commands.Command{Kind: commands.KindRevokeUsers, Users: []string{graphtest.UPNTesty, "ghost@contoso.com",
				graphtest.UPNDana, graphtest.UPNLester, "smtp:qob@contoso.com", graphtest.UPNQuincy}},
			want: map[string]want{
				graphtest.UPNTesty:  {store.TargetPending, ""},
				"ghost@contoso.com": {store.TargetExcluded, scope.ReasonNotFound},
				graphtest.UPNDana:   {store.TargetPending, ""}, // disabled: revoked all the same
				graphtest.UPNLester: {store.TargetExcluded, scope.ReasonProtected},
				graphtest.UPNQuincy: {store.TargetPending, ""}, // named twice (alias and UPN), listed once
			},
		},
		{
			name:      "a group, nested members included; protection through a protected group's membership",
			protected: []string{graphtest.GroupBreakGlass},
			cmd:       commands.Command{Kind: commands.KindRevokeGroup, Group: graphtest.GroupTest},
			want: func() map[string]want {
				m := map[string]want{}
				for _, upn := range graphtest.TestGroupMemberUPNs() {
					m[upn] = want{store.TargetPending, ""}
				}
				m[graphtest.UPNBreakGlass] = want{store.TargetExcluded, scope.ReasonProtected}
				return m
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prot, err := scope.ResolveProtection(context.Background(), dir, tc.protected)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := scope.Resolve(context.Background(), dir, prot, tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Targets) != len(tc.want) {
				t.Errorf("%d targets, want %d: %+v", len(sc.Targets), len(tc.want), sc.Targets)
			}
			for i, tg := range sc.Targets {
				if tg.Seq != i {
					t.Errorf("target %d has Seq %d", i, tg.Seq)
				}
				var w want
				ok := false
				for upn, x := range tc.want {
					if strings.EqualFold(upn, tg.UPN) {
						w, ok = x, true
					}
				}
				if !ok {
					t.Errorf("unexpected target %s", tg.UPN)
					continue
				}
				if tg.Status != w.status || tg.Detail != w.detail {
					t.Errorf("%s: %s %q, want %s %q", tg.UPN, tg.Status, tg.Detail, w.status, w.detail)
				}
				if disabled := strings.EqualFold(tg.UPN, graphtest.UPNDana); tg.Disabled != disabled {
					t.Errorf("%s: Disabled = %v, want %v", tg.UPN, tg.Disabled, disabled)
				}
			}
			pending, excluded := sc.Counts()
			if pending+excluded != len(sc.Targets) {
				t.Errorf("Counts %d+%d for %d targets", pending, excluded, len(sc.Targets))
			}
		})
	}
}

// Without the protected list the bot cannot promise to spare those accounts, so it resolves nothing.
func TestResolveFailsClosedWhenProtectionCannotBeRead(t *testing.T) {
	dir := tenant(t)
	prot := &scope.Protection{Dir: dir, GroupIDs: []string{"00000000-0000-0000-0000-00000000dead"}} // deleted since start-up
	_, err := scope.Resolve(context.Background(), dir, prot,
		commands.Command{Kind: commands.KindRevokeUsers, Users: []string{graphtest.UPNTesty}})
	if !errors.Is(err, scope.ErrProtection) {
		t.Fatalf("err = %v, want ErrProtection", err)
	}
}

// A B2B external member (userType Member, #EXT# UPN, externalUserState) is in scope like a guest, and marked so:
// only their home tenant holds their sessions.
func TestExternalMemberIsReportedLikeAGuest(t *testing.T) {
	srv, dir := tenanttest.Start(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	ext := srv.AddUser(graphtest.User{UserPrincipalName: "sam_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Sam (Fabrikam)",
		UserType: "Member", ExternalUserState: "Accepted", AccountEnabled: true})
	sc, err := scope.Resolve(context.Background(), dir, &scope.Protection{Dir: dir},
		commands.Command{Kind: commands.KindRevokeUsers, Users: []string{ext.ID, graphtest.UPNLester}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Targets) != 2 || !sc.Targets[0].Guest || !sc.Targets[0].External || sc.Targets[1].Guest || sc.Targets[1].External {
		t.Fatalf("targets = %+v", sc.Targets)
	}
}
