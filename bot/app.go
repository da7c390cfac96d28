package bot

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// TimerExpire is the timer that ends a pending request nobody decided.
const TimerExpire = "expire"

// CommandEvent is a /signout command, already authenticated by the adapter.
type CommandEvent struct {
	// Actor is who typed it. Actor.Entra is set when the platform itself vouches for the person's Entra object
	// id (Teams' from.aadObjectId on an authenticated activity); the core resolves it otherwise.
	Actor store.Actor
	// Profile is what the platform sent about the actor with the event (Teams: time zone and e-mail on every
	// activity); empty fields are looked up through Messenger.Person when needed.
	Profile      Person
	Conversation store.MessageRef // where it was typed
	// Personal is true when the conversation is the person's private chat with the bot: a request card posted
	// there could be approved by nobody, so sign-outs and policy changes are refused there.
	Personal   bool
	Text       string
	DeliveryID string // platform delivery id, so a re-delivered command acts once
	// Respond shows a message to the actor only.
	Respond func(ctx context.Context, msg Message) error
}

// ActionEvent is a button click, already authenticated by the adapter. Actor and Profile as in CommandEvent.
type ActionEvent struct {
	Actor        store.Actor
	Profile      Person
	Conversation store.MessageRef
	Message      store.MessageRef // the message whose button was clicked
	ActionID     string           // "approve", "deny"
	Value        string           // the request id
	// Note is what the person added to the click: the optional reason of a deny (a dialog on the page, a modal in
	// Slack). It is user text, stored and shown as typed.
	Note       string
	DeliveryID string
	Respond    func(ctx context.Context, msg Message) error
}

// AdminResolver decides whether an actor is a sign-out admin.
type AdminResolver interface {
	IsAdmin(ctx context.Context, actor store.Actor) (bool, error)
}

// App is the bot's core. It is safe for concurrent use.
type App struct {
	Store      store.Store
	Dir        graph.Directory
	Protection *scope.Protection
	Runner     *revocation.Runner
	Admins     AdminResolver
	Identities *Identities
	Policy     approvals.Policy
	Clock      clock.Clock
	Log        *slog.Logger
	// MinEditInterval spaces out progress edits of one message (chat platforms rate-limit edits).
	MinEditInterval time.Duration
	// ThreadRetry spaces out retries of thread replies that chat refused.
	ThreadRetry time.Duration
	// ChatTimeout bounds every call to a chat platform.
	ChatTimeout time.Duration
	// WriteRate is the pace of revocations (per second), for the plan's estimates.
	WriteRate float64
	// Owner names this replica in leases and timer claims; LeaseTTL is how long they last unrenewed (0: 30 s).
	Owner    string
	LeaseTTL time.Duration
	// Files signs the download links of report files and checks them (FileHandler).
	Files FileLinks

	mu         sync.Mutex
	messengers map[string]Messenger
	cards      map[string]*cardState
	tzCache    map[string]*time.Location
	threads    map[string]*threadState
	kick       chan struct{}
	samples    map[string]cardSample // the users a running request's card names (see storedView)
}

// AddMessenger registers a platform adapter.
func (a *App) AddMessenger(m Messenger) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.messengers == nil {
		a.messengers = make(map[string]Messenger)
	}
	a.messengers[m.Platform()] = m
}

func (a *App) messenger(platform string) (Messenger, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.messengers[platform]
	return m, ok
}

func (a *App) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

// Scheduler returns the timer loop that drives expiry, runs, verification and deadline notices.
func (a *App) Scheduler(poll time.Duration) *revocation.Scheduler {
	return &revocation.Scheduler{
		Store: a.Store, Clock: a.Clock, Poll: poll, Log: a.Log, Owner: a.Owner, ClaimTTL: a.LeaseTTL,
		Handlers: map[string]func(context.Context, string) error{
			TimerExpire:                   a.expire,
			TimerResolving:                a.checkResolving,
			revocation.TimerRun:           a.Runner.Run,
			revocation.TimerVerify:        a.Runner.Verify,
			revocation.TimerTokensExpired: a.Runner.TokensExpired,
			TimerThread:                   a.retryThread,
			revocation.TimerRemind:        a.Runner.Remind,
			revocation.TimerPolicyRevert:  a.Runner.RevertPolicy,
			revocation.TimerCrossCheck:    a.Runner.CrossCheck,
		},
	}
}

// Kicks is signalled when a timer was set for now, so the scheduler need not wait for its next poll.
func (a *App) Kicks() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kick == nil {
		a.kick = make(chan struct{}, 1)
	}
	return a.kick
}

func (a *App) kickScheduler() {
	a.mu.Lock()
	k := a.kick
	a.mu.Unlock()
	if k != nil {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}

// RunScheduler recovers unfinished requests, then runs the timer loop until ctx ends, waking early when a
// timer is set for now.
func (a *App) RunScheduler(ctx context.Context, poll time.Duration) {
	if err := a.Recover(ctx); err != nil {
		a.Log.Error("recover", "err", err)
	}
	s := a.Scheduler(poll)
	s.Wake = a.Kicks()
	s.Run(ctx)
}

func newRequestID() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/I: read aloud on a bridge call
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "R" + string(b)
}
