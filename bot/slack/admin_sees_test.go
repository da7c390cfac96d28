package slack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// allEphemerals is everything a user was shown privately, in order.
func (e *env) allEphemerals(user string) string {
	var b strings.Builder
	for _, m := range e.slack.Ephemerals(user) {
		b.WriteString(m.AllText() + "\n")
	}
	return b.String()
}

// A group name two groups share gets a reply that lists each candidate on its own line, with its description,
// its member count and a command that picks it; the description picks a group too, and the card names it fully.
func TestGroupsKeepTheirIdentity(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "group Sales")
	reply := e.lastEphemeral(alice)
	sales := e.tenant.FindGroups(graphtest.GroupSales)
	if len(sales) != 2 {
		t.Fatalf("sample tenant has %d Sales groups", len(sales))
	}
	for _, g := range sales {
		line := ""
		for _, l := range strings.Split(reply, "\n") {
			if strings.Contains(l, g.ID) {
				line = l
			}
		}
		if !strings.Contains(line, g.Description) || !strings.Contains(line, "/signout group "+g.ID) || !strings.Contains(line, "user") {
			t.Errorf("candidate %s (%s) not on a line of its own with description, count and command:\n%s", g.ID, g.Description, reply)
		}
	}
	if len(e.requests()) != 0 {
		t.Fatal("an ambiguous name created a request")
	}
	e.slash(alice, `group "Sales EMEA" --reason "tenant cutover"`)
	r := e.onlyRequest()
	var emea graphtest.Group
	for _, g := range sales {
		if g.Description == "Sales EMEA" {
			emea = g
		}
	}
	if !strings.Contains(r.ScopeText, "Sales (Sales EMEA) · "+emea.ID[:8]) {
		t.Errorf("scope text %q does not name the group fully", r.ScopeText)
	}
	e.waitCard(r, "members of group *Sales (Sales EMEA) · "+emea.ID[:8])
}

// /signout deny takes a reason; the card shows it, and the requester is told privately when their request is
// approved, denied or expires.
func TestDenyReasonAndRequesterNotices(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{Expiry: 2 * time.Second}})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.slash(bob, "deny "+r.ID+" wrong group: use Sales EMEA")
	r = e.waitStatus(r.ID, store.StatusDenied, 10*time.Second)
	if r.DecisionNote != "wrong group: use Sales EMEA" {
		t.Errorf("decision note = %q", r.DecisionNote)
	}
	e.waitCard(r, "Denied by <@"+bob+">", "wrong group: use Sales EMEA", "Was to be signed out")
	waitFor(t, "alice told of the deny", 5*time.Second, func() bool {
		return strings.Contains(e.allEphemerals(alice), "Your sign-out request "+r.ID+" was denied by <@"+bob+">: “wrong group: use Sales EMEA”")
	})

	e.slash(alice, "user testy@contoso.com")
	var approved store.Request
	for _, x := range e.requests() {
		if x.ID != r.ID {
			approved = x
		}
	}
	e.click(bob, "approve", approved)
	waitFor(t, "alice told of the approval", 10*time.Second, func() bool {
		return strings.Contains(e.allEphemerals(alice), "Your sign-out request "+approved.ID+" was approved by <@"+bob+">")
	})

	e.slash(alice, "user tessa.test@contoso.com")
	var expiring store.Request
	for _, x := range e.requests() {
		if x.ID != r.ID && x.ID != approved.ID {
			expiring = x
		}
	}
	e.waitStatus(expiring.ID, store.StatusExpired, 10*time.Second)
	waitFor(t, "alice told of the expiry", 10*time.Second, func() bool {
		return strings.Contains(e.allEphemerals(alice), "Your sign-out request "+expiring.ID+" expired at")
	})
	if strings.Contains(e.allEphemerals(carol), "Your sign-out request") {
		t.Error("someone other than the requester was told")
	}
}

// /signout status lists every request that touched the user, most recent first, and what is still pending.
func TestStatusListsEveryRequest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	first := e.onlyRequest()
	e.slash(bob, "deny "+first.ID)
	e.waitStatus(first.ID, store.StatusDenied, 10*time.Second)
	time.Sleep(10 * time.Millisecond) // distinct creation times
	e.slash(alice, "group Test")
	var second store.Request
	for _, x := range e.requests() {
		if x.ID != first.ID {
			second = x
		}
	}
	e.slash(carol, "status lester@contoso.com")
	got := e.lastEphemeral(carol)
	i, j := strings.Index(got, second.ID), strings.Index(got, first.ID)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("status does not list both requests, most recent first:\n%s", got)
	}
	for _, w := range []string{"(denied)", "(pending)", "Still pending", second.ID + " waits for approval until"} {
		if !strings.Contains(got, w) {
			t.Errorf("status lacks %q:\n%s", w, got)
		}
	}
	e.slash(carol, "help frobnicate")
	if got := e.lastEphemeral(carol); !strings.Contains(got, `There is no form called "frobnicate"`) {
		t.Errorf("help for an unknown form: %q", got)
	}
}
