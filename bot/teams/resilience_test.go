package teams_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/store"
)

// TestRestartDeliversTokensExpired stops the bot after the revocation, before the access-token deadline, and
// starts a new process on the same database and the same Bot Framework: the new process, which has never seen
// the card, replies "access tokens expired" in the card's thread and edits the card, from the stored reference.
func TestRestartDeliversTokensExpired(t *testing.T) {
	o := envOpts{lifetime: 4 * time.Second}
	e := newEnv(t, o)
	e.command(e.p("alice"), "user lester@contoso.com")
	r := e.onlyRequest()
	e.invoke(e.p("bob"), "approve", r, "")
	e.waitThread(r, "Every revocation has been sent")
	if got := e.request(r.ID); got.Status == store.StatusDone {
		t.Fatal("the request finished before the stop; the test proves nothing")
	}
	if strings.Contains(e.threadText(r), "Access tokens expired") {
		t.Fatal("the notice arrived before the stop; the test proves nothing")
	}
	e.stop()
	stopped := time.Now()

	e.start(o)
	e.waitThread(r, "Access tokens expired — every client is signed out")
	r = e.waitStatus(r.ID, store.StatusDone)
	e.waitCard(r, "done: every client is signed out")
	events, err := e.st.Events(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == "tokens_expired" && ev.At.Before(stopped) {
			t.Errorf("tokens_expired recorded at %s, before the stop at %s", ev.At, stopped)
		}
	}
	if n := len(e.fc.TopLevel(channelConv)); n != 1 {
		t.Errorf("%d posts in the channel after the restart, want the one card", n)
	}
	notices := 0
	for _, m := range e.fc.Thread(channelConv, r.Message.ID) {
		if strings.Contains(m.AllText(), "Access tokens expired") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("the notice is in the thread %d times", notices)
	}
}

// TestConnectorThrottling: 429s are waited out per Retry-After and 5xx retried, so the card, the requester's
// notice and the run's news all arrive.
func TestConnectorThrottling(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.fc.Throttle(2, time.Second)
	e.command(e.p("alice"), "user lester@contoso.com")
	r := e.onlyRequest()
	if r.Status != store.StatusPending || r.Message.ID == "" {
		t.Fatalf("request %s, card %q: the card did not survive two 429s", r.Status, r.Message.ID)
	}
	calls := e.fc.Calls()
	if len(calls) < 3 || calls[0].Status != http.StatusTooManyRequests || calls[1].Status != http.StatusTooManyRequests ||
		calls[2].Status != http.StatusCreated || calls[0].Path != calls[2].Path {
		t.Fatalf("calls = %+v", calls)
	}
	for i := 1; i <= 2; i++ {
		// A lower bound only: each retry came no sooner than Teams asked.
		if gap := calls[i].At.Sub(calls[i-1].At); gap < calls[i-1].RetryAfter {
			t.Errorf("retry %d came %s after a 429 asking for %s", i, gap, calls[i-1].RetryAfter)
		}
	}

	e.fc.Fail(2, http.StatusBadGateway)
	e.invoke(e.p("bob"), "approve", r, "")
	e.waitPrivate(e.p("alice"), "was approved")
	e.waitThread(r, "Every revocation has been sent")
	failed := 0
	for _, c := range e.fc.Calls() {
		if c.Status == http.StatusBadGateway {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d calls answered 502, want 2", failed)
	}
}

// TestRetriesAreBounded: a Connector that keeps answering 429 fails the call after MaxRetries, with Teams'
// error; the core's outbox tries again later.
func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.command(e.p("alice"), "user lester@contoso.com")
	conv := e.onlyRequest().Conversation // where the command was typed, as the core stores it
	cred, err := e.fc.Credential()
	if err != nil {
		t.Fatal(err)
	}
	m, err := teams.NewMessenger(teams.MessengerConfig{AppID: e.fc.AppID(), Credential: cred, HTTPClient: e.fc.Client(), MaxRetries: 1, Pace: &testPace})
	if err != nil {
		t.Fatal(err)
	}
	e.fc.Throttle(5, time.Second)
	before := len(e.fc.Calls())
	_, err = m.Post(context.Background(), conv, bot.Message{Text: "hello", Blocks: []bot.Block{{Kind: bot.BlockSection, Text: "hello"}}})
	var ce *teams.ConnectorError
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusTooManyRequests || ce.Code != "Throttled" {
		t.Fatalf("Post = %v; want the Connector's 429", err)
	}
	if n := len(e.fc.Calls()) - before; n != 2 {
		t.Errorf("%d attempts, want 2 (one retry)", n)
	}

	// A call whose deadline comes before Teams' Retry-After fails at once rather than waiting in vain.
	e.fc.Throttle(5, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := m.Post(ctx, conv, bot.Message{Text: "hello"}); !errors.As(err, &ce) {
		t.Errorf("Post = %v", err)
	}
}
