package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/store"
)

// Deny asks for an optional reason in a modal: Deny on the card opens it (views.open with the click's
// trigger_id), and its submission (a view_submission interaction) is what denies.
const (
	denyActionID   = "deny"
	denyCallbackID = "signout_deny"
	reasonBlockID  = "deny_reason"
	reasonActionID = "reason"
	// maxDenyReason is the longest reason, in characters: the same cap as a request's --reason, so a reason
	// fits wherever the card shows one.
	maxDenyReason = commands.MaxReasonLen
	// triggerLifetime is how long Slack accepts a trigger_id after the click. A views.open that has not
	// answered by then cannot succeed, so waiting longer only delays the fallback.
	triggerLifetime = 3 * time.Second
	// Slack's limits for a modal's title, submit and close texts, in characters.
	maxModalTitle  = 24
	maxModalButton = 24
)

// denyMeta is the modal's private_metadata: what the submission must act on. Slack hands it back unchanged and
// users cannot edit it, so the deny acts on the card that was clicked, not on anything typed.
type denyMeta struct {
	Request string `json:"request"`
	Channel string `json:"channel"`
	Message string `json:"message_ts"`
}

// denyModal is the "Deny request R…" modal with its one optional reason field.
func denyModal(meta denyMeta) (slack.ModalViewRequest, error) {
	raw, err := json.Marshal(meta)
	if err != nil {
		return slack.ModalViewRequest{}, fmt.Errorf("deny modal metadata: %w", err)
	}
	input := slack.NewPlainTextInputBlockElement(nil, reasonActionID)
	input.Multiline = true
	input.MaxLength = maxDenyReason
	reason := slack.NewInputBlock(reasonBlockID, plain("Reason (optional, shown on the card)", 2000), nil, input)
	reason.Optional = true
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      denyCallbackID,
		Title:           plain("Deny request "+meta.Request, maxModalTitle),
		Submit:          plain("Deny", maxModalButton),
		Close:           plain("Back", maxModalButton),
		PrivateMetadata: string(raw),
		Blocks:          slack.Blocks{BlockSet: []slack.Block{reason}},
	}, nil
}

// openView opens a modal. It is tried once, bounded by the trigger's lifetime: waiting out a rate limit, as
// call does for messages, would only outlive the trigger.
func (m *Messenger) openView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	ctx, cancel := context.WithTimeout(ctx, triggerLifetime)
	defer cancel()
	if _, err := m.api.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("slack views.open: %w", err)
	}
	return nil
}

// interaction decides what one interaction payload does: the acknowledgement to answer Slack with (nil: an
// empty 200, which also closes a submitted modal) and the work to run after it. It does no I/O, so both HTTP
// and Socket Mode can acknowledge within Slack's 3 seconds.
func (h *Handler) interaction(cb slack.InteractionCallback) (ack *slack.ViewSubmissionResponse, work []func(context.Context)) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		for _, ev := range h.actionEvents(cb) {
			if ev.ActionID == denyActionID {
				work = append(work, func(ctx context.Context) { h.askDenyReason(ctx, cb.TriggerID, ev) })
				continue
			}
			work = append(work, func(ctx context.Context) { h.App.HandleAction(ctx, ev) })
		}
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != denyCallbackID {
			return nil, nil
		}
		ev, err := h.denySubmission(cb)
		if err != nil {
			h.Log.Warn("slack deny submission ignored", "err", err, "user", cb.User.ID, "view", cb.View.ID)
			return nil, nil
		}
		if n := utf8.RuneCountInString(ev.Note); n > maxDenyReason {
			// Slack's max_length stops this in its clients; say so in the modal rather than cut the reason.
			return slack.NewErrorsViewSubmissionResponse(map[string]string{
				reasonBlockID: fmt.Sprintf("At most %d characters, please (this has %d).", maxDenyReason, n)}), nil
		}
		work = append(work, func(ctx context.Context) { h.App.HandleAction(ctx, ev) })
	case slack.InteractionTypeViewClosed:
		// Back: nothing was decided, the request stays as it is.
	}
	return nil, work
}

// askDenyReason opens the deny modal for a Deny click. When Slack will not open it (the trigger expired
// because the click reached the bot late, or Slack failed), the click still denies, without a reason: an
// admin who clicked Deny must not find the request still open for approval.
func (h *Handler) askDenyReason(ctx context.Context, triggerID string, click bot.ActionEvent) {
	view, err := denyModal(denyMeta{Request: click.Value, Channel: click.Message.Channel, Message: click.Message.ID})
	if err == nil {
		err = h.Messenger.openView(ctx, triggerID, view)
	}
	if err == nil {
		return
	}
	var slackErr slack.SlackErrorResponse
	if errors.As(err, &slackErr) && slackErr.Err == "exchanged_trigger_id" {
		// This very click already opened the modal (the interaction was delivered twice): the person is
		// typing a reason there, so denying now would pre-empt it.
		return
	}
	h.Log.Warn("deny modal not opened; denying without a reason", "request", click.Value, "user", click.Actor.ID, "err", err)
	text := fmt.Sprintf("⚠️ Slack would not open the dialog for a reason (%s), so request %s is denied without one.",
		bot.Literal(err.Error()), bot.Literal(click.Value))
	if rerr := click.Respond(ctx, bot.Message{Text: text, Blocks: []bot.Block{{Kind: bot.BlockSection, Text: text}}}); rerr != nil {
		h.Log.Warn("respond", "err", rerr)
	}
	h.App.HandleAction(ctx, click)
}

// denySubmission turns a submitted deny modal into the deny it stands for, acting on the card named in its
// private_metadata and answering in that card's channel.
func (h *Handler) denySubmission(cb slack.InteractionCallback) (bot.ActionEvent, error) {
	var meta denyMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil {
		return bot.ActionEvent{}, fmt.Errorf("private_metadata: %w", err)
	}
	if meta.Request == "" || meta.Channel == "" {
		return bot.ActionEvent{}, fmt.Errorf("private_metadata %q names no request or channel", cb.View.PrivateMetadata)
	}
	reason := ""
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[reasonBlockID][reasonActionID].Value)
	}
	conv := store.MessageRef{Platform: Platform, Channel: meta.Channel}
	actor := store.Actor{Platform: Platform, ID: cb.User.ID, Name: cb.User.Name}
	return bot.ActionEvent{
		Actor: actor, Conversation: conv,
		Message:  store.MessageRef{Platform: Platform, Channel: meta.Channel, ID: meta.Message},
		ActionID: denyActionID, Value: meta.Request, Note: reason,
		// A view is submitted once; its id names the submission if Slack ever delivers it twice.
		DeliveryID: cb.View.ID + ":" + string(slack.InteractionTypeViewSubmission),
		Respond:    func(ctx context.Context, m bot.Message) error { return h.Messenger.Private(ctx, conv, actor.ID, m) },
	}, nil
}
