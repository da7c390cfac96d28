package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// With SIGNOUTBOT_ADMIN_GROUP set, being listed is not enough: the e-mail on the Slack profile must resolve to a
// member of the Entra group. Carol is listed, but her Slack e-mail is not in the group.
func TestAdminGroupRequiresEntraMembership(t *testing.T) {
	e := newEnv(t, envOpts{adminGroup: "Signout Admins", setup: func(tenant *graphtest.Server, fs *fakeslack.Server) {
		adele, _ := tenant.User(graphtest.UPNAdele)
		alex, _ := tenant.User(graphtest.UPNAlex)
		tenant.AddGroup(graphtest.Group{DisplayName: "Signout Admins", MemberIDs: []string{adele.ID, alex.ID}})
		fs.AddUser(fakeslack.User{ID: alice, Name: "alice", RealName: "Alice Admin", Email: graphtest.UPNAdele, TZ: "Europe/Berlin"})
		fs.AddUser(fakeslack.User{ID: bob, Name: "bob", RealName: "Bob Builder", Email: graphtest.UPNAlex, TZ: "America/New_York"})
		fs.AddUser(fakeslack.User{ID: carol, Name: "carol", RealName: "Carol Checker", Email: graphtest.UPNMegan, TZ: "Asia/Tokyo"})
	}})
	e.slash(carol, "user lester@contoso.com")
	if reqs, _ := e.st.ListRequests(context.Background(), store.Filter{}); len(reqs) != 0 {
		t.Fatal("carol is not in the Entra admin group but made a request")
	}
	if got := e.lastEphemeral(carol); !strings.Contains(got, "Only configured sign-out admins") {
		t.Errorf("carol was told %q", got)
	}
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.click(carol, "approve", r)
	if got := e.request(r.ID); len(got.Approvals) != 0 {
		t.Fatal("carol's approval counted")
	}
	e.click(bob, "approve", r)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
}

// SIGNOUTBOT_ADMINS may name a Slack user group: its members are admins, others are not.
func TestSlackUserGroupAdmins(t *testing.T) {
	e := newEnv(t, envOpts{adminIDs: []string{alice}, userGroups: []string{"SHELPDESK"}, setup: func(_ *graphtest.Server, fs *fakeslack.Server) {
		fs.SetUserGroup("SHELPDESK", bob)
	}})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.click(carol, "approve", r)
	if got := e.lastEphemeral(carol); !strings.Contains(got, "Only configured sign-out admins") {
		t.Errorf("carol (not in the user group) was told %q", got)
	}
	e.click(bob, "approve", r)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
}

func TestMatchCommand(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, `match Test --reason "contractors"`)
	r := e.onlyRequest()
	byUPN := map[string]store.Target{}
	for _, x := range e.targets(r.ID) {
		byUPN[strings.ToLower(x.UPN)] = x
	}
	for _, upn := range []string{graphtest.UPNLester, graphtest.UPNTesty, graphtest.UPNTessa, graphtest.UPNPriya} {
		if byUPN[upn].Status != store.TargetPending {
			t.Errorf("%s: %+v", upn, byUPN[upn])
		}
	}
	if x := byUPN[graphtest.UPNDana]; x.Status != store.TargetPending || !x.Disabled {
		t.Errorf("disabled Dana (signed out too): %+v", x)
	}
	if _, ok := byUPN[graphtest.UPNCora]; ok {
		t.Error(`"Cora Contest" does not contain "Test" as a word start but was selected`)
	}
	if card := e.card(r).AllText(); !strings.Contains(card, "display name contains *Test*") {
		t.Errorf("card:\n%s", card)
	}
}
