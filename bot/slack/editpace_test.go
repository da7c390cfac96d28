package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/store"
)

// Slack's Retry-After holds for the method in the whole workspace: after a 429 on one card's edit, no edit of any
// card reaches Slack before it has passed, and the refused edit lands afterwards.
func TestRetryAfterHoldsBackEveryCardEdit(t *testing.T) {
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	m := slackbot.NewMessenger(token, fs.APIURL(), slackbot.WithEditPace(slackbot.EditPace{PerMinute: 60000, Burst: 100}))
	ctx := context.Background()
	var cards []store.MessageRef
	for i := range 2 {
		ref, err := m.Post(ctx, store.MessageRef{Platform: slackbot.Platform, Channel: channel}, bot.Message{Text: fmt.Sprint("card ", i)})
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, ref)
	}
	fs.RateLimitUpdates(1, time.Second) // every edit refused, until lifted below
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(1)
	go func() { defer wg.Done(); errs[0] = m.Update(ctx, cards[0], bot.Message{Text: "card 0, edited"}) }()
	waitFor(t, "the first 429", 5*time.Second, func() bool { return len(fs.UpdateCalls()) == 1 })
	fs.RateLimitUpdates(0, 0)
	time.Sleep(200 * time.Millisecond) // the messenger has read the 429 by now; one that ignored it would edit at once
	wg.Add(1)
	go func() { defer wg.Done(); errs[1] = m.Update(ctx, cards[1], bot.Message{Text: "card 1, edited"}) }()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("edit of card %d: %v", i, err)
		}
	}
	calls := fs.UpdateCalls()
	if len(calls) != 3 || calls[0].Status != http.StatusTooManyRequests {
		t.Fatalf("chat.update calls %+v, want a 429 and two edits", calls)
	}
	for _, c := range calls[1:] {
		if gap := c.At.Sub(calls[0].At); gap < calls[0].RetryAfter {
			t.Errorf("chat.update of %s %s after a 429 with Retry-After %s", c.TS, gap.Round(time.Millisecond), calls[0].RetryAfter)
		}
	}
	for i, ref := range cards {
		if got, want := fs.TopLevel(channel)[i].Text, fmt.Sprint("card ", i, ", edited"); got != want {
			t.Errorf("card %d (%s) shows %q, want %q", i, ref.ID, got, want)
		}
	}
}

// Edits of any card share one pace: a burst of edits reaches Slack no faster than EditPace allows.
func TestCardEditsShareOnePace(t *testing.T) {
	fs := fakeslack.New(token)
	t.Cleanup(fs.Close)
	const perMinute = 600 // one every 100 ms after a burst of 1
	m := slackbot.NewMessenger(token, fs.APIURL(), slackbot.WithEditPace(slackbot.EditPace{PerMinute: perMinute, Burst: 1}))
	ctx := context.Background()
	var cards []store.MessageRef
	for i := range 3 {
		ref, err := m.Post(ctx, store.MessageRef{Platform: slackbot.Platform, Channel: channel}, bot.Message{Text: fmt.Sprint("card ", i)})
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, ref)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Update(ctx, cards[i%3], bot.Message{Text: fmt.Sprint("edit ", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	calls := fs.UpdateCalls()
	if len(calls) != 6 {
		t.Fatalf("%d chat.update calls, want 6", len(calls))
	}
	// The bucket admits 1 + 10/s: six edits span at least half a second, whatever the machine's speed.
	if span := calls[5].At.Sub(calls[0].At); span < 450*time.Millisecond {
		t.Errorf("six edits in %s: faster than the pace of %d a minute", span, perMinute)
	}
}
