// Package bot connects chat platforms to the sign-out workflow: it turns adapters' events into commands,
// requests into messages, and posts or edits those messages through the adapter the request came from.
package bot

import (
	"context"

	"github.com/signoutbot/signoutbot/store"
)

// Message is a platform-neutral chat message. Its text uses the neutral markup written down in markup.go.
type Message struct {
	Text   string  // one-line summary: notification text and fallback
	Blocks []Block // the body
}

// BlockKind is the kind of a block.
type BlockKind string

const (
	BlockHeader  BlockKind = "header"
	BlockSection BlockKind = "section"
	BlockContext BlockKind = "context" // small print
	BlockActions BlockKind = "actions"
	BlockDivider BlockKind = "divider"
)

// Block is one part of a message.
type Block struct {
	Kind    BlockKind
	Text    string
	Fields  []string // short label/value pairs shown side by side
	Buttons []Button
}

// Button is an interactive button. Its ID and Value come back in an ActionEvent.
type Button struct {
	ID      string // "approve", "deny"
	Label   string
	Value   string // the request id
	Style   string // "primary", "danger" or ""
	Confirm *Confirm
}

// Confirm asks "are you sure?" before a button acts.
type Confirm struct {
	Title, Text, OK, Cancel string
}

// Person is what a platform tells about a user.
type Person struct {
	ID       string
	Name     string
	Email    string
	TimeZone string // IANA name, e.g. "Europe/Berlin"; "" when unknown
	Deleted  bool
}

// Messenger is what each chat platform adapter provides. References are opaque: only the adapter that made
// a MessageRef reads its fields.
type Messenger interface {
	Platform() string
	// Post sends a new message to the conversation of ref (a channel, or a thread when ref.Thread is set).
	Post(ctx context.Context, conv store.MessageRef, msg Message) (store.MessageRef, error)
	// Update edits a message in place.
	Update(ctx context.Context, ref store.MessageRef, msg Message) error
	// Reply posts in the thread under ref.
	Reply(ctx context.Context, ref store.MessageRef, msg Message) (store.MessageRef, error)
	// Private shows msg to one person only, where the platform lets them see it alone: Slack shows an ephemeral
	// message in the conversation; Teams, which has none in a channel, writes in the person's personal chat
	// with the bot. How is the adapter's business; the core only says who and what.
	Private(ctx context.Context, conv store.MessageRef, userID string, msg Message) error
	// Person looks a user up (name, e-mail, time zone).
	Person(ctx context.Context, userID string) (Person, error)
}
