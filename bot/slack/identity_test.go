package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

const (
	alice2 = "UALICE2" // a second Slack account carrying Alice's UPN
	bob2   = "UBOB2"   // a second Slack account carrying Bob's UPN
)

// Four-eyes binds to people, not chat accounts: a second Slack account with the requester's UPN cannot approve,
// and a second account of an approver does not count twice towards a quorum.
func TestOnePersonWithTwoSlackAccountsIsOnePerson(t *testing.T) {
	e := newEnv(t, envOpts{adminIDs: []string{alice, alice2, bob, bob2, carol}, policy: approvals.Policy{QuorumAbove: 1},
		setup: func(_ *graphtest.Server, fs *fakeslack.Server) {
			fs.AddUser(fakeslack.User{ID: alice2, Name: "alice.alt", RealName: "Alice (alt)", Email: "alice@contoso.com", TZ: "Europe/Berlin"})
			fs.AddUser(fakeslack.User{ID: bob2, Name: "bob.alt", RealName: "Bob (alt)", Email: "BOB@contoso.com", TZ: "America/New_York"})
		}})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.click(alice2, "approve", r)
	if got := e.lastEphemeral(alice2); !strings.Contains(got, "cannot approve it") {
		t.Errorf("alice's second account was told %q", got)
	}
	e.slash(alice, "group Test") // above the quorum threshold of 1: two distinct approvers
	var group store.Request
	reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
	for _, x := range reqs {
		if x.ScopeKind == "group" {
			group = x
		}
	}
	if group.RequiredApprovals != 2 {
		t.Fatalf("group request needs %d approvals", group.RequiredApprovals)
	}
	e.click(bob, "approve", group)
	e.click(bob2, "approve", group)
	if got := e.lastEphemeral(bob2); !strings.Contains(got, "already approved") {
		t.Errorf("bob's second account was told %q", got)
	}
	time.Sleep(200 * time.Millisecond)
	if got := e.request(group.ID); got.Status != store.StatusPending || len(got.Approvals) != 1 {
		t.Fatalf("after one person's two approvals: %s with %d approvals", got.Status, len(got.Approvals))
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before a second person approved", n)
	}
	e.click(carol, "approve", group)
	e.waitStatus(group.ID, store.StatusDone, 20*time.Second)
	// Every approval in the audit log names the Entra user behind the click.
	events, _ := e.st.Events(context.Background(), group.ID)
	for _, ev := range events {
		if ev.Type == "approved" && ev.Actor.Entra == "" {
			t.Errorf("approval event without the Entra user: %+v", ev)
		}
	}
}

// A Slack profile e-mail binds an account to an Entra user only when it is that user's UPN (not a mail alias or
// proxy address, which are easier to give oneself) and the user is enabled; an explicit mapping works for
// workspaces without SSO. An admin the bot cannot bind is refused, and told why.
func TestAdminIdentityIsTheUPNOfAnEnabledUser(t *testing.T) {
	const frank, gina, hal = "UFRANK", "UGINA", "UHAL"
	e := newEnv(t, envOpts{adminIDs: []string{alice, bob, frank, gina, hal}, identities: map[string]string{hal: "megan@contoso.com"},
		setup: func(_ *graphtest.Server, fs *fakeslack.Server) {
			fs.AddUser(fakeslack.User{ID: frank, Name: "frank", Email: "qob@contoso.com", TZ: "UTC"}) // Quincy's smtp alias
			fs.AddUser(fakeslack.User{ID: gina, Name: "gina", Email: graphtest.UPNDana, TZ: "UTC"})   // a disabled account
			fs.AddUser(fakeslack.User{ID: hal, Name: "hal", TZ: "UTC"})                               // no e-mail, but mapped
		}})
	for user, want := range map[string]string{frank: "is not the user principal name", gina: "is disabled"} {
		e.slash(user, "user lester@contoso.com")
		if got := e.lastEphemeral(user); !strings.Contains(got, want) || !strings.Contains(got, "SIGNOUTBOT_IDENTITIES") {
			t.Errorf("%s was told %q, want %q", user, got, want)
		}
	}
	if reqs, _ := e.st.ListRequests(context.Background(), store.Filter{}); len(reqs) != 0 {
		t.Fatalf("%d requests from admins without an Entra identity", len(reqs))
	}
	e.slash(hal, "user lester@contoso.com")
	r := e.onlyRequest()
	if r.Requester.Entra == "" {
		t.Fatalf("mapped requester has no Entra user: %+v", r.Requester)
	}
	megan, _ := e.tenant.User(graphtest.UPNMegan)
	if r.Requester.Entra != megan.ID {
		t.Errorf("hal bound to %s, want Megan's %s", r.Requester.Entra, megan.ID)
	}
}

// A crash between recording the last approval and moving the request to approved must not leave it pending for
// ever: at start-up the bot settles the quorum and runs it.
func TestRecoverySettlesACompleteQuorum(t *testing.T) {
	o := envOpts{}
	e := newEnv(t, o)
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	bobUser, _ := e.tenant.User("bob@contoso.com")
	// What the approve handler stores first; the crash comes before the request moves to approved.
	bobActor := store.Actor{Platform: "slack", ID: bob, Name: "bob", Entra: bobUser.ID}
	if err := e.st.AddApproval(context.Background(), r.ID, store.Approval{Actor: bobActor, At: time.Now()},
		store.Event{RequestID: r.ID, Actor: bobActor, Type: "approved", Detail: "approved by bob"}); err != nil {
		t.Fatal(err)
	}
	if got := e.request(r.ID); got.Status != store.StatusPending {
		t.Fatalf("before restart: %s", got.Status)
	}
	e.stop()
	e.start(o)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
}

// A slow Slack never holds up Graph work: card edits run beside the runner, so every user is revoked and
// confirmed while Slack still sits on the first edit.
func TestSlowSlackDoesNotStallRevocation(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "group Test")
	r := e.onlyRequest()
	e.click(bob, "approve", r)
	waitFor(t, "the approval", 10*time.Second, func() bool { return e.request(r.ID).Status != store.StatusPending })
	e.slack.SetDelay(4 * time.Second)
	waitFor(t, "every user confirmed from Graph", 10*time.Second, func() bool {
		for _, x := range e.targets(r.ID) {
			if x.Status == store.TargetPending || x.Status == store.TargetRevoked {
				return false
			}
		}
		return true
	})
	if card := e.card(r).AllText(); strings.Contains(card, "sessions invalid (confirmed from Graph) 7/7") {
		t.Fatalf("the card already shows the end: Slack was not slow enough for the test to mean anything:\n%s", card)
	}
	e.slack.SetDelay(0)
	e.waitCard(r, "sessions invalid (confirmed from Graph) 7/7")
}
