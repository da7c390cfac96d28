// Package slack is signoutbot's Slack adapter: signed HTTP endpoints for slash commands and interactivity,
// Socket Mode as the alternative without a public URL, and Block Kit messages posted and edited through the
// Web API. Slack types stay in this package.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// Platform is this adapter's name in actors and message references.
const Platform = "slack"

// Messenger implements bot.Messenger over the Slack Web API.
type Messenger struct {
	api        *slack.Client
	uploads    *slack.Client // api with a longer timeout, for files
	token      string
	apiURL     string
	httpClient *http.Client
	edits      editPacer // chat.update's pace and Retry-After, shared by every card (editpace.go)
}

// DefaultAPITimeout bounds every Web API call. slack-go's own client has none, so one call that Slack (or a
// proxy) never answers would hold the card's edits or a thread's replies forever; after the timeout the call
// fails and the outbox tries again later.
const DefaultAPITimeout = 15 * time.Second

// MessengerOption adjusts NewMessenger.
type MessengerOption func(*Messenger)

// WithAPITimeout sets how long one Web API call may take (DefaultAPITimeout when not given; d ≤ 0 keeps it).
func WithAPITimeout(d time.Duration) MessengerOption {
	return func(m *Messenger) {
		if d > 0 {
			m.httpClient.Timeout = d
		}
	}
}

// NewMessenger builds a Web API client; apiURL overrides Slack's (SLACK_API_URL, for tests and rehearsals).
func NewMessenger(botToken, apiURL string, opts ...MessengerOption) *Messenger {
	m := &Messenger{token: botToken, apiURL: apiURL, httpClient: &http.Client{Timeout: DefaultAPITimeout}}
	for _, o := range opts {
		o(m)
	}
	m.api = slack.New(botToken, m.clientOptions()...)
	m.uploads = m.uploadClient()
	return m
}

// clientOptions are the options of every slack-go client the adapter makes (Web API and Socket Mode), so all
// of them have the API URL and the timeout.
func (m *Messenger) clientOptions() []slack.Option {
	opts := []slack.Option{slack.OptionHTTPClient(m.httpClient)}
	if m.apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(m.apiURL))
	}
	return opts
}

// API is the underlying client (Socket Mode needs it).
func (m *Messenger) API() *slack.Client { return m.api }

func (m *Messenger) Platform() string { return Platform }

// maxRateLimitWaits bounds how often one call waits out Slack's rate limit before giving up.
const maxRateLimitWaits = 5

// call runs one Web API call, waiting out Slack's rate limit (HTTP 429 with Retry-After) instead of failing:
// a long scope list posted in a thread must arrive whole, not stop at the first 429.
func call(ctx context.Context, f func() error) error {
	for i := 0; ; i++ {
		err := f()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || i >= maxRateLimitWaits {
			return err
		}
		t := time.NewTimer(max(rl.RetryAfter, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (m *Messenger) Post(ctx context.Context, conv store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	opts := msgOptions(msg)
	if conv.Thread != "" {
		opts = append(opts, slack.MsgOptionTS(conv.Thread))
	}
	var ch, ts string
	err := call(ctx, func() (err error) {
		ch, ts, err = m.api.PostMessageContext(ctx, conv.Channel, opts...)
		return err
	})
	if err != nil {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found") {
			// What to do about it is Slack's business, so the adapter says it.
			return store.MessageRef{}, fmt.Errorf("slack chat.postMessage: %w; I am not in this channel: invite me with `/invite @signoutbot`", err)
		}
		return store.MessageRef{}, fmt.Errorf("slack chat.postMessage: %w", err)
	}
	return store.MessageRef{Platform: Platform, Channel: ch, ID: ts, Thread: conv.Thread}, nil
}

// Update edits with chat.update, which keeps working after an interaction's response_url has expired.
func (m *Messenger) Update(ctx context.Context, ref store.MessageRef, msg bot.Message) error {
	err := call(ctx, func() error {
		if err := m.edits.wait(ctx); err != nil {
			return err
		}
		_, _, _, err := m.api.UpdateMessageContext(ctx, ref.Channel, ref.ID, msgOptions(msg)...)
		m.edits.observe(err)
		return err
	})
	if err != nil {
		return fmt.Errorf("slack chat.update: %w", err)
	}
	return nil
}

func (m *Messenger) Reply(ctx context.Context, ref store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	thread := ref.ID
	if ref.Thread != "" {
		thread = ref.Thread
	}
	return m.Post(ctx, store.MessageRef{Platform: Platform, Channel: ref.Channel, Thread: thread}, msg)
}

func (m *Messenger) Private(ctx context.Context, conv store.MessageRef, userID string, msg bot.Message) error {
	err := call(ctx, func() error {
		_, err := m.api.PostEphemeralContext(ctx, conv.Channel, userID, msgOptions(msg)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("slack chat.postEphemeral: %w", err)
	}
	return nil
}

func (m *Messenger) Person(ctx context.Context, userID string) (bot.Person, error) {
	u, err := m.api.GetUserInfoContext(ctx, userID)
	if err != nil {
		return bot.Person{}, fmt.Errorf("slack users.info: %w", err)
	}
	name := u.RealName
	if name == "" {
		name = u.Name
	}
	return bot.Person{ID: u.ID, Name: name, Email: u.Profile.Email, TimeZone: u.TZ, Deleted: u.Deleted}, nil
}

// InUserGroup implements bot.UserGroupChecker with usergroups.users.list.
func (m *Messenger) InUserGroup(ctx context.Context, groupID, userID string) (bool, error) {
	members, err := m.api.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		return false, fmt.Errorf("slack usergroups.users.list: %w", err)
	}
	for _, id := range members {
		if id == userID {
			return true, nil
		}
	}
	return false, nil
}
