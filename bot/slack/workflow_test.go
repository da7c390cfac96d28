package slack_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

func TestStoryOneUser(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, `user lester@contoso.com --reason "tenant migration cutover"`)
	r := e.onlyRequest()
	if r.Status != store.StatusPending || r.Requester.ID != alice || r.Reason != "tenant migration cutover" {
		t.Fatalf("request = %+v", r)
	}
	card := e.card(r).AllText()
	for _, want := range []string{"Lester Tester", "lester@contoso.com", "tenant migration cutover", "1 user", "Approve", "Deny",
		"Expires", "UTC"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	// Times show in the viewer's zone: Slack's date token for each viewer (bot.Time), or the requester's zone
	// (CET for Alice in Berlin) where the core formats the time itself.
	if !strings.Contains(card, "<!date^") && !strings.Contains(card, "CET") {
		t.Errorf("card shows no time in a viewer's zone:\n%s", card)
	}

	// Eve is no admin, Alice asked: both are refused privately and nothing changes.
	e.click(eve, "approve", r)
	if got := e.lastEphemeral(eve); !strings.Contains(got, "Only configured sign-out admins") {
		t.Errorf("eve was told %q", got)
	}
	e.click(alice, "approve", r)
	if got := e.lastEphemeral(alice); !strings.Contains(got, "cannot approve it: a second admin must") {
		t.Errorf("alice was told %q", got)
	}
	if got := e.request(r.ID); got.Status != store.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("after refused clicks: %s with %d approvals", got.Status, len(got.Approvals))
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before approval", n)
	}

	e.click(bob, "approve", r)
	r = e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	tg := e.targets(r.ID)
	if len(tg) != 1 || tg[0].Status != store.TargetTokensExpired || tg[0].ConfirmedAt.IsZero() ||
		tg[0].SessionsValidFrom.Before(tg[0].GraphRevokedAt) {
		t.Fatalf("target = %+v", tg)
	}
	if got := revokedUPNs(e.tenant); got[graphtest.UPNLester] != 1 || len(got) != 1 {
		t.Errorf("revocations = %v; want lester once", got)
	}
	e.waitThread(r, "Sessions invalid, confirmed from Graph", "Lester Tester", "Every revocation has been sent",
		"Access tokens expired — every client is signed out")
	card = e.waitCard(r, "— done: every client is signed out", "Revoked 1/1", "Approved by <@"+bob+">", "Access tokens expired at")
	if hasButtons(e.card(r)) {
		t.Errorf("final card still has buttons:\n%s", card)
	}
	if top := e.slack.TopLevel(channel); len(top) != 1 {
		t.Errorf("%d top-level messages; progress must edit the card in place", len(top))
	}
	// The audit log tells the whole story, in order, with who did what.
	events, err := e.st.Events(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var story []string
	for _, ev := range events {
		story = append(story, ev.Type+":"+ev.Actor.ID)
	}
	want := []string{"requested:" + alice, "refused:" + eve, "refused:" + alice, "approved:" + bob, "quorum:" + bob, "started:",
		"revoked:" + tg[0].UserID, "deadline:", "estimate:", "sessions_invalid:" + tg[0].UserID, "tokens_expired:", "done:"}
	if strings.Join(story, " ") != strings.Join(want, " ") {
		t.Errorf("audit log:\n got %v\nwant %v", story, want)
	}
	if e.card(r).Edits < 2 {
		t.Errorf("card edited %d times", e.card(r).Edits)
	}
}

func TestStoryGroupTest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "group Test")
	r := e.onlyRequest()
	tg := e.targets(r.ID)
	byUPN := map[string]store.Target{}
	for _, x := range tg {
		byUPN[strings.ToLower(x.UPN)] = x
	}
	if len(tg) != len(graphtest.TestGroupMemberUPNs()) {
		t.Fatalf("%d targets, want %d", len(tg), len(graphtest.TestGroupMemberUPNs()))
	}
	if x := byUPN[graphtest.UPNBreakGlass]; x.Status != store.TargetExcluded || !strings.Contains(x.Detail, "protected") {
		t.Errorf("break-glass target = %+v", x)
	}
	// A disabled account is signed out too: enabled again, it would get its old refresh tokens back.
	if x := byUPN[graphtest.UPNDana]; x.Status != store.TargetPending || !x.Disabled {
		t.Errorf("disabled target = %+v", x)
	}
	card := e.card(r).AllText()
	for _, want := range []string{"members of group *Test (", "Excluded", "Break Glass Admin", "protected account", "Dana Disabled Tester", "(disabled: revoked too", "guest"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	e.click(bob, "approve", r)
	r = e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	revoked := revokedUPNs(e.tenant)
	if revoked[graphtest.UPNBreakGlass] != 0 {
		t.Errorf("protected account reached Graph: %v", revoked)
	}
	for _, x := range e.targets(r.ID) {
		upn := strings.ToLower(x.UPN)
		switch upn {
		case graphtest.UPNBreakGlass:
			if x.Status != store.TargetExcluded {
				t.Errorf("%s: %s", upn, x.Status)
			}
		case strings.ToLower(graphtest.UPNJaneGuest):
			if x.Status != store.TargetGuest || !strings.Contains(x.Detail, "home tenant") {
				t.Errorf("guest: %+v", x)
			}
		default:
			if x.Status != store.TargetTokensExpired || revoked[upn] != 1 {
				t.Errorf("%s: %s, revoked %d times", upn, x.Status, revoked[upn])
			}
		}
	}
}

