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

func TestNewProtectionParsesEntries(t *testing.T) {
	p := scope.NewProtection(nil, []string{" BreakGlass@Contoso.com ", "Break Glass", "", "  ", "0b8d9a4f-1a4b-4162-85db-684a69279017"})
	if len(p.UPNs) != 1 || p.UPNs[0] != "breakglass@contoso.com" {
		t.Errorf("UPNs = %q, want the one UPN, lower-cased and trimmed", p.UPNs)
	}
	if len(p.Groups) != 2 || p.Groups[0] != "Break Glass" {
		t.Errorf("Groups = %q, want the group name (spaces kept) and the id", p.Groups)
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
				graphtest.UPNDana:   {store.TargetExcluded, scope.ReasonDisabled},
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
				m[graphtest.UPNDana] = want{store.TargetExcluded, scope.ReasonDisabled}
				return m
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scope.Resolve(context.Background(), dir, scope.NewProtection(dir, tc.protected), tc.cmd)
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
	_, err := scope.Resolve(context.Background(), dir, scope.NewProtection(dir, []string{"No Such Group"}),
		commands.Command{Kind: commands.KindRevokeUsers, Users: []string{graphtest.UPNTesty}})
	if !errors.Is(err, scope.ErrProtection) {
		t.Fatalf("err = %v, want ErrProtection", err)
	}
}
