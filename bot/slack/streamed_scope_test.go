package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// TestLargeScopeStreamedIntoTheStore requests a group larger than one page of Graph's (999 users), whose pages
// repeat users (a nested group) and hold a protected account, a disabled one and a guest: the scope is streamed
// into the store page by page, and the request must come out as a small one does — everyone once, the protected
// account excluded, the disabled one and the guest marked — and only then be approvable.
func TestLargeScopeStreamedIntoTheStore(t *testing.T) {
	o := envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 2300}, writeRate: 400}
	e := newEnv(t, o)
	byUPN := map[string]string{}
	var wave []string
	for _, u := range e.tenant.Users() {
		byUPN[strings.ToLower(u.UserPrincipalName)] = u.ID
		if strings.HasPrefix(u.DisplayName, "Wave User") {
			wave = append(wave, u.ID)
		}
	}
	big := e.tenant.FindGroups(graphtest.GroupBig)
	if len(big) != 1 || len(wave) != 2300 {
		t.Fatalf("tenant: %d big groups, %d wave users", len(big), len(wave))
	}
	// 1,500 wave users directly, all 2,300 through the nested group again, and the sample accounts.
	members := append([]string{byUPN[graphtest.UPNBreakGlass], byUPN[graphtest.UPNDana], byUPN[strings.ToLower(graphtest.UPNJaneGuest)]},
		wave[:1500]...)
	members = append(members, big[0].ID)
	e.tenant.AddGroup(graphtest.Group{DisplayName: "Streamed Wave", MemberIDs: members})

	e.slash(alice, `group Streamed Wave --reason "cutover"`)
	r := e.onlyRequest()
	if r.Status != store.StatusPending || r.RequiredApprovals != 2 {
		t.Fatalf("request %s, %d approvals needed; want pending, 2", r.Status, r.RequiredApprovals)
	}
	targets := e.targets(r.ID)
	seen := map[string]bool{}
	for _, x := range targets {
		if seen[x.UserID] {
			t.Errorf("%s is in scope twice", x.UPN)
		}
		seen[x.UserID] = true
		switch strings.ToLower(x.UPN) {
		case graphtest.UPNBreakGlass:
			if x.Status != store.TargetExcluded {
				t.Errorf("the protected account is %s, want excluded", x.Status)
			}
		case graphtest.UPNDana:
			if !x.Disabled || x.Status != store.TargetPending {
				t.Errorf("the disabled account: %+v", x)
			}
		case strings.ToLower(graphtest.UPNJaneGuest):
			if !x.Guest {
				t.Errorf("the guest is not marked: %+v", x)
			}
		}
	}
	if len(targets) != 2303 {
		t.Fatalf("%d targets, want 2,303 (2,300 wave users, the protected account, the disabled one, the guest)", len(targets))
	}
	card := e.card(r).AllText()
	for _, want := range []string{"*2,301 users* will be signed out", "1 guest", "1 excluded", "Break Glass Admin", "Approve"} {
		if !strings.Contains(strings.ReplaceAll(card, "2301", "2,301"), want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	e.click(bob, "approve", r)
	e.click(carol, "approve", r)
	e.waitCard(r, "Revoked 2302/2302")
}

// A request whose scope was still being read when the bot stopped holds part of its scope: the next start
// withdraws it, and nobody can approve it before or after.
func TestRestartWithdrawsARequestStillResolving(t *testing.T) {
	o := envOpts{}
	e := newEnv(t, o)
	now := time.Now()
	req := resolvingRequest(t, e, "RHALF01", now)
	// Nobody may approve it: the approval rules take pending requests only.
	bobAdmin := approvals.Principal{Actor: store.Actor{Platform: "slack", ID: bob, Name: "bob", Entra: "bob-entra"}, Admin: true}
	if _, _, err := approvals.Approve(req, bobAdmin, now); err == nil {
		t.Fatal("a request still resolving could be approved")
	}
	e.stop()
	e.start(o)
	e.waitStatus(req.ID, store.StatusCancelled, 10*time.Second)
	if n := e.countEvents(req.ID, "cancelled"); n != 1 {
		t.Errorf("%d cancelled events, want 1", n)
	}
}

// Several replicas: one starting while another reads a scope leaves that request alone (its reader holds the
// request's lease); when the reader dies, its lease lapses and the request is withdrawn, with a word to the
// requester, by whichever replica's timer looks next.
func TestReplicaStartLeavesAnotherReplicasScopeAlone(t *testing.T) {
	o := envOpts{}
	e := newEnv(t, o)
	ctx := context.Background()
	now := time.Now()
	req := resolvingRequest(t, e, "RREAD01", now)
	// The other replica reading it: its lease, renewed until it "dies" below.
	const ttl = 2 * time.Second
	if ok, err := e.st.Claim(ctx, "resolving:"+req.ID, "other-replica", time.Now(), ttl); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	e.stop()
	e.start(o) // this replica starts, and Recover looks at the request
	time.Sleep(300 * time.Millisecond)
	if got, _ := e.st.GetRequest(ctx, req.ID); got.Status != store.StatusResolving {
		t.Fatalf("a replica's start withdrew the request another replica was reading: %s", got.Status)
	}
	due, err := e.st.DueTimers(ctx, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var check store.Timer
	for _, tm := range due {
		if tm.Kind == "resolving" && tm.RequestID == req.ID {
			check = tm
		}
	}
	if check.Due.IsZero() {
		t.Fatalf("no timer to look at the request again: %v", due)
	}
	// The reader dies: its lease lapses, and the timer (brought forward here) withdraws the request.
	time.Sleep(ttl)
	if err := e.st.SetTimer(ctx, store.Timer{Kind: "resolving", RequestID: req.ID, Due: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(req.ID, store.StatusCancelled, 10*time.Second)
	if n := e.countEvents(req.ID, "cancelled"); n != 1 {
		t.Errorf("%d cancelled events, want 1", n)
	}
}

// resolvingRequest stores a request whose scope is still being read (one user of it so far), as a bot that
// stopped, or another replica still reading, leaves it.
func resolvingRequest(t *testing.T, e *env, id string, now time.Time) store.Request {
	t.Helper()
	req, err := e.st.CreateRequest(context.Background(), store.Request{ID: id, Status: store.StatusResolving,
		Requester: store.Actor{Platform: "slack", ID: alice, Name: "alice"}, ScopeKind: "group", ScopeText: graphtest.GroupBig,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), RequiredApprovals: 1, Conversation: store.MessageRef{Platform: "slack", Channel: channel}},
		[]store.Target{{Seq: 0, UserID: "u1", UPN: "u1@contoso.com", Status: store.TargetPending}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return req
}
