package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands and interactions over Socket Mode (no public URL needed). Each one is
// acknowledged before any work starts. invalid_auth is fatal: retrying a bad token only hides the problem.
func (h *Handler) RunSocketMode(ctx context.Context, appToken string) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New("SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write")
	}
	opts := append(h.Messenger.clientOptions(), slack.OptionAppLevelToken(appToken))
	client := socketmode.New(slack.New(h.Messenger.token, opts...))
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt, ok := <-client.Events:
				if !ok {
					return
				}
				h.socketEvent(ctx, client, evt)
			}
		}
	}()
	err := client.RunContext(ctx)
	if ctx.Err() != nil {
		return nil // stopped on purpose
	}
	return fmt.Errorf("slack socket mode: %w", err)
}

func (h *Handler) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		if err := h.checkOrigin(cmd.TeamID, cmd.APIAppID); err != nil {
			// Acknowledged all the same: Slack would otherwise deliver the envelope again and again.
			_ = client.Ack(*evt.Request)
			h.Log.Warn("slack command refused (socket mode)", "err", err, "user", cmd.UserID)
			return
		}
		_ = client.Ack(*evt.Request, map[string]any{"response_type": "ephemeral", "text": "Working on it…"})
		ev := h.commandEvent(cmd)
		h.background(func(context.Context) { h.App.HandleCommand(ctx, ev) })
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		if err := h.checkOrigin(cb.Team.ID, cb.APIAppID); err != nil {
			_ = client.Ack(*evt.Request)
			h.Log.Warn("slack interaction refused (socket mode)", "err", err, "user", cb.User.ID)
			return
		}
		ack, work := h.interaction(cb)
		if ack != nil {
			_ = client.Ack(*evt.Request, ack)
		} else {
			_ = client.Ack(*evt.Request) // an empty acknowledgement: for a submitted modal, "close it"
		}
		for _, f := range work {
			h.background(func(context.Context) { f(ctx) })
		}
	case socketmode.EventTypeInvalidAuth:
		h.Log.Error("slack socket mode: invalid_auth; check SLACK_APP_TOKEN and SLACK_BOT_TOKEN")
	case socketmode.EventTypeConnectionError:
		h.Log.Warn("slack socket mode connection error", "data", fmt.Sprint(evt.Data))
	}
}
