package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// MaxBody bounds what is read of an activity (1 MiB). Teams' activities are a few kilobytes, and the body is only
// read once the token is known to be the Bot Connector's.
const MaxBody = 1 << 20

// DefaultInvokeTimeout is how long a card click waits for the core before it is answered anyway: Teams waits
// only seconds for an invoke's answer and then shows the clicker an error.
const DefaultInvokeTimeout = 10 * time.Second

// Invoke answer types of Universal Actions (adaptiveCard/action).
const (
	invokeCard    = cardContentType
	invokeMessage = "application/vnd.microsoft.activity.message"
	invokeError   = "application/vnd.microsoft.error"
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	App       *bot.App
	Messenger *Messenger
	// Auth validates every request's token. Required unless Anonymous.
	Auth *Authenticator
	// Anonymous accepts requests without a token, as a local Bot Framework Emulator sends them. It is refused
	// with an app id configured (Auth or the Messenger's), answers only requests from a loopback address, and
	// is logged loudly at start and on every request. The caller must listen on loopback only.
	Anonymous bool
	// TenantID, when set, is the only Entra tenant whose activities are acted on (a single-tenant bot): people of
	// other tenants in shared channels or external chats are refused with 403.
	TenantID string
	// ChannelIDs are the Bot Framework channels accepted (default "msteams"). Only Teams vouches for
	// from.aadObjectId, which four-eyes relies on: on Web Chat or Direct Line the client could set it.
	ChannelIDs []string
	// InvokeTimeout defaults to DefaultInvokeTimeout.
	InvokeTimeout time.Duration
	// Background is the context work runs under after the HTTP request has been answered.
	Background context.Context
	Log        *slog.Logger
}

// Handler serves POST /api/messages, the bot's messaging endpoint. Every request's bearer token is validated
// before its body is read (401 otherwise); then the activity must match the token (service URL, endorsed
// channel) and the configured channel and tenant (403 otherwise). Nothing of a refused request is stored or
// passed to the core, and each refusal is logged.
//
// Messages are acknowledged at once and handled in the background (Wait waits for them). A click on a card
// (adaptiveCard/action) is handled while Teams waits, so its answer can carry the card as it now stands; the
// clicker sees that card at once (Teams shows an invoke's card to the one client that asked), and everybody
// else sees it when the core edits the card in place. A refusal is answered as that card with the refusal above
// it, for the clicker only, until the next edit replaces it.
type Handler struct {
	app        *bot.App
	msgr       *Messenger
	auth       *Authenticator
	anonymous  bool
	tenantID   string
	channels   []string
	invokeWait time.Duration
	bg         context.Context
	log        *slog.Logger

	wg sync.WaitGroup
}

// NewHandler checks the configuration. Anonymous mode with an app id is an error, and so is neither.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.App == nil || cfg.Messenger == nil {
		return nil, errors.New("teams: the handler needs the app and the messenger")
	}
	h := &Handler{app: cfg.App, msgr: cfg.Messenger, auth: cfg.Auth, anonymous: cfg.Anonymous, tenantID: cfg.TenantID,
		channels: cfg.ChannelIDs, invokeWait: cfg.InvokeTimeout, bg: cfg.Background, log: cfg.Log}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.bg == nil {
		h.bg = context.Background()
	}
	if len(h.channels) == 0 {
		h.channels = []string{"msteams"}
	}
	if h.invokeWait <= 0 {
		h.invokeWait = DefaultInvokeTimeout
	}
	switch {
	case cfg.Anonymous && (cfg.Auth != nil || cfg.Messenger.AppID() != ""):
		return nil, errors.New("teams: anonymous mode is only for a local emulator and cannot be combined with an app id")
	case !cfg.Anonymous && cfg.Auth == nil:
		return nil, errors.New("teams: an authenticator (the bot's app id) is required")
	case cfg.Anonymous:
		h.log.Error("teams: ANONYMOUS MODE: /api/messages accepts unauthenticated activities from loopback addresses; " +
			"never expose this listener beyond this machine")
	}
	return h, nil
}

