package slack

import (
	"strings"

	"github.com/slack-go/slack"

	"github.com/signoutbot/signoutbot/bot"
)

// Block Kit limits that matter here.
const (
	maxSectionText = 3000
	maxHeaderText  = 150
	maxBlocks      = 50
)

// escape keeps user-supplied text (display names, reasons) from becoming Slack links or @channel mentions.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, escape(s), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// splitText cuts long text at line breaks into pieces Slack accepts in one section.
func splitText(s string, limit int) []string {
	var out []string
	for len(s) > limit {
		cut := strings.LastIndexByte(s[:limit], '\n')
		if cut <= 0 {
			cut = limit
		}
		out = append(out, s[:cut])
		s = strings.TrimPrefix(s[cut:], "\n")
	}
	return append(out, s)
}

// blocks renders a platform-neutral message as Block Kit.
func blocks(m bot.Message) []slack.Block {
	var out []slack.Block
	for _, b := range m.Blocks {
		switch b.Kind {
		case bot.BlockHeader:
			t := b.Text
			if len(t) > maxHeaderText {
				t = t[:maxHeaderText-1] + "…"
			}
			out = append(out, slack.NewHeaderBlock(plain(t)))
		case bot.BlockSection:
			if b.Text != "" {
				for _, part := range splitText(escape(b.Text), maxSectionText) {
					out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, part, false, false), nil, nil))
				}
			}
			if len(b.Fields) > 0 {
				var fields []*slack.TextBlockObject
				for _, f := range b.Fields {
					fields = append(fields, mrkdwn(f))
				}
				out = append(out, slack.NewSectionBlock(nil, fields, nil))
			}
		case bot.BlockContext:
			for _, part := range splitText(escape(b.Text), maxSectionText) {
				out = append(out, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, part, false, false)))
			}
		case bot.BlockDivider:
			out = append(out, slack.NewDividerBlock())
		case bot.BlockActions:
			var els []slack.BlockElement
			for _, btn := range b.Buttons {
				e := slack.NewButtonBlockElement(btn.ID, btn.Value, plain(btn.Label))
				switch btn.Style {
				case "primary":
					e.Style = slack.StylePrimary
				case "danger":
					e.Style = slack.StyleDanger
				}
				if c := btn.Confirm; c != nil {
					e.Confirm = slack.NewConfirmationBlockObject(plain(c.Title), mrkdwn(c.Text), plain(c.OK), plain(c.Cancel))
				}
				els = append(els, e)
			}
			out = append(out, slack.NewActionBlock("signout_actions", els...))
		}
	}
	if len(out) > maxBlocks {
		// Never cut silently: say that the message was too long for Slack.
		out = append(out[:maxBlocks-1], slack.NewContextBlock("", mrkdwn("…message shortened: Slack allows 50 blocks.")))
	}
	return out
}

func msgOptions(m bot.Message) []slack.MsgOption {
	return []slack.MsgOption{slack.MsgOptionText(escape(m.Text), false), slack.MsgOptionBlocks(blocks(m)...)}
}
