package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// TimerExpire is the timer that ends a pending request nobody decided.
const TimerExpire = "expire"

// CommandEvent is a /signout command, already authenticated by the adapter.
type CommandEvent struct {
	Actor        store.Actor
	Conversation store.MessageRef // where it was typed
	Text         string
	DeliveryID   string // platform delivery id, so a re-delivered command acts once
	// Respond shows a message to the actor only.
	Respond func(ctx context.Context, msg Message) error
}

// ActionEvent is a button click, already authenticated by the adapter.
type ActionEvent struct {
	Actor        store.Actor
	Conversation store.MessageRef
	Message      store.MessageRef // the message whose button was clicked
	ActionID     string           // "approve", "deny"
	Value        string           // the request id
	DeliveryID   string
	Respond      func(ctx context.Context, msg Message) error
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
	Policy     approvals.Policy
	Clock      clock.Clock
	Log        *slog.Logger
	// MinEditInterval spaces out progress edits of one message (chat platforms rate-limit edits).
	MinEditInterval time.Duration
	// ThreadRetry spaces out retries of thread replies that chat refused.
	ThreadRetry time.Duration

	mu         sync.Mutex
	messengers map[string]Messenger
	lastEdit   map[string]time.Time
	trailing   map[string]bool
	tzCache    map[string]*time.Location
	threads    map[string]*threadState
	kick       chan struct{}
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

func (a *App) now() time.Time { return a.Clock.Now() }

// Scheduler returns the timer loop that drives expiry, runs, verification and deadline notices.
func (a *App) Scheduler(poll time.Duration) *revocation.Scheduler {
	return &revocation.Scheduler{
		Store: a.Store, Clock: a.Clock, Poll: poll, Log: a.Log,
		Handlers: map[string]func(context.Context, string) error{
			TimerExpire:                   a.expire,
			revocation.TimerRun:           a.Runner.Run,
			revocation.TimerVerify:        a.Runner.Verify,
			revocation.TimerTokensExpired: a.Runner.TokensExpired,
			TimerThread:                   a.retryThread,
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

// Recover makes sure every unfinished request has its timer. A timer is written just after the state it
// belongs to, so a crash between the two could leave a request that never expires or never resumes; setting
// the timers again is harmless because every handler checks the stored state first.
func (a *App) Recover(ctx context.Context) error {
	reqs, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusApproved, store.StatusRunning}})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range reqs {
		t := store.Timer{Kind: revocation.TimerRun, RequestID: r.ID, Due: a.now()}
		if r.Status == store.StatusPending {
			t = store.Timer{Kind: TimerExpire, RequestID: r.ID, Due: r.ExpiresAt}
		}
		if err := a.Store.SetTimer(ctx, t); err != nil {
			return fmt.Errorf("recover %s: %w", r.ID, err)
		}
	}
	if len(reqs) > 0 {
		a.Log.Info("recovered unfinished requests", "count", len(reqs))
	}
	// News stored just before a crash may not have reached the thread yet.
	done, err := a.Store.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusDone},
		FinishedSince: a.now().Add(-threadKeep)})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range append(reqs, done...) {
		if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerThread, RequestID: r.ID, Due: a.now()}); err != nil {
			return fmt.Errorf("recover %s: %w", r.ID, err)
		}
	}
	return nil
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

func (a *App) principal(ctx context.Context, actor store.Actor) (approvals.Principal, error) {
	ok, err := a.Admins.IsAdmin(ctx, actor)
	if err != nil {
		return approvals.Principal{Actor: actor}, fmt.Errorf("checking whether you are a sign-out admin failed: %w", err)
	}
	return approvals.Principal{Actor: actor, Admin: ok}, nil
}

func (a *App) respond(ctx context.Context, respond func(context.Context, Message) error, text string) {
	if respond == nil {
		return
	}
	if err := respond(ctx, Message{Text: text, Blocks: []Block{{Kind: BlockSection, Text: text}}}); err != nil {
		a.Log.Warn("respond", "err", err)
	}
}

// refused tells the actor no and writes the refusal to the audit log; nothing else changes.
func (a *App) refused(ctx context.Context, respond func(context.Context, Message) error, actor store.Actor, requestID string, err error) {
	var ref *approvals.Refusal
	if errors.As(err, &ref) {
		_ = a.Store.AppendEvent(ctx, store.Event{At: a.now(), RequestID: requestID, Actor: actor, Type: "refused", Detail: ref.Reason})
		a.respond(ctx, respond, ":no_entry: "+ref.Reason)
		return
	}
	a.Log.Error("request failed", "request", requestID, "err", err)
	a.respond(ctx, respond, ":warning: "+err.Error())
}

