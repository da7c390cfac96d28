package teams_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// TestStoryOneUser is the whole story in a Teams channel: an admin @mentions the bot, the card is posted as an
// Adaptive Card in a new thread, refused clicks are answered on the card, a second admin approves through an
// adaptiveCard/action invoke whose answer is the refreshed card, the card is edited in place as the run
// progresses, and the news (down to "access tokens expired") arrive as replies in the card's thread.
func TestStoryOneUser(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob, eve := e.p("alice"), e.p("bob"), e.p("eve")
	e.command(alice, `signout user lester@contoso.com --reason "tenant migration cutover"`)
	r := e.onlyRequest()
	if r.Status != store.StatusPending || r.Requester.ID != alice.id || r.Requester.Entra != alice.entra || r.Reason != "tenant migration cutover" {
		t.Fatalf("request = %+v", r)
	}

	// The card: a new post in the channel (a thread of its own), an Adaptive Card 1.5 with Universal Actions.
	top := e.fc.TopLevel(channelConv)
	if len(top) != 1 || top[0].ID != r.Message.ID {
		t.Fatalf("channel posts = %+v; want the card alone, as a new post (ref %+v)", top, r.Message)
	}
	m := e.card(r)
	if len(m.Activity.Attachments) != 1 || m.Activity.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("card attachments = %+v", m.Activity.Attachments)
	}
	card := m.Card()
	if card["version"] != "1.5" || card["type"] != "AdaptiveCard" {
		t.Errorf("card version/type = %v/%v", card["version"], card["type"])
	}
	if types := actionTypes(card); !slices.Contains(types, "Action.Execute") || !slices.Contains(types, "Action.Submit") {
		t.Errorf("card actions %v: want Action.Execute with an Action.Submit fallback", types)
	}
	if !strings.Contains(m.Activity.Summary, "Sign-out request "+r.ID) {
		t.Errorf("summary = %q", m.Activity.Summary)
	}
	text := m.AllText()
	for _, want := range []string{"Lester Tester", "lester@contoso.com", "tenant migration cutover", "**Alice Admin**", "1 user",
		"Approve", "Deny", "Reason (optional)", "{{DATE(", "UTC)"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}

	// Refused clicks are answered on the card, to the clicker; nothing changes.
	ans := e.invoke(eve, "approve", r, "")
	if ans.Type != "application/vnd.microsoft.card.adaptive" || !strings.Contains(ans.text(), "Only configured sign-out admins") ||
		!strings.Contains(ans.text(), "Approve") {
		t.Errorf("eve's answer = %s %s", ans.Type, ans.text())
	}
	ans = e.invoke(alice, "approve", r, "")
	if !strings.Contains(ans.text(), "cannot approve it: a second admin must") {
		t.Errorf("alice's answer = %s", ans.text())
	}
	if got := e.request(r.ID); got.Status != store.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("after refused clicks: %s with %d approvals", got.Status, len(got.Approvals))
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before approval", n)
	}

	// Bob approves: the answer is the card as it now stands.
	ans = e.invoke(bob, "approve", r, "")
	if ans.StatusCode != 200 || ans.Type != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("bob's answer = %d %s", ans.StatusCode, ans.Type)
	}
	if at := ans.text(); !strings.Contains(at, "Approved by **Bob Builder**") || strings.Contains(at, "Reason (optional)") {
		t.Errorf("bob's answer is not the approved card:\n%s", at)
	}
	e.waitPrivate(alice, "was approved by **Bob Builder**")

	r = e.waitStatus(r.ID, store.StatusDone)
	tg := e.targets(r.ID)
	if len(tg) != 1 || tg[0].Status != store.TargetTokensExpired {
		t.Fatalf("target = %+v", tg)
	}
	if got := revokedUPNs(e.tenant); got[graphtest.UPNLester] != 1 || len(got) != 1 {
		t.Errorf("revocations = %v; want lester once", got)
	}
	e.waitThread(r, "Sessions invalid, confirmed from Graph", "Lester Tester", "Every revocation has been sent",
		"Access tokens expired — every client is signed out")
	final := e.waitCard(r, "done: every client is signed out", "Revoked 1/1", "Approved by **Bob Builder**")
	if types := actionTypes(e.card(r).Card()); len(types) != 0 {
		t.Errorf("final card still has actions %v:\n%s", types, final)
	}
	if top := e.fc.TopLevel(channelConv); len(top) != 1 {
		t.Errorf("%d posts in the channel; progress must edit the card in place and news go to its thread", len(top))
	}
	if c := e.card(r); c.Edits < 2 {
		t.Errorf("card edited %d times", c.Edits)
	}
	// Edits were PUTs to the card's activity; the refusals went to the audit log.
	puts := 0
	for _, c := range e.fc.Calls() {
		if c.Method == "PUT" && strings.HasSuffix(c.Path, "/activities/"+r.Message.ID) {
			puts++
		}
	}
	if puts < 2 {
		t.Errorf("%d PUTs of the card", puts)
	}
	if n := countEvents(t, e.st, r.ID, "refused"); n != 2 {
		t.Errorf("%d refusals in the audit log, want 2", n)
	}
}

