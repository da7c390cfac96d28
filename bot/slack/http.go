package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// MaxBody bounds what is read of a request before its signature is checked (1 MiB): Slack's own payloads
// are a few kilobytes, and anyone can send an unsigned request.
const MaxBody = 1 << 20

// Handler serves Slack's slash-command and interactivity requests. Every request's signature is verified
// before anything in it is parsed; the request is acknowledged at once and the work runs in the background
// (Slack gives up after 3 seconds).
type Handler struct {
	App           *bot.App
	Messenger     *Messenger
	SigningSecret string
	// TeamID and AppID, when set (SLACK_TEAM_ID, SLACK_APP_ID), are the only workspace and Slack app whose
	// commands and interactions are acted on. A signing secret or app token that leaks from, or is shared
	// with, another workspace's installation then still cannot drive this bot.
	TeamID, AppID string
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
	// MaxBytesReader, unlike a LimitReader, also closes the connection after an oversized body, so a client
	// cannot keep streaming into a request that has been refused.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.Log.Warn("slack request with oversized body refused", "path", r.URL.Path, "remote", r.RemoteAddr, "limit", MaxBody)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
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
	if err := h.checkOrigin(cmd.TeamID, cmd.APIAppID); err != nil {
		h.Log.Warn("slack command refused", "err", err, "user", cmd.UserID, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	ev := h.commandEvent(cmd)
	w.Header().Set("Content-Type", "application/json")
	// The typed text is shown in a code span; as a literal it cannot close the span and format the rest.
	// Slack sends it with &, < and > escaped, which the literal would escape a second time.
	_ = json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral",
		"text": "Working on `" + mrkdwnText(bot.Literal(cmd.Command+" "+unescape.Replace(cmd.Text))) + "`…"})
	h.background(func(ctx context.Context) { h.App.HandleCommand(ctx, ev) })
}

func (h *Handler) commandEvent(cmd slack.SlashCommand) bot.CommandEvent {
	conv := store.MessageRef{Platform: Platform, Channel: cmd.ChannelID}
	actor := store.Actor{Platform: Platform, ID: cmd.UserID, Name: cmd.UserName}
	return bot.CommandEvent{
		Actor: actor, Conversation: conv, Text: cmd.Text, DeliveryID: cmd.TriggerID,
		Respond: func(ctx context.Context, m bot.Message) error { return h.Messenger.Private(ctx, conv, actor.ID, m) },
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
	if err := h.checkOrigin(cb.Team.ID, cb.APIAppID); err != nil {
		h.Log.Warn("slack interaction refused", "err", err, "user", cb.User.ID, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	ack, work := h.interaction(cb)
	if ack != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ack)
	} else {
		w.WriteHeader(http.StatusOK) // an empty 200: for a submitted modal, "close it"
	}
	for _, f := range work {
		h.background(f)
	}
}

// actionEvents turns a block_actions payload (a button click on a card) into one event per action.
func (h *Handler) actionEvents(cb slack.InteractionCallback) []bot.ActionEvent {
	conv := store.MessageRef{Platform: Platform, Channel: cb.Channel.ID}
	actor := store.Actor{Platform: Platform, ID: cb.User.ID, Name: cb.User.Name}
	var out []bot.ActionEvent
	for _, a := range cb.ActionCallback.BlockActions {
		out = append(out, bot.ActionEvent{
			Actor: actor, Conversation: conv,
			Message:  store.MessageRef{Platform: Platform, Channel: cb.Channel.ID, ID: cb.Container.MessageTs},
			ActionID: a.ActionID, Value: a.Value, DeliveryID: cb.TriggerID + ":" + a.ActionID,
			Respond: func(ctx context.Context, m bot.Message) error { return h.Messenger.Private(ctx, conv, actor.ID, m) },
		})
	}
	return out
}

// unescape undoes Slack's escaping of what users type (the only entities Slack writes).
var unescape = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// checkOrigin refuses a command or interaction from another workspace or Slack app than the configured ones.
func (h *Handler) checkOrigin(teamID, appID string) error {
	if h.TeamID != "" && teamID != h.TeamID {
		return fmt.Errorf("workspace %q is not the configured SLACK_TEAM_ID", teamID)
	}
	if h.AppID != "" && appID != h.AppID {
		return fmt.Errorf("app %q is not the configured SLACK_APP_ID", appID)
	}
	return nil
}