// Wait blocks until background work started by the handler is done (for tests and shutdown).
func (h *Handler) Wait() { h.wg.Wait() }

// Routes mounts POST /api/messages.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("POST /api/messages", h)
}

func (h *Handler) background(f func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f(h.bg)
	}()
}

func loopbackRemote(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP handles one activity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var tok Token
	if h.anonymous {
		if !loopbackRemote(r.RemoteAddr) {
			h.log.Error("teams: anonymous mode refused a request from a non-loopback address", "remote", r.RemoteAddr)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.log.Warn("teams: ANONYMOUS MODE: accepting an unauthenticated activity", "remote", r.RemoteAddr)
	} else {
		var err error
		if tok, err = h.auth.Authenticate(r.Context(), r.Header.Get("Authorization")); err != nil {
			h.log.Warn("teams: request with an invalid token refused", "remote", r.RemoteAddr, "err", err)
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	// MaxBytesReader, unlike a LimitReader, also closes the connection after an oversized body.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.log.Warn("teams: activity with an oversized body refused", "remote", r.RemoteAddr, "limit", MaxBody)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var act activity
	if err := json.Unmarshal(body, &act); err != nil {
		h.log.Warn("teams: unreadable activity refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "bad activity", http.StatusBadRequest)
		return
	}
	if err := h.admit(tok, &act); err != nil {
		h.log.Warn("teams: activity refused", "remote", r.RemoteAddr, "type", act.Type, "id", act.ID, "err", err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	h.msgr.observe(&act)
	switch act.Type {
	case "message":
		h.message(w, &act)
	case "invoke":
		h.invoke(w, &act)
	default:
		// conversationUpdate (the bot added to a team, members joining), messageReaction, typing, …: nothing
		// to do, but Teams expects a 200.
		h.log.Info("teams: activity ignored", "type", act.Type, "name", act.Name, "conversation", convID(&act))
		w.WriteHeader(http.StatusOK)
	}
}

// admit checks that a validated token covers the activity, and that the activity is from a channel and tenant
// this bot serves.
func (h *Handler) admit(tok Token, act *activity) error {
	if !h.anonymous {
		if err := tok.Covers(act.ServiceURL, act.ChannelID); err != nil {
			return err
		}
		if !slices.Contains(h.channels, act.ChannelID) {
			return fmt.Errorf("%w: channel %q is not served (only %v)", ErrForbidden, act.ChannelID, h.channels)
		}
	}
	if h.tenantID != "" && !strings.EqualFold(act.tenantID(), h.tenantID) {
		return fmt.Errorf("%w: tenant %q is not this bot's", ErrForbidden, act.tenantID())
	}
	if act.ServiceURL == "" || act.Conversation == nil || act.Conversation.ID == "" {
		return fmt.Errorf("%w: the activity names no conversation", ErrForbidden)
	}
	return nil
}

func convID(act *activity) string {
	if act.Conversation == nil {
		return ""
	}
	return act.Conversation.ID
}

// private answers one person in their 1:1 chat with the bot.
func (h *Handler) private(conv store.MessageRef, userID string) func(context.Context, bot.Message) error {
	return func(ctx context.Context, m bot.Message) error { return h.msgr.Private(ctx, conv, userID, m) }
}

func (h *Handler) message(w http.ResponseWriter, act *activity) {
	conv := act.conversationRef()
	actor := act.actor()
	if ca, ok := act.submitAction(); ok {
		// Action.Submit: the fallback of clients without Universal Actions. Teams expects no answer but a 200;
		// the clicker learns of a refusal in their 1:1 chat, everybody of the outcome from the edited card.
		ev := h.actionEvent(act, ca)
		ev.Respond = h.private(conv, actor.ID)
		w.WriteHeader(http.StatusOK)
		h.background(func(ctx context.Context) { h.app.HandleAction(ctx, ev) })
		return
	}
	text, addressed := act.commandText()
	if !addressed {
		// Teams sends channel messages only when the bot is @mentioned, unless it was granted more; then the
		// rest of the channel's talk is none of its business.
		h.log.Debug("teams: message not addressed to the bot ignored", "conversation", convID(act))
		w.WriteHeader(http.StatusOK)
		return
	}
	ev := bot.CommandEvent{Actor: actor, Profile: act.profile(), Conversation: conv, Text: text, DeliveryID: act.ID,
		Personal: act.conversationType() == "personal", Respond: h.private(conv, actor.ID)}
	w.WriteHeader(http.StatusOK)
	h.background(func(ctx context.Context) { h.app.HandleCommand(ctx, ev) })
}

func (h *Handler) actionEvent(act *activity, ca cardAction) bot.ActionEvent {
	conv := act.conversationRef()
	msg := store.MessageRef{Platform: Platform, Channel: conv.Channel, ID: act.ReplyToID, Extra: decodeExtra(conv.Extra).shared().encode()}
	return bot.ActionEvent{Actor: act.actor(), Profile: act.profile(), Conversation: conv, Message: msg, ActionID: ca.Verb,
		Value: ca.RequestID, Note: ca.Reason, DeliveryID: act.ID}
}

// replies collects what the core tells the clicker while the invoke is waited for; whatever comes after the
// answer has gone goes to their 1:1 chat instead, so nothing is lost.
type replies struct {
	mu       sync.Mutex
	answered bool
	notes    []bot.Message
	late     func(context.Context, bot.Message) error
}

func (r *replies) respond(ctx context.Context, m bot.Message) error {
	r.mu.Lock()
	if !r.answered {
		r.notes = append(r.notes, m)
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	return r.late(ctx, m)
}

func (r *replies) answer() []bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered = true
	return r.notes
}

type invokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

func writeInvoke(w http.ResponseWriter, resp invokeResponse) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
}

// invoke answers a click on an Action.Execute button (adaptiveCard/action). The core runs under the handler's
// background context, not under a deadline: cancelling it halfway (an approval stored, the quorum not yet
// settled) would leave work for the next start-up. Only the wait is bounded; past it the clicker gets the card
// as it stands with a note, and the core finishes on its own.
func (h *Handler) invoke(w http.ResponseWriter, act *activity) {
	if act.Name != "adaptiveCard/action" {
		h.log.Info("teams: invoke not handled", "name", act.Name)
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	ca, ok := act.invokeAction()
	if !ok || ca.RequestID == "" {
		h.log.Warn("teams: card action without a verb or request id", "id", act.ID)
		writeInvoke(w, invokeResponse{StatusCode: http.StatusBadRequest, Type: invokeError,
			Value: map[string]string{"code": "BadRequest", "message": "This card action names no request."}})
		return
	}
	ev := h.actionEvent(act, ca)
	rs := &replies{late: h.private(ev.Conversation, ev.Actor.ID)}
	ev.Respond = rs.respond
	done := make(chan struct{})
	h.background(func(ctx context.Context) {
		defer close(done)
		h.app.HandleAction(ctx, ev)
	})
	timer := time.NewTimer(h.invokeWait)
	defer timer.Stop()
	timedOut := false
	select {
	case <-done:
	case <-timer.C:
		timedOut = true
	}
	notes := rs.answer()
	if timedOut {
		h.log.Warn("teams: card action still running when its answer was due", "request", ca.RequestID, "verb", ca.Verb)
		notes = append(notes, bot.Message{Text: "Still working", Blocks: []bot.Block{{Kind: bot.BlockSection,
			Text: "⏳ Still working on your click; the card will show the outcome."}}})
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.bg), 5*time.Second)
	defer cancel()
	card, _, err := h.app.Card(ctx, ca.RequestID)
	if err != nil {
		text := ""
		for _, n := range notes {
			text += summaryText(n) + "\n"
		}
		if text == "" {
			text = fmt.Sprintf("Request %s was not found.", ca.RequestID)
		}
		writeInvoke(w, invokeResponse{StatusCode: http.StatusOK, Type: invokeMessage, Value: strings.TrimSpace(text)})
		return
	}
	writeInvoke(w, invokeResponse{StatusCode: http.StatusOK, Type: invokeCard, Value: renderCard(card, notes)})
}
