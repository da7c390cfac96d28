package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/store"
)

// eventDetails returns the details of the request's audit events of one type.
func (e *env) eventDetails(id, typ string) []string {
	e.t.Helper()
	ev, err := e.st.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, x := range ev {
		if x.Type == typ {
			out = append(out, x.Detail)
		}
	}
	return out
}

// reasonInput is the modal's one input block, as the bot sent it to views.open.
func reasonInput(t *testing.T, v fakeslack.View) map[string]any {
	t.Helper()
	blocks, _ := v.Body["blocks"].([]any)
	var inputs []map[string]any
	for _, b := range blocks {
		if bl, _ := b.(map[string]any); bl["type"] == "input" {
			inputs = append(inputs, bl)
		}
	}
	if len(inputs) != 1 {
		t.Fatalf("modal has %d input blocks, want 1: %v", len(inputs), v.Body)
	}
	return inputs[0]
}

// Deny opens a modal asking for an optional reason; submitting it denies, with the reason in the audit log.
func TestDenyWithReason(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	v := e.clickDeny(bob, r)
	if got := e.request(r.ID); got.Status != store.StatusPending {
		t.Fatalf("the click alone decided the request: %s", got.Status)
	}

	// The modal: titled with the request, one optional multiline reason, Deny and Back.
	if v.Body["type"] != "modal" || v.Text("title") != "Deny request "+r.ID || v.Text("submit") != "Deny" || v.Text("close") != "Back" {
		t.Errorf("modal = %v", v.Body)
	}
	in := reasonInput(t, v)
	label, _ := in["label"].(map[string]any)
	el, _ := in["element"].(map[string]any)
	if in["optional"] != true || label["text"] != "Reason (optional, shown on the card)" || el["type"] != "plain_text_input" ||
		el["multiline"] != true || el["max_length"] != float64(1500) {
		t.Errorf("reason input = %v", in)
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(v.PrivateMetadata()), &meta); err != nil {
		t.Fatalf("private_metadata %q: %v", v.PrivateMetadata(), err)
	}
	if meta["request"] != r.ID || meta["channel"] != channel || meta["message_ts"] != r.Message.ID {
		t.Errorf("private_metadata = %v; want the request, its channel and its card", meta)
	}

	payload, err := e.slack.ViewSubmission(v.ID, bob, map[string]string{"reason": "  wrong group\n"})
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := e.postInteraction(payload); code != http.StatusOK || resp != "" {
		t.Fatalf("submission answered %d %q; want an empty 200, which closes the modal", code, resp)
	}
	r = e.request(r.ID)
	if r.Status != store.StatusDenied || r.DecidedBy.ID != bob {
		t.Fatalf("after the submission: %s by %+v", r.Status, r.DecidedBy)
	}
	if d := e.eventDetails(r.ID, "denied"); len(d) != 1 || !strings.HasSuffix(d[0], ": wrong group") {
		t.Errorf("denied events = %q; want one whose detail ends with the trimmed reason", d)
	}
	if r.DecisionNote != "wrong group" {
		t.Errorf("decision note = %q, want the trimmed reason", r.DecisionNote)
	}
	if card := e.waitCard(r, "Denied by <@"+bob+">", "wrong group"); hasButtons(e.card(r)) {
		t.Errorf("denied card still has buttons:\n%s", card)
	}
	// The requester hears of it privately, in the card's channel.
	waitFor(t, "alice told of the deny", 10*time.Second, func() bool {
		for _, m := range e.slack.Ephemerals(alice) {
			if m.Channel == channel && strings.Contains(m.AllText(), "denied by <@"+bob+">") && strings.Contains(m.AllText(), "wrong group") {
				return true
			}
		}
		return false
	})

	// The same submission delivered again acts once, and tells nobody anything.
	before := len(e.slack.Ephemerals(bob))
	if code, _ := e.postInteraction(payload); code != http.StatusOK {
		t.Fatalf("second delivery: %d", code)
	}
	if d := e.eventDetails(r.ID, "denied"); len(d) != 1 || e.countEvents(r.ID, "refused") != 0 {
		t.Errorf("a re-delivered submission acted again: %q", d)
	}
	if n := len(e.slack.Ephemerals(bob)); n != before {
		t.Errorf("bob was told %d more things after a re-delivery: %q", n-before, e.lastEphemeral(bob))
	}
}

// Back (or ×) on the modal decides nothing: Slack sends view_closed at most, and the request stays pending.
func TestDenyModalBackLeavesRequestPending(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	events := e.eventCount(r.ID)
	v := e.clickDeny(bob, r)
	closed, err := e.slack.ViewClosed(v.ID, bob)
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := e.postInteraction(closed); code != http.StatusOK || resp != "" {
		t.Fatalf("view_closed answered %d %q", code, resp)
	}
	if got := e.request(r.ID); got.Status != store.StatusPending || e.eventCount(r.ID) != events {
		t.Fatalf("Back changed the request: %s, %d events (was %d)", got.Status, e.eventCount(r.ID), events)
	}
	if !hasButtons(e.card(r)) {
		t.Error("the card lost its buttons")
	}
	// The request can still be decided.
	e.click(carol, "approve", r)
	e.waitStatus(r.ID, store.StatusDone, 20*time.Second)
}

