package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// actionOpenURL is an Adaptive Card button that opens a link.
type actionOpenURL struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

var _ bot.FileReplier = (*Messenger)(nil)

// ReplyFile posts f in the thread under ref as a link to the bot's own download route (f.URL): the Bot
// Framework takes no file attachments from bots in channels (only in a personal chat, after the user accepts a
// consent card), so the reply is f's message with a Download button, and says until when the link works.
// Without a link (the bot has no public address) the reply says so instead of showing a broken one.
func (m *Messenger) ReplyFile(ctx context.Context, ref store.MessageRef, f bot.File) (store.MessageRef, error) {
	root := ref.Thread
	if root == "" {
		root = ref.ID
	}
	if root == "" {
		return store.MessageRef{}, errors.New("teams: the reference names no message to reply to")
	}
	conv := store.MessageRef{Platform: Platform, Channel: ref.Channel, Thread: root, Extra: ref.Extra}
	x, err := refFor(conv)
	if err != nil {
		return store.MessageRef{}, err
	}
	msg := f.Message
	msg.Blocks = append([]bot.Block(nil), msg.Blocks...)
	if f.URL != "" {
		msg.Blocks = append(msg.Blocks, bot.Block{Kind: bot.BlockContext, Text: fmt.Sprintf(
			"The link works for anyone who has it, without signing in, until %s; the file is read when it is opened.", bot.Time(f.Expires))})
	} else {
		msg.Blocks = append(msg.Blocks, bot.Block{Kind: bot.BlockContext, Text: "⚠️ No download link: Teams takes no files from bots, " +
			"and the bot's public address (SIGNOUTBOT_PUBLIC_URL) is not set, so it cannot link to its own copy."})
	}
	act := m.messageActivity(x, msg)
	if f.URL != "" {
		card, ok := act.Attachments[0].Content.(adaptiveCard)
		if !ok {
			return store.MessageRef{}, errors.New("teams: the file's card did not render")
		}
		card.Actions = append(card.Actions, actionOpenURL{Type: "Action.OpenUrl", Title: "Download " + f.Name, URL: f.URL})
		act.Attachments[0].Content = card
	}
	act.ReplyToID = conv.Thread
	to := target(conv, x)
	var res resourceResponse
	if err := m.call(ctx, http.MethodPost, x.ServiceURL, conversationsPath(to, "activities"), m.pacerFor(x.ServiceURL, to), act, &res); err != nil {
		return store.MessageRef{}, err
	}
	if res.ID == "" {
		return store.MessageRef{}, fmt.Errorf("teams: the Connector answered no activity id for the file link to %s", to)
	}
	return store.MessageRef{Platform: Platform, Channel: conv.Channel, ID: res.ID, Thread: conv.Thread, Extra: x.shared().encode()}, nil
}