// HandleCommand runs one /signout command. Adapters call it after acknowledging the platform.
func (a *App) HandleCommand(ctx context.Context, ev CommandEvent) {
	if ev.DeliveryID != "" {
		first, err := a.Store.SeenDelivery(ctx, ev.Actor.Platform+":cmd:"+ev.DeliveryID, a.now())
		if err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, "", err)
			return
		}
		if !first {
			a.Log.Info("duplicate command delivery ignored", "delivery", ev.DeliveryID)
			return
		}
	}
	cmd, err := commands.Parse(ev.Text)
	if err != nil {
		a.respond(ctx, ev.Respond, ":grey_question: "+err.Error())
		return
	}
	if cmd.Kind == commands.KindHelp {
		a.respond(ctx, ev.Respond, commands.Help(cmd.Topic))
		return
	}
	p, err := a.principal(ctx, ev.Actor)
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	switch cmd.Kind {
	case commands.KindStatus:
		if err := approvals.Authorize(p, approvals.ActStatus, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, "", err)
			return
		}
		a.status(ctx, ev, cmd.Target)
	case commands.KindCancel:
		a.cancel(ctx, ev, p, strings.ToUpper(cmd.RequestID))
	default:
		if err := approvals.Authorize(p, approvals.ActRequest, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, "", err)
			return
		}
		a.request(ctx, ev, cmd)
	}
}

// request resolves the scope, stores the request and posts the approval card.
func (a *App) request(ctx context.Context, ev CommandEvent, cmd commands.Command) {
	sc, err := scope.Resolve(ctx, a.Dir, a.Protection, cmd)
	if err != nil {
		var amb *graph.AmbiguousError
		switch {
		case errors.Is(err, scope.ErrProtection):
			a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("%w. Nothing was requested; ask whoever runs signoutbot to fix the setting", err))
		case errors.As(err, &amb), errors.Is(err, graph.ErrNotFound):
			a.respond(ctx, ev.Respond, ":grey_question: "+err.Error()+". Nothing was requested.")
		default:
			a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not resolve who is in scope, nothing was requested: %w", err))
		}
		return
	}
	pending, _ := sc.Counts()
	if pending == 0 {
		a.respond(ctx, ev.Respond, noTargetsText(sc))
		return
	}
	now := a.now()
	pol := a.Policy.WithDefaults()
	req := store.Request{
		ID:                newRequestID(),
		Status:            store.StatusPending,
		Requester:         ev.Actor,
		Reason:            cmd.Reason,
		ScopeKind:         sc.Kind,
		ScopeText:         sc.Text,
		Command:           "/signout " + cmd.String(),
		RequiredApprovals: pol.RequiredApprovals(pending),
		CreatedAt:         now,
		ExpiresAt:         now.Add(pol.Expiry),
		Conversation:      ev.Conversation,
	}
	targets := make([]store.Target, len(sc.Targets))
	for i, t := range sc.Targets {
		t.RequestID, t.UpdatedAt = req.ID, now
		targets[i] = t
	}
	dedup := ""
	if ev.DeliveryID != "" {
		dedup = ev.Actor.Platform + ":" + ev.DeliveryID
	}
	for attempt := 0; ; attempt++ {
		var created store.Request
		created, err = a.Store.CreateRequest(ctx, req, targets, dedup)
		if !errors.Is(err, store.ErrConflict) || attempt == 3 {
			req = created
			break
		}
		// The random id is taken (about one in a billion): draw another.
		req.ID = newRequestID()
		for i := range targets {
			targets[i].RequestID = req.ID
		}
	}
	if errors.Is(err, store.ErrDuplicate) {
		return
	}
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not save the request, nothing was requested: %w", err))
		return
	}
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: req.ID, Due: req.ExpiresAt}); err != nil {
		a.Log.Error("set expiry timer", "request", req.ID, "err", err)
	}
	a.postCard(ctx, ev.Respond, req, targets)
}

// postCard posts the request's message, remembers where, and starts its thread (the full scope list when the
// card shows only a sample).
func (a *App) postCard(ctx context.Context, respond func(context.Context, Message) error, req store.Request, targets []store.Target) {
	m, ok := a.messenger(req.Conversation.Platform)
	if !ok {
		a.withdraw(ctx, respond, req, fmt.Errorf("no chat adapter for platform %q", req.Conversation.Platform))
		return
	}
	ref, err := m.Post(ctx, req.Conversation, a.render(ctx, req, targets))
	if err != nil {
		a.withdraw(ctx, respond, req, err)
		return
	}
	for {
		req.Message = ref
		_, err = a.Store.UpdateRequest(ctx, req)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
		if req, err = a.Store.GetRequest(ctx, req.ID); err != nil {
			break
		}
	}
	if err != nil {
		a.Log.Error("save message reference", "request", req.ID, "err", err)
		return
	}
	a.flushThread(ctx, req.ID) // the full scope list, when the card shows a sample
}