// TestStoryGroupTest runs group Test: nested members, the protected account excluded and never revoked, a
// disabled account revoked too.
func TestStoryGroupTest(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.command(e.p("alice"), "signout group Test")
	r := e.onlyRequest()
	if len(e.targets(r.ID)) != len(graphtest.TestGroupMemberUPNs()) {
		t.Fatalf("%d targets, want %d", len(e.targets(r.ID)), len(graphtest.TestGroupMemberUPNs()))
	}
	text := e.card(r).AllText()
	for _, want := range []string{"members of group **Test", "Excluded", "Break Glass Admin", "Dana Disabled Tester", "guest"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	if ans := e.invoke(e.p("carol"), "approve", r, ""); !strings.Contains(ans.text(), "Approved by **Carol Checker**") {
		t.Errorf("carol's answer:\n%s", ans.text())
	}
	r = e.waitStatus(r.ID, store.StatusDone)
	revoked := revokedUPNs(e.tenant)
	if revoked[graphtest.UPNBreakGlass] != 0 {
		t.Errorf("protected account reached Graph: %v", revoked)
	}
	if revoked[graphtest.UPNDana] != 1 {
		t.Errorf("disabled account not revoked: %v", revoked)
	}
	e.waitThread(r, "Access tokens expired")
	e.waitCard(r, "done")
}

// TestRefusedClicksRevokeNobody: self-approval and a non-admin's approval are refused, on the card the clicker
// sees, and written to the audit log; nothing is approved and nobody revoked.
func TestRefusedClicksRevokeNobody(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.command(e.p("alice"), "user lester@contoso.com")
	r := e.onlyRequest()
	for _, tc := range []struct {
		who, verb, want string
	}{
		{"alice", "approve", "You asked for request " + r.ID + ", so you cannot approve it"},
		{"eve", "approve", "Only configured sign-out admins can approve"},
		{"eve", "deny", "Only configured sign-out admins can deny"},
	} {
		t.Run(tc.who+"-"+tc.verb, func(t *testing.T) {
			ans := e.invoke(e.p(tc.who), tc.verb, r, "")
			if ans.Type != "application/vnd.microsoft.card.adaptive" || !strings.Contains(ans.text(), "⛔ "+tc.want) {
				t.Errorf("answer = %s:\n%s", ans.Type, ans.text())
			}
			// The refreshed card is still the pending one, buttons and all.
			if !strings.Contains(ans.text(), "waiting for approval") || !strings.Contains(ans.text(), "Approve") {
				t.Errorf("answer is not the pending card:\n%s", ans.text())
			}
		})
	}
	if got := e.request(r.ID); got.Status != store.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("request %s with %d approvals", got.Status, len(got.Approvals))
	}
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Errorf("%d revocations", n)
	}
	if n := countEvents(t, e.st, r.ID, "refused"); n != 3 {
		t.Errorf("%d refusals in the audit log, want 3", n)
	}
}