func TestQuorumNeedsTwoApprovers(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{QuorumAbove: 3}})
	e.slash(alice, "group Test")
	r := e.onlyRequest()
	if r.RequiredApprovals != 2 {
		t.Fatalf("RequiredApprovals = %d, want 2 above the threshold", r.RequiredApprovals)
	}
	e.click(bob, "approve", r)
	if got := e.request(r.ID); got.Status != store.StatusPending || len(got.Approvals) != 1 {
		t.Fatalf("after one approval: %s, %d approvals", got.Status, len(got.Approvals))
	}
	e.click(bob, "approve", r)
	if got := e.lastEphemeral(bob); !strings.Contains(got, "already approved") {
		t.Errorf("bob's second click told %q", got)
	}
	e.waitCard(r, "approved so far by <@"+bob+">")
	e.click(carol, "approve", r)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	if got := e.request(r.ID); len(got.Approvals) != 2 {
		t.Errorf("%d approvals recorded", len(got.Approvals))
	}
}

func TestDeny(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.clickDenyWithReason(bob, r, "")
	r = e.request(r.ID)
	if r.Status != store.StatusDenied || r.DecidedBy.ID != bob {
		t.Fatalf("after deny: %+v", r)
	}
	if card := e.waitCard(r, "Denied by <@"+bob+">"); hasButtons(e.card(r)) {
		t.Errorf("card after deny still has buttons:\n%s", card)
	}
	e.click(carol, "approve", r)
	if got := e.lastEphemeral(carol); !strings.Contains(got, "already denied") {
		t.Errorf("approving a denied request told %q", got)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Errorf("%d revocations after deny", n)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{Expiry: 500 * time.Millisecond}})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	r = e.waitStatus(r.ID, store.StatusExpired, 5*time.Second)
	waitFor(t, "the card to say expired", 5*time.Second, func() bool { return strings.Contains(e.card(r).AllText(), "Expired at") })
	e.click(bob, "approve", r)
	if got := e.lastEphemeral(bob); !strings.Contains(got, "already expired") {
		t.Errorf("approving an expired request told %q", got)
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Errorf("%d revocations after expiry", n)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.slash(eve, "cancel "+r.ID)
	if got := e.request(r.ID); got.Status != store.StatusPending {
		t.Fatalf("a non-admin cancelled: %s", got.Status)
	}
	e.slash(alice, "cancel "+r.ID)
	if got := e.request(r.ID); got.Status != store.StatusCancelled {
		t.Fatalf("after cancel: %s", got.Status)
	}
	if !strings.Contains(e.lastEphemeral(alice), "cancelled") {
		t.Errorf("alice was told %q", e.lastEphemeral(alice))
	}
	e.waitCard(r, "Cancelled by <@"+alice+">")
}

func TestDoubleClickAndRacingApproversActOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "group Test")
	r := e.onlyRequest()
	var wg sync.WaitGroup
	for _, who := range []string{bob, bob, carol, carol, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := interactionBody(who, "approve", r.ID, r.Message.ID, e.nextTrigger())
			ts := time.Now().Unix()
			e.postSigned("/slack/interactions", body, ts, sign(ts, body))
		}()
	}
	wg.Wait()
	e.handler.Wait()
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	for upn, n := range revokedUPNs(e.tenant) {
		if n != 1 {
			t.Errorf("%s revoked %d times", upn, n)
		}
	}
	if n := e.countEvents(r.ID, "started"); n != 1 {
		t.Errorf("run started %d times", n)
	}
}

func TestSameCommandDeliveredTwiceCreatesOneRequest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slashWithTrigger(alice, "user lester@contoso.com", "trig.same")
	e.slashWithTrigger(alice, "user lester@contoso.com", "trig.same")
	e.onlyRequest()
	if top := e.slack.TopLevel(channel); len(top) != 1 {
		t.Errorf("%d cards posted", len(top))
	}
}