// botActor is the bot itself in the audit log, for what it decides on its own.
var botActor = store.Actor{Platform: "signoutbot", ID: "signoutbot", Name: "signoutbot"}

// withdraw cancels a request whose approval card could not be posted: nobody could approve it, and a request
// that nobody can see must not linger. The requester is told why.
func (a *App) withdraw(ctx context.Context, respond func(context.Context, Message) error, req store.Request, cause error) {
	a.Log.Error("post request card", "request", req.ID, "err", cause)
	for {
		req.Status, req.DecidedAt, req.DecidedBy = store.StatusCancelled, a.now(), botActor
		_, err := a.Store.UpdateRequest(ctx, req, store.Event{At: a.now(), RequestID: req.ID, Actor: botActor, Type: "cancelled",
			Detail: "withdrawn: the approval card could not be posted: " + cause.Error()})
		if errors.Is(err, store.ErrConflict) {
			if req, err = a.Store.GetRequest(ctx, req.ID); err == nil && req.Status == store.StatusPending {
				continue
			}
		}
		if err != nil {
			a.Log.Error("withdraw request", "request", req.ID, "err", err)
		}
		break
	}
	_ = a.Store.DeleteTimer(ctx, TimerExpire, req.ID)
	a.respond(ctx, respond, fmt.Sprintf(":warning: I could not post the approval card here (%v), so request %s was withdrawn and "+
		"nobody will be signed out. If I am not in this channel, invite me (`/invite @signoutbot`) and ask again.", cause, req.ID))
}

// HandleAction runs a button click.
func (a *App) HandleAction(ctx context.Context, ev ActionEvent) {
	if ev.DeliveryID != "" {
		first, err := a.Store.SeenDelivery(ctx, ev.Actor.Platform+":act:"+ev.DeliveryID, a.now())
		if err != nil || !first {
			return
		}
	}
	req, err := a.Store.GetRequest(ctx, ev.Value)
	if err != nil {
		a.respond(ctx, ev.Respond, fmt.Sprintf(":grey_question: Request %q was not found.", ev.Value))
		return
	}
	p, err := a.principal(ctx, ev.Actor)
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
		return
	}
	switch ev.ActionID {
	case "approve":
		a.approve(ctx, ev, p, req)
	case "deny":
		a.close(ctx, ev.Respond, p, req, approvals.ActDeny, store.StatusDenied)
	default:
		a.respond(ctx, ev.Respond, "Unknown button "+ev.ActionID)
	}
}

func (a *App) approve(ctx context.Context, ev ActionEvent, p approvals.Principal, req store.Request) {
	if err := approvals.Authorize(p, approvals.ActApprove, &req, a.now()); err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
		return
	}
	err := a.Store.AddApproval(ctx, req.ID, store.Approval{Actor: ev.Actor, At: a.now()},
		store.Event{At: a.now(), RequestID: req.ID, Actor: ev.Actor, Type: "approved", Detail: "approved by " + ev.Actor.Name})
	if errors.Is(err, store.ErrDuplicate) {
		return // a double click: the first one counted
	}
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
		return
	}
	for {
		if req, err = a.Store.GetRequest(ctx, req.ID); err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
			return
		}
		if req.Status != store.StatusPending || !approvals.Approved(req) {
			break
		}
		req.Status, req.DecidedAt = store.StatusApproved, a.now()
		_, err = a.Store.UpdateRequest(ctx, req, store.Event{At: a.now(), RequestID: req.ID, Actor: ev.Actor, Type: "quorum",
			Detail: fmt.Sprintf("approved by %s", approverNames(req))})
		if errors.Is(err, store.ErrConflict) {
			continue // another approver's click got there first; look again
		}
		if err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
			return
		}
		_ = a.Store.DeleteTimer(ctx, TimerExpire, req.ID)
		if err := a.Store.SetTimer(ctx, store.Timer{Kind: revocation.TimerRun, RequestID: req.ID, Due: a.now()}); err != nil {
			a.Log.Error("schedule run", "request", req.ID, "err", err)
		}
		a.kickScheduler()
		break
	}
	a.refresh(ctx, req.ID, true)
}

