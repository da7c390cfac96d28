package playground_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// recordJS makes the page keep a copy of every request it sends to the Playground's server (its axios client
// uses XMLHttpRequest), so that the test can read what a click on a card sent.
const recordJS = `(() => {
	window.__sent = [];
	const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
	XMLHttpRequest.prototype.open = function (method, url) {
		this.__sent = {method: String(method), url: String(url)};
		return open.apply(this, arguments);
	};
	XMLHttpRequest.prototype.send = function (body) {
		if (this.__sent) window.__sent.push({...this.__sent, body: typeof body === "string" ? body : ""});
		return send.apply(this, arguments);
	};
	return true;
})()`

type sentRequest struct {
	Method, URL, Body string
}

// TestPlaygroundApprovalStory tells the approval story in Microsoft's own developer Teams client, the Microsoft 365
// Agents Playground, against the real core and the Teams adapter in anonymous mode: Alex, the Playground's
// current user, @mentions the bot in a channel from the page's compose box, the adapter posts the approval card,
// the page renders it; Alex's own click on Approve (Action.Execute, through the page) is refused on the card;
// Adele's Deny through the Action.Submit fallback is refused too; Megan, the second admin, approves with the
// same invoke the page sent, from her account; the card, edited in place by the bot, changes on Alex's page to
// approved and then done, and every member of group Test is signed out in the simulated tenant. See README.md.
func TestPlaygroundApprovalStory(t *testing.T) {
	bin := os.Getenv("SIGNOUTBOT_PLAYGROUND")
	if bin == "" {
		t.Skip("SIGNOUTBOT_PLAYGROUND is not set: it names the agentsplayground command of the Microsoft 365 Agents " +
			"Playground (npm @microsoft/m365agentsplayground@0.2.28), which `bash .ci/run` installs and sets")
	}
	started := time.Now()
	people := newCast()
	b := startBot(t, people)
	w := world{tenantID: b.tenant.TenantID(), botID: "28:" + newGUID(), personalChat: "a:1" + newGUID(),
		groupChat: "19:" + strings.ReplaceAll(newGUID(), "-", "") + "@thread.v2", teamGroup: newGUID(), people: people}
	pg := startPlayground(t, bin, b.endpoint, w)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the bot's log, last 8000 bytes:\n%s", tail(b.logs.String(), 8000))
		}
	})

	ctx := browser(t)
	pageErrors := consoleErrors(ctx)
	general := chromedp.CSS(`button[role="treeitem"][aria-label="` + teamName + ` - General"]`)
	do(t, ctx, "open the Playground's page", chromedp.Navigate(pg.url), chromedp.WaitVisible(general))
	eval[bool](t, ctx, recordJS)
	if me := eval[string](t, ctx, `document.querySelector("[role=toolbar] [role=img][aria-label]")?.getAttribute("aria-label") ?? ""`); me != people.alex.name {
		t.Errorf("the page acts as %q, want the config file's current user %q", me, people.alex.name)
	}

	// Alex @mentions the bot in the General channel: a new post, typed in the page's compose box, the bot picked
	// from its mention menu.
	editor := chromedp.CSS(`[data-lexical-editor="true"]`) // the first one: "Start a new post"
	menuItem := chromedp.CSS(`#typeahead-menu [role="menuitem"]`)
	do(t, ctx, "open the General channel", chromedp.Click(general), chromedp.WaitVisible(editor))
	// Keys go to the focused editor (chromedp.KeyEvent), not through chromedp.SendKeys: SendKeys reads the node's
	// attributes without the node's lock while DOM events rewrite them, which the race detector reports (chromedp
	// v0.23.0, query.go).
	do(t, ctx, "type @ and the bot's name", chromedp.Click(editor), chromedp.KeyEvent("@"+botName[:4]), chromedp.WaitVisible(menuItem))
	if item := eval[string](t, ctx, `document.querySelector('#typeahead-menu [role="menuitem"]').innerText.trim()`); item != botName {
		t.Fatalf("the mention menu offers %q first, want the bot %q", item, botName)
	}
	do(t, ctx, "post the command", chromedp.Click(menuItem), chromedp.KeyEvent(" /signout group Test"),
		chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Post")`)))

	// The approval card appears in the channel, rendered by the Playground's Adaptive Cards renderer.
	card := waitCard(t, ctx, "the approval card", 30*time.Second, "Sign-out request", "Approve", "Deny", "Alex Wilber")
	var r store.Request
	waitFor(t, "the request in the store", 5*time.Second, func() bool {
		reqs := b.requests(t)
		if len(reqs) == 1 {
			r = reqs[0]
		}
		return len(reqs) == 1
	})
	r = b.request(t, r.ID)
	if r.Status != store.StatusPending || r.Requester.Entra != people.alex.entra || r.Requester.ID != people.alex.id {
		t.Fatalf("request = %s by %+v; want pending, by Alex (%s, %s)", r.Status, r.Requester, people.alex.id, people.alex.entra)
	}
	for _, want := range []string{r.ID, "Test", "Break Glass Admin"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q:\n%s", want, card)
		}
	}
	t.Logf("the approval card as the page shows it:\n%s", card)

	// Alex clicks Approve and confirms in the card (Action.ShowCard, then its Action.Execute): the page sends an
	// adaptiveCard/action invoke as Alex, and the bot refuses on the card, to him, since he asked.
	requestCard := `[...document.querySelectorAll(".ac-adaptiveCard")].find(c => c.innerText.includes(` + jsString(r.ID) + `) && !c.parentElement.closest(".ac-adaptiveCard"))`
	do(t, ctx, "click Approve", chromedp.Click(chromedp.JSPath(requestCard+`.querySelector('button[aria-label="Approve"]')`)))
	confirm := chromedp.JSPath(requestCard + `.querySelector('button[aria-label="Sign them out"]')`)
	do(t, ctx, "confirm", chromedp.WaitVisible(confirm), chromedp.Click(confirm))
	waitCard(t, ctx, "the refusal of Alex's own approval", 15*time.Second, "cannot approve it: a second admin must", r.ID)
	if got := b.request(t, r.ID); got.Status != store.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("after Alex's own click: %s with %d approvals", got.Status, len(got.Approvals))
	}
	if n := len(b.tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations before a second admin approved", n)
	}

	// What the page sent for that click.
	var invoke map[string]any
	for _, s := range eval[[]sentRequest](t, ctx, `window.__sent`) {
		if s.Method == http.MethodPost && strings.HasSuffix(s.URL, "/_conversation/v1/invoke") {
			if err := json.Unmarshal([]byte(s.Body), &invoke); err != nil {
				t.Fatalf("the page's invoke %q: %v", s.Body, err)
			}
		}
	}
	if invoke == nil {
		t.Fatalf("the page sent no invoke; it sent %+v", eval[[]sentRequest](t, ctx, `window.__sent`))
	}
	sent, _ := json.Marshal(invoke)
	t.Logf("the page's invoke for Alex's click: %s", sent)
	if field(invoke, "name") != "adaptiveCard/action" || field(invoke, "value", "action", "type") != "Action.Execute" ||
		field(invoke, "value", "action", "verb") != "approve" || field(invoke, "value", "action", "data", "requestId") != r.ID ||
		field(invoke, "replyToId") != r.Message.ID || field(invoke, "from", "id") != people.alex.id {
		t.Errorf("the page's invoke %s: want adaptiveCard/action, Action.Execute approve of %s on message %s, from %s", sent, r.ID, r.Message.ID, people.alex.id)
	}

	// Adele, who is no sign-out admin, clicks Deny through the Action.Submit fallback (what clients without
	// Universal Actions send: a message whose value is the button's data and the card's inputs), at the endpoint
	// the page uses for Action.Submit. She is refused in her 1:1 chat with the bot, which the Playground opens for
	// her but does not show on Alex's page; nothing changes.
	adele := people.others[0]
	submit := map[string]any{"conversation": invoke["conversation"], "replyToId": r.Message.ID, "from": map[string]any{"id": adele.id},
		"value": map[string]any{"action": "deny", "requestId": r.ID, "reason": "not on my watch"}}
	if status := pg.post(t, "/_conversation/v1/submit", submit, nil); status != http.StatusOK {
		t.Fatalf("Adele's Deny (Action.Submit): HTTP %d", status)
	}
	waitFor(t, "the refusal of Adele's Deny in the audit log", 10*time.Second, func() bool { return countEvents(t, b, r.ID, "refused") == 2 })
	if got := b.request(t, r.ID); got.Status != store.StatusPending {
		t.Fatalf("after Adele's Deny the request is %s", got.Status)
	}

	// Megan approves: the Playground's page can only act as its current user, so her click is that same request
	// with her user id, sent to the endpoint the page uses. The Playground fills in her name and Entra object id.
	invoke["from"] = map[string]any{"id": people.megan.id}
	status, ans := pg.invoke(t, invoke)
	if status != http.StatusOK || ans.Type != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("Megan's approval: HTTP %d, invoke answer of type %q: %s", status, ans.Type, ans.text())
	}
	if at := ans.text(); !strings.Contains(at, "Approved by **Megan Bowen**") {
		t.Errorf("the answer to Megan's click is not the approved card:\n%s", at)
	}

	// Alex's page shows the card as the bot edits it in place (PUT …/activities/{id}): approved, then done.
	waitCard(t, ctx, "the approved card", 20*time.Second, r.ID, "Approved by Megan Bowen")
	r = waitStatus(t, b, r.ID, store.StatusDone)
	if len(r.Approvals) != 1 || r.Approvals[0].Actor.Entra != people.megan.entra || r.Approvals[0].Actor.ID != people.megan.id ||
		r.Approvals[0].Actor.Name != people.megan.name {
		t.Errorf("approvals = %+v; want Megan's alone (%s, %s), as the Playground vouched for her", r.Approvals, people.megan.id, people.megan.entra)
	}
	targets, err := b.st.Targets(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	final := waitCard(t, ctx, "the finished card", 30*time.Second, r.ID, "done: every client is signed out", "Approved by Megan Bowen")
	if strings.Contains(final, "Sign them out") || eval[bool](t, ctx, requestCard+`.querySelector('button[aria-label="Approve"]') !== null`) {
		t.Errorf("the finished card still offers Approve:\n%s", final)
	}
	waitCard(t, ctx, "the news in the card's thread", 20*time.Second, "Access tokens expired — every client is signed out")
	t.Logf("the finished card as the page shows it (%d targets):\n%s", len(targets), final)

	eval[bool](t, ctx, `(`+requestCard+`.closest('[role="group"]').scrollIntoView({block: "start"}), true)`)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), "signoutbot-playground.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the Playground's channel with the finished card: %s", path)

	// What the bot told Alex alone is in his 1:1 chat with it, which the page shows as "Personal Chat".
	do(t, ctx, "open Alex's personal chat", chromedp.Click(chromedp.CSS(`button[role="treeitem"][aria-label="Personal Chat"]`)))
	waitCard(t, ctx, "Alex's private news", 15*time.Second, "was approved by", "Megan Bowen")

	// The tenant: every member of group Test signed out, the protected account never touched.
	revoked := map[string]int{}
	for _, rv := range b.tenant.Revocations() {
		u, _ := b.tenant.User(rv.UserID)
		revoked[strings.ToLower(u.UserPrincipalName)]++
	}
	if revoked[strings.ToLower(graphtest.UPNBreakGlass)] != 0 {
		t.Errorf("the protected account was revoked: %v", revoked)
	}
	for _, upn := range graphtest.TestGroupMemberUPNs() {
		if upn = strings.ToLower(upn); upn != strings.ToLower(graphtest.UPNBreakGlass) && revoked[upn] != 1 {
			t.Errorf("%s revoked %d times, want once (revocations %v)", upn, revoked[upn], revoked)
		}
	}

	// Nothing the bot did against the Playground's Bot Connector went wrong.
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) && !strings.Contains(l, "ANONYMOUS MODE") {
			t.Errorf("the bot logged: %s", l)
		}
	}
	for _, e := range pageErrors() {
		t.Logf("the Playground's page reported: %s", e)
	}
	t.Logf("the story took %s in the Playground", time.Since(started).Round(100*time.Millisecond))
}

func waitStatus(t *testing.T, b *botEnv, id string, want store.RequestStatus) store.Request {
	t.Helper()
	var r store.Request
	waitFor(t, "request "+id+" to be "+string(want), 30*time.Second, func() bool {
		r = b.request(t, id)
		return r.Status == want
	})
	return r
}

func countEvents(t *testing.T, b *botEnv, id, typ string) int {
	t.Helper()
	ev, err := b.st.Events(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range ev {
		if x.Type == typ {
			n++
		}
	}
	return n
}

// field is the value at a path of nested JSON objects, or nil.
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