func TestBadSignatureRefusedAndNothingStored(t *testing.T) {
	e := newEnv(t, envOpts{})
	body := slashBody(alice, "user lester@contoso.com", "trig.x")
	now := time.Now().Unix()
	cases := []struct {
		name string
		ts   int64
		sig  string
	}{
		{"no signature", now, ""},
		{"wrong secret", now, "v0=" + strings.Repeat("ab", 32)},
		{"signed other body", now, sign(now, body+"&x=1")},
		{"stale timestamp", now - 600, sign(now-600, body)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/slack/commands", "/slack/interactions"} {
				if code, _ := e.postSigned(path, body, c.ts, c.sig); code != http.StatusUnauthorized {
					t.Errorf("%s: %d, want 401", path, code)
				}
			}
		})
	}
	e.handler.Wait()
	reqs, err := e.st.ListRequests(context.Background(), store.Filter{})
	if err != nil || len(reqs) != 0 {
		t.Errorf("store has %d requests after refused requests (%v)", len(reqs), err)
	}
	if n := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.postEphemeral"); n != 0 {
		t.Errorf("bot spoke %d times", n)
	}
}

func TestUserDeletedBetweenPreviewAndApprovalFails(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com testy@contoso.com")
	r := e.onlyRequest()
	if !e.tenant.DeleteUser(graphtest.UPNTesty) {
		t.Fatal("could not delete testy")
	}
	e.click(bob, "approve", r)
	r = e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
	for _, x := range e.targets(r.ID) {
		switch strings.ToLower(x.UPN) {
		case graphtest.UPNTesty:
			if x.Status != store.TargetFailed || !strings.Contains(x.Detail, "not found") {
				t.Errorf("deleted user: %+v", x)
			}
		case graphtest.UPNLester:
			if x.Status != store.TargetTokensExpired {
				t.Errorf("lester: %s", x.Status)
			}
		}
	}
	e.waitThread(r, "could not be signed out", "not found")
	e.waitCard(r, "1 failed", "— done")
}

func TestProtectedAccountNamedDirectlyIsNeverRequested(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user breakglass@contoso.com")
	reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
	if len(reqs) != 0 {
		t.Fatalf("a request was created for a protected account")
	}
	if got := e.lastEphemeral(alice); !strings.Contains(got, "Nobody to sign out") || !strings.Contains(got, "protected") {
		t.Errorf("alice was told %q", got)
	}
}

func TestNonAdminCannotRequest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(eve, "group Test")
	reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
	if len(reqs) != 0 {
		t.Fatal("a non-admin created a request")
	}
	if got := e.lastEphemeral(eve); !strings.Contains(got, "Only configured sign-out admins") {
		t.Errorf("eve was told %q", got)
	}
}

func TestHelpStatusAndBadInput(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "help")
	if got := e.lastEphemeral(alice); !strings.Contains(got, "group") || !strings.Contains(got, "match") {
		t.Errorf("help: %q", got)
	}
	e.slash(alice, "gruop Test")
	if got := e.lastEphemeral(alice); !strings.Contains(got, `Did you mean "group"`) {
		t.Errorf("typo: %q", got)
	}
	e.slash(alice, "group Sales")
	if got := e.lastEphemeral(alice); !strings.Contains(got, "2 groups match Sales") {
		t.Errorf("ambiguous group: %q", got)
	}
	e.slash(alice, "status lester@contoso.com")
	if got := e.lastEphemeral(alice); !strings.Contains(got, "Lester Tester") || !strings.Contains(got, "never been asked to sign them out") ||
		!strings.Contains(got, "UTC") {
		t.Errorf("status: %q", got)
	}
	reqs, _ := e.st.ListRequests(context.Background(), store.Filter{})
	if len(reqs) != 0 {
		t.Errorf("bad input created %d requests", len(reqs))
	}
}

// A card that cannot be posted (the bot is not in the channel) withdraws the request and tells the requester.
func TestCardThatCannotBePostedWithdrawsTheRequest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slack.RemoveBotFrom(channel)
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	if r.Status != store.StatusCancelled || r.Message.ID != "" {
		t.Fatalf("request = %s with message %+v; want cancelled", r.Status, r.Message)
	}
	if got := e.lastEphemeral(alice); !strings.Contains(got, "not_in_channel") || !strings.Contains(got, "/invite @signoutbot") ||
		!strings.Contains(got, "nobody will be signed out") {
		t.Errorf("alice was told %q", got)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Errorf("%d revocations", n)
	}
}