// close denies or cancels a pending request.
func (a *App) close(ctx context.Context, respond func(context.Context, Message) error, p approvals.Principal, req store.Request, act approvals.Action, to store.RequestStatus) {
	for {
		if err := approvals.Authorize(p, act, &req, a.now()); err != nil {
			a.refused(ctx, respond, p.Actor, req.ID, err)
			return
		}
		req.Status, req.DecidedAt, req.DecidedBy = to, a.now(), p.Actor
		_, err := a.Store.UpdateRequest(ctx, req, store.Event{At: a.now(), RequestID: req.ID, Actor: p.Actor, Type: string(to),
			Detail: fmt.Sprintf("%s by %s", to, p.Actor.Name)})
		if errors.Is(err, store.ErrConflict) {
			if req, err = a.Store.GetRequest(ctx, req.ID); err == nil {
				continue
			}
		}
		if err != nil {
			a.refused(ctx, respond, p.Actor, req.ID, err)
			return
		}
		break
	}
	_ = a.Store.DeleteTimer(ctx, TimerExpire, req.ID)
	a.refresh(ctx, req.ID, true)
}

func (a *App) cancel(ctx context.Context, ev CommandEvent, p approvals.Principal, id string) {
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		a.respond(ctx, ev.Respond, fmt.Sprintf(":grey_question: Request %q was not found.", id))
		return
	}
	a.close(ctx, ev.Respond, p, req, approvals.ActCancel, store.StatusCancelled)
	if r, err := a.Store.GetRequest(ctx, id); err == nil && r.Status == store.StatusCancelled {
		a.respond(ctx, ev.Respond, fmt.Sprintf("Request %s is cancelled; nobody was signed out.", id))
	}
}

// expire ends a pending request whose time is up.
func (a *App) expire(ctx context.Context, id string) error {
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if req.Status == store.StatusPending {
		if a.now().Before(req.ExpiresAt) {
			return a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: id, Due: req.ExpiresAt})
		}
		req.Status, req.DecidedAt = store.StatusExpired, a.now()
		if _, err := a.Store.UpdateRequest(ctx, req, store.Event{At: a.now(), RequestID: id, Type: "expired",
			Detail: "nobody approved in time"}); err != nil {
			return err
		}
		a.refresh(ctx, id, true)
	}
	return a.Store.DeleteTimer(ctx, TimerExpire, id)
}

// Notify turns runner notices into message edits and thread replies. The replies are rendered from the audit
// log, not from the notice (see flushThread), so nothing the runner stored is lost if this process dies first.
func (a *App) Notify(ctx context.Context, n revocation.Notice) {
	switch n.Kind {
	case revocation.NoticeProgress:
		a.refresh(ctx, n.RequestID, false)
		return
	case revocation.NoticeStarted:
		a.refresh(ctx, n.RequestID, true)
		return
	}
	a.refresh(ctx, n.RequestID, true)
	a.kickThread(ctx, n.RequestID)
}

// refresh re-renders a request's message from the store and edits it in place. Chat platforms rate-limit
// edits, so progress edits closer than MinEditInterval are folded into one trailing edit that shows the latest
// state; force edits at once.
func (a *App) refresh(ctx context.Context, id string, force bool) {
	a.mu.Lock()
	if a.lastEdit == nil {
		a.lastEdit = make(map[string]time.Time)
		a.trailing = make(map[string]bool)
	}
	if wait := a.MinEditInterval - time.Since(a.lastEdit[id]); !force && wait > 0 {
		if !a.trailing[id] {
			a.trailing[id] = true
			time.AfterFunc(wait, func() {
				a.mu.Lock()
				delete(a.trailing, id)
				a.mu.Unlock()
				a.refresh(context.WithoutCancel(ctx), id, true)
			})
		}
		a.mu.Unlock()
		return
	}
	a.lastEdit[id] = time.Now()
	a.mu.Unlock()
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		a.Log.Error("refresh", "request", id, "err", err)
		return
	}
	m, ok := a.messenger(req.Message.Platform)
	if !ok || req.Message.ID == "" {
		return
	}
	targets, err := a.Store.Targets(ctx, id)
	if err != nil {
		a.Log.Error("refresh targets", "request", id, "err", err)
		return
	}
	if err := m.Update(ctx, req.Message, a.render(ctx, req, targets)); err != nil {
		a.Log.Warn("update message", "request", id, "err", err)
	}
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

func approverNames(r store.Request) string {
	var names []string
	for _, ap := range r.Approvals {
		names = append(names, ap.Actor.Name)
	}
	return strings.Join(names, " and ")
}
