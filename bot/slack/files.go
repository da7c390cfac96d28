package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// fileUploadTimeout bounds the upload of one file: longer than DefaultAPITimeout, as a 100,000-user report is
// about 15 MB.
const fileUploadTimeout = 5 * time.Minute

var _ bot.FileReplier = (*Messenger)(nil)

// ReplyFile uploads f into the thread under ref with Slack's external upload (files.getUploadURLExternal, the
// bytes to the URL it returns, files.completeUploadExternal with channel_id and thread_ts), with f.Message as
// the file's comment. Slack needs the size first, so the content is written to memory before the upload.
func (m *Messenger) ReplyFile(ctx context.Context, ref store.MessageRef, f bot.File) (store.MessageRef, error) {
	if f.Write == nil {
		return store.MessageRef{}, errors.New("slack: the file has no content")
	}
	thread := ref.ID
	if ref.Thread != "" {
		thread = ref.Thread
	}
	var buf bytes.Buffer
	if err := f.Write(ctx, &buf); err != nil {
		return store.MessageRef{}, fmt.Errorf("slack: file %s: %w", f.Name, err)
	}
	content := buf.Bytes()
	var sum *slack.FileSummary
	err := call(ctx, func() (err error) {
		sum, err = m.uploads.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader: bytes.NewReader(content), FileSize: len(content), Filename: f.Name, Title: f.Title,
			InitialComment: fileComment(f.Message), Channel: ref.Channel, ThreadTimestamp: thread,
		})
		return err
	})
	if err != nil {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found") {
			return store.MessageRef{}, fmt.Errorf("slack files upload: %w; I am not in this channel: invite me with `/invite @signoutbot`", err)
		}
		return store.MessageRef{}, fmt.Errorf("slack files upload: %w", err)
	}
	return store.MessageRef{Platform: Platform, Channel: ref.Channel, ID: sum.ID, Thread: thread}, nil
}

// fileComment is a message as the initial_comment of a file: its texts in mrkdwn, one block a line (Slack shows
// the comment as a message, but takes no blocks beside it).
func fileComment(msg bot.Message) string {
	var lines []string
	for _, b := range msg.Blocks {
		if b.Text != "" {
			lines = append(lines, mrkdwnText(b.Text))
		}
	}
	if len(lines) == 0 {
		return mrkdwnText(msg.Text)
	}
	return strings.Join(lines, "\n")
}

// uploadClient is the Web API client for uploads: the messenger's, with room for a large file.
func (m *Messenger) uploadClient() *slack.Client {
	hc := &http.Client{Timeout: max(m.httpClient.Timeout, fileUploadTimeout), Transport: m.httpClient.Transport}
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if m.apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(m.apiURL))
	}
	return slack.New(m.token, opts...)
}