// TestDenyWithReason: Deny's inline input sends the reason with the invoke; it is stored and shown as typed.
func TestDenyWithReason(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.p("alice"), e.p("bob")
	e.command(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	reason := "not *approved* [by](https://evil.example) the <at>CAB</at>"
	ans := e.invoke(bob, "deny", r, reason)
	r = e.request(r.ID)
	if r.Status != store.StatusDenied || r.DecisionNote != reason {
		t.Fatalf("request %s, note %q", r.Status, r.DecisionNote)
	}
	escaped := `not \*approved\* \[by\](https:` + "\u2060" + `//evil.example) the \<at\>CAB\</at\>`
	if !strings.Contains(ans.text(), "Denied by **Bob Builder**") || !strings.Contains(ans.text(), escaped) {
		t.Errorf("answer does not show the denial with the reason as typed:\n%s", ans.text())
	}
	e.waitCard(r, "denied", escaped)
	e.waitPrivate(alice, "was denied by **Bob Builder**", escaped)
	if n := len(e.tenant.Revocations()); n != 0 {
		t.Errorf("%d revocations", n)
	}
}

// TestActionSubmitFallback: clients without Universal Actions send the button's Action.Submit data as a message;
// it acts like the invoke, with no invoke answer, and a refusal goes to the clicker's 1:1 chat.
func TestActionSubmitFallback(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice, bob := e.p("alice"), e.p("bob")
	e.command(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.submit(alice, "approve", r, "")
	e.waitPrivate(alice, "cannot approve it: a second admin must")
	e.submit(bob, "approve", r, "")
	r = e.request(r.ID)
	if r.Status == store.StatusPending || len(r.Approvals) != 1 || r.Approvals[0].Actor.ID != bob.id || r.Approvals[0].Actor.Entra != bob.entra {
		t.Errorf("approvals = %+v", r.Approvals)
	}
	e.waitCard(r, "Approved by **Bob Builder**")
	e.waitThread(r, "Every revocation has been sent")

	e.command(alice, "user lester@contoso.com")
	var second store.Request
	for _, x := range e.requests() {
		if x.ID != r.ID {
			second = e.request(x.ID)
		}
	}
	e.submit(bob, "deny", second, "wrong ticket")
	if got := e.request(second.ID); got.Status != store.StatusDenied || got.DecisionNote != "wrong ticket" {
		t.Errorf("second request %s, note %q", got.Status, got.DecisionNote)
	}
}

// TestPrivateReplies: what the core says to one person goes to their 1:1 chat, opened once with
// createConversation as Teams requires; a command typed in that chat is answered there.
func TestPrivateReplies(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.p("alice")
	e.command(alice, "signout help")
	e.command(alice, "/signout frobnicate")
	e.waitPrivate(alice, "/signout group", "❔")
	created := e.fc.Created()
	if len(created) != 1 {
		t.Fatalf("%d conversations created, want 1 (the 1:1 chat is remembered)", len(created))
	}
	c := created[0]
	if c.IsGroup || c.BotID != e.fc.BotID() || len(c.Members) != 1 || c.Members[0] != alice.id || c.TenantID != e.fc.TenantID() ||
		c.ChannelDataTenant != e.fc.TenantID() {
		t.Errorf("createConversation = %+v", c)
	}
	if n := len(e.fc.Messages(channelConv)); n != 0 {
		t.Errorf("%d messages in the channel; private answers must not go there", n)
	}

	// In the 1:1 chat itself the text is the command, and the answer comes back there.
	dm := e.personalMessage(e.p("carol"), "help status")
	if resp := e.send(dm); resp.Status != 200 {
		t.Fatalf("HTTP %d", resp.Status)
	}
	e.waitText("carol's chat", func() string {
		var b strings.Builder
		for _, m := range e.fc.Messages(dm.Conversation.ID) {
			b.WriteString(m.AllText())
		}
		return b.String()
	}, "status")
	if len(e.fc.Created()) != 1 {
		t.Errorf("a command typed in the 1:1 chat opened another conversation")
	}
}

// TestPerson looks people up through the members API of a conversation they were seen in.
func TestPerson(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.p("alice")
	if _, err := e.msgr.Person(context.Background(), alice.id); err == nil {
		t.Fatal("Person of someone never seen succeeded")
	}
	e.command(alice, "help")
	p, err := e.msgr.Person(context.Background(), alice.id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != alice.name || p.Email != alice.upn || p.ID != alice.id {
		t.Errorf("Person = %+v", p)
	}
}

// TestGroupChat: in a group chat, which has no threads, the card is a message in the chat and its news are
// messages that reply to it.
func TestGroupChat(t *testing.T) {
	e := newEnv(t, envOpts{})
	const chat = "19:incident-bridge@thread.v2"
	a := e.channelMessage(e.p("alice"), "signout user lester@contoso.com")
	a.Conversation = &fakeconnector.Conversation{ID: chat, ConversationType: "groupChat", TenantID: e.fc.TenantID(), IsGroup: true}
	a.ChannelData = &fakeconnector.ChannelData{Tenant: &fakeconnector.IDName{ID: e.fc.TenantID()}}
	if resp := e.send(a); resp.Status != 200 {
		t.Fatalf("HTTP %d %s", resp.Status, resp.Body)
	}
	r := e.onlyRequest()
	msgs := e.fc.Messages(chat)
	if len(msgs) != 1 || msgs[0].ID != r.Message.ID || r.Message.Channel != chat {
		t.Fatalf("chat messages = %+v, card ref %+v", msgs, r.Message)
	}
	click := e.cardActivity(e.p("bob"), "invoke", r)
	click.Name = "adaptiveCard/action"
	click.Conversation = a.Conversation
	click.Value = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve", "data": map[string]any{"requestId": r.ID}}}
	if resp := e.send(click); resp.Status != 200 || !strings.Contains(string(resp.Body), "Approved by") {
		t.Fatalf("invoke: HTTP %d %s", resp.Status, resp.Body)
	}
	e.waitText("the chat", func() string {
		var b strings.Builder
		for _, m := range e.fc.Messages(chat) {
			if m.ID != r.Message.ID && m.Activity.ReplyToID == r.Message.ID {
				b.WriteString(m.AllText())
			}
		}
		return b.String()
	}, "Every revocation has been sent")
}

// TestSlowClick: a click the core does not finish in time is answered with the card as it stands; whatever the
// core says to the clicker afterwards reaches their 1:1 chat instead of being lost.
func TestSlowClick(t *testing.T) {
	e := newEnv(t, envOpts{invokeTimeout: time.Nanosecond})
	alice := e.p("alice")
	e.command(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	ans := e.invoke(alice, "approve", r, "")
	if ans.Type != "application/vnd.microsoft.card.adaptive" || !strings.Contains(ans.text(), "Sign-out request "+r.ID) {
		t.Fatalf("answer = %s %s", ans.Type, ans.text())
	}
	const refusal = "cannot approve it: a second admin must"
	if !strings.Contains(ans.text(), refusal) {
		if !strings.Contains(ans.text(), "Still working on your click") {
			t.Errorf("a late answer does not say the click is still being worked on:\n%s", ans.text())
		}
		e.waitPrivate(alice, refusal)
	}
}

// TestTimeZoneFromActivity: the time zone Teams sends with every activity (clientInfo) is the one the core
// formats private replies in.
func TestTimeZoneFromActivity(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, name := range []string{"alice", "bob"} {
		u := e.p(name)
		loc, err := time.LoadLocation(u.tz)
		if err != nil {
			t.Fatal(err)
		}
		e.command(u, "status lester@contoso.com")
		zone := time.Now().In(loc).Format("MST")
		e.waitPrivate(u, "Sessions valid from (Graph, now)", zone+" (")
	}
}