// The requester's own Deny withdraws the request: the core records it as a cancel, with the reason.
func TestRequesterDenyIsACancel(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.clickDenyWithReason(alice, r, "typo in the user")
	r = e.request(r.ID)
	if r.Status != store.StatusCancelled || r.DecidedBy.ID != alice {
		t.Fatalf("after the requester's deny: %s by %+v", r.Status, r.DecidedBy)
	}
	if d := e.eventDetails(r.ID, "cancelled"); len(d) != 1 || !strings.Contains(d[0], "typo in the user") {
		t.Errorf("cancelled events = %q", d)
	}
	e.waitCard(r, "Cancelled by <@"+alice+">")
}

// When Slack will not open the modal (the trigger expired: the click reached the bot late), the click still
// denies, without a reason, and the admin is told so privately.
func TestDenyWithoutReasonWhenModalCannotOpen(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	e.slack.ExpireTriggers(true)
	e.click(bob, "deny", r)
	if n := e.slack.Calls("views.open"); n != 1 {
		t.Errorf("views.open called %d times, want 1", n)
	}
	if len(e.slack.Views()) != 0 {
		t.Error("a modal was opened with an expired trigger")
	}
	r = e.request(r.ID)
	if r.Status != store.StatusDenied || r.DecidedBy.ID != bob {
		t.Fatalf("after the fallback: %s by %+v", r.Status, r.DecidedBy)
	}
	var told string
	for _, m := range e.slack.Ephemerals(bob) {
		told += m.AllText() + "\n"
	}
	if !strings.Contains(told, "expired_trigger_id") || !strings.Contains(told, "denied without") || !strings.Contains(told, r.ID) {
		t.Errorf("bob was told %q", told)
	}
	e.waitCard(r, "Denied by <@"+bob+">")
}

// Slack's client enforces max_length; a longer reason that arrives anyway is refused in the modal, with the
// field's error, rather than cut or stored.
func TestDenyReasonOverTheLimitIsRefusedInTheModal(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()
	v := e.clickDeny(bob, r)
	payload, err := e.slack.ViewSubmission(v.ID, bob, map[string]string{"reason": "x"})
	if err != nil {
		t.Fatal(err)
	}
	blockID, _ := reasonInput(t, v)["block_id"].(string)
	state := payload["view"].(map[string]any)["state"].(map[string]any)["values"].(map[string]any)
	state[blockID].(map[string]any)["reason"].(map[string]any)["value"] = strings.Repeat("é", 1501)
	code, resp := e.postInteraction(payload)
	var ack struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(resp), &ack) != nil || ack.ResponseAction != "errors" ||
		!strings.Contains(ack.Errors[blockID], "1500") {
		t.Fatalf("over-long reason answered %d %q; want response_action errors on %s", code, resp, blockID)
	}
	if got := e.request(r.ID); got.Status != store.StatusPending {
		t.Errorf("over-long reason decided the request: %s", got.Status)
	}
}

// Over Socket Mode the modal works the same: Deny opens it, the submission is acknowledged empty and denies.
func TestSocketModeDenyWithReason(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.slack.AppToken = "xapp-1-test"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.handler.RunSocketMode(ctx, "xapp-1-test") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("socket mode: %v", err)
		}
	})
	waitFor(t, "the socket mode connection", 10*time.Second, e.slack.SocketConnected)
	e.slash(alice, "user lester@contoso.com")
	r := e.onlyRequest()

	click, err := jsonMap(mustPayload(interactionBody(bob, "deny", r.ID, r.Message.ID, "sm.deny")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.slack.SendEnvelope("interactive", click, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	var v fakeslack.View
	waitFor(t, "the deny modal", 10*time.Second, func() bool {
		var ok bool
		v, ok = e.slack.ViewByTrigger("sm.deny")
		return ok
	})
	submission, err := e.slack.ViewSubmission(v.ID, bob, map[string]string{"reason": "wrong group"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.slack.SendEnvelopeAck("interactive", submission, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack) != 0 && string(ack) != "null" {
		t.Errorf("submission acknowledged with %s; want no payload, which closes the modal", ack)
	}
	r = e.waitStatus(r.ID, store.StatusDenied, 10*time.Second)
	if d := e.eventDetails(r.ID, "denied"); len(d) != 1 || !strings.Contains(d[0], "wrong group") {
		t.Errorf("denied events = %q", d)
	}
	e.waitCard(r, "Denied by <@"+bob+">")
}

func jsonMap(s string) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}
