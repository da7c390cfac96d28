package slack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
// the file's comment. Slack needs the size first, so the content is spooled to a temporary file (a
// 100,000-user report is about 15 MB, which the bot's memory need not hold) and read from there for each attempt.
func (m *Messenger) ReplyFile(ctx context.Context, ref store.MessageRef, f bot.File) (store.MessageRef, error) {
	if f.Write == nil {
		return store.MessageRef{}, errors.New("slack: the file has no content")
	}
	thread := ref.ID
	if ref.Thread != "" {
		thread = ref.Thread
	}
	spool, size, err := spoolFile(ctx, f)
	if err != nil {
		return store.MessageRef{}, err
	}
	defer func() {
		spool.Close()
		_ = os.Remove(spool.Name())
	}()
	var sum *slack.FileSummary
	err = call(ctx, func() (err error) {
		sum, err = m.uploads.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader: io.NewSectionReader(spool, 0, size), FileSize: int(size), Filename: f.Name, Title: f.Title,
			InitialComment: fileComment(f.Message), Channel: ref.Channel, ThreadTimestamp: thread,
		})
		return err
	})
	if err != nil {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found") {
			return store.MessageRef{}, fmt.Errorf("slack files upload: %w; I am not in this channel: invite me with `/invite @signoutbot`", err)
		}
		if errors.As(err, &se) && se.Err == "missing_scope" {
			// The thread waits for this file (its news stay in order), so say what unblocks it.
			return store.MessageRef{}, fmt.Errorf("slack files upload: %w; the app needs the files:write scope "+
				"(deploy/slack-app-manifest.yaml): add it and reinstall the app", err)
		}
		return store.MessageRef{}, fmt.Errorf("slack files upload: %w", err)
	}
	return store.MessageRef{Platform: Platform, Channel: ref.Channel, ID: sum.ID, Thread: thread}, nil
}

// spoolFile writes f's content to a new temporary file (readable by this user only; ReplyFile removes it after
// the upload) and returns it with its size.
func spoolFile(ctx context.Context, f bot.File) (*os.File, int64, error) {
	spool, err := os.CreateTemp("", "signoutbot-*-"+filepath.Base(f.Name))
	if err != nil {
		return nil, 0, fmt.Errorf("slack: file %s: %w", f.Name, err)
	}
	w := bufio.NewWriter(spool)
	err = f.Write(ctx, w)
	if err == nil {
		err = w.Flush()
	}
	var size int64
	if err == nil {
		size, err = spool.Seek(0, io.SeekEnd)
	}
	if err != nil {
		spool.Close()
		_ = os.Remove(spool.Name())
		return nil, 0, fmt.Errorf("slack: file %s: %w", f.Name, err)
	}
	return spool, size, nil
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
