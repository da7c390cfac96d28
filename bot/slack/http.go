package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// maxBody bounds what is read from Slack before the signature is checked.
const maxBody = 1 << 20

// Handler serves Slack's slash-command and interactivity requests. Every request's signature is verified
// before anything in it is parsed; the request is acknowledged at once and the work runs in the background
// (Slack gives up after 3 seconds).
type Handler struct {
	App           *bot.App
	Messenger     *Messenger
	SigningSecret string
	Log           *slog.Logger
	// Background is the context work runs under after the HTTP request has been answered.
	Background context.Context

	wg sync.WaitGroup
}

// Wait blocks until background work started by the handler is done (for tests and shutdown).
func (h *Handler) Wait() { h.wg.Wait() }

// Routes mounts /slack/commands and /slack/interactions.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /slack/commands", h.commands)
	mux.HandleFunc("POST /slack/interactions", h.interactions)
}

// verified reads the body and checks Slack's v0 signature and timestamp (at most 5 minutes old).
func (h *Handler) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, h.SigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		h.Log.Warn("slack request with bad signature refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

func (h *Handler) background(f func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx := h.Background
		if ctx == nil {
			ctx = context.Background()
		}
		f(ctx)
	}()
}

func (h *Handler) commands(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verified(w, r); !ok {
		return
	}
	cmd, err := slack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "bad slash command", http.StatusBadRequest)
		return
	}
	ev := h.commandEvent(cmd)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": "Working on `" + cmd.Command + " " + escape(cmd.Text) + "`…"})
	h.background(func(ctx context.Context) { h.App.HandleCommand(ctx, ev) })
}

func (h *Handler) commandEvent(cmd slack.SlashCommand) bot.CommandEvent {
	conv := store.MessageRef{Platform: Platform, Channel: cmd.ChannelID}
	actor := store.Actor{Platform: Platform, ID: cmd.UserID, Name: cmd.UserName}
	return bot.CommandEvent{
		Actor: actor, Conversation: conv, Text: cmd.Text, DeliveryID: cmd.TriggerID,
		Respond: func(ctx context.Context, m bot.Message) error { return h.Messenger.Ephemeral(ctx, conv, actor.ID, m) },
	}
}

func (h *Handler) interactions(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verified(w, r); !ok {
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(r.PostFormValue("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	for _, ev := range h.actionEvents(cb) {
		h.background(func(ctx context.Context) { h.App.HandleAction(ctx, ev) })
	}
}

func (h *Handler) actionEvents(cb slack.InteractionCallback) []bot.ActionEvent {
	if cb.Type != slack.InteractionTypeBlockActions {
		return nil
	}
	conv := store.MessageRef{Platform: Platform, Channel: cb.Channel.ID}
	actor := store.Actor{Platform: Platform, ID: cb.User.ID, Name: cb.User.Name}
	var out []bot.ActionEvent
	for _, a := range cb.ActionCallback.BlockActions {
		out = append(out, bot.ActionEvent{
			Actor: actor, Conversation: conv,
			Message:  store.MessageRef{Platform: Platform, Channel: cb.Channel.ID, ID: cb.Container.MessageTs},
			ActionID: a.ActionID, Value: a.Value, DeliveryID: cb.TriggerID + ":" + a.ActionID,
			Respond: func(ctx context.Context, m bot.Message) error { return h.Messenger.Ephemeral(ctx, conv, actor.ID, m) },
		})
	}
	return out
}
