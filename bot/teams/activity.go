package teams

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// The Bot Framework activity schema, as far as the adapter reads or writes it. Unknown fields are ignored on the
// way in and never sent on the way out.

type account struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	// Email and UserPrincipalName are TeamsChannelAccount fields: the members API always fills them, activities
	// only sometimes.
	Email             string `json:"email,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
}

type conversationAccount struct {
	ID               string `json:"id,omitempty"`
	ConversationType string `json:"conversationType,omitempty"` // "personal", "groupChat", "channel"
	TenantID         string `json:"tenantId,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Content     any    `json:"content,omitempty"`
}

type entity struct {
	Type      string   `json:"type"`
	Mentioned *account `json:"mentioned,omitempty"`
	Text      string   `json:"text,omitempty"`
	// clientInfo:
	Timezone string `json:"timezone,omitempty"`
	Locale   string `json:"locale,omitempty"`
}

type idName struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type channelData struct {
	Tenant  *idName `json:"tenant,omitempty"`
	Team    *idName `json:"team,omitempty"`
	Channel *idName `json:"channel,omitempty"`
}

type activity struct {
	Type          string               `json:"type"`
	ID            string               `json:"id,omitempty"`
	Name          string               `json:"name,omitempty"`
	ServiceURL    string               `json:"serviceUrl,omitempty"`
	ChannelID     string               `json:"channelId,omitempty"`
	From          *account             `json:"from,omitempty"`
	Recipient     *account             `json:"recipient,omitempty"`
	Conversation  *conversationAccount `json:"conversation,omitempty"`
	ReplyToID     string               `json:"replyToId,omitempty"`
	Text          string               `json:"text,omitempty"`
	Summary       string               `json:"summary,omitempty"`
	LocalTimezone string               `json:"localTimezone,omitempty"`
	Value         json.RawMessage      `json:"value,omitempty"`
	Attachments   []attachment         `json:"attachments,omitempty"`
	Entities      []entity             `json:"entities,omitempty"`
	ChannelData   *channelData         `json:"channelData,omitempty"`
}

// refExtra is the Teams part of a store.MessageRef (its Extra JSON): everything needed to reach the conversation
// again after a restart, from the reference alone.
type refExtra struct {
	ServiceURL string `json:"serviceUrl"`
	TenantID   string `json:"tenantId,omitempty"`
	// Type is the conversation type: "personal", "groupChat" or "channel".
	Type   string `json:"type,omitempty"`
	TeamID string `json:"teamId,omitempty"`
	// BotID is the bot's account in the conversation ("28:<app id>"), as the activity addressed it.
	BotID string `json:"botId,omitempty"`
	// UserID is, for a personal chat, the person the bot talks with there.
	UserID string `json:"userId,omitempty"`
	// CommandThread is, for a command typed in a channel, the root of the thread it was typed in. It is kept for
	// the audit trail only: cards are posted as new threads of their own (see Handler).
	CommandThread string `json:"commandThread,omitempty"`
}

func (x refExtra) encode() string {
	b, _ := json.Marshal(x) // a struct of strings always marshals
	return string(b)
}

func decodeExtra(s string) refExtra {
	var x refExtra
	_ = json.Unmarshal([]byte(s), &x) // an empty or foreign Extra leaves the zero value, which callers reject
	return x
}

const (
	convPersonal = "personal"
	convGroup    = "groupChat"
	convChannel  = "channel"
)

// threadMarker is how Teams names a reply chain in a channel: "<channel conversation id>;messageid=<root id>".
const threadMarker = ";messageid="

// splitThread splits a channel conversation id into the channel's conversation and the thread root, if any.
func splitThread(convID string) (base, root string) {
	if i := strings.Index(convID, threadMarker); i >= 0 {
		return convID[:i], convID[i+len(threadMarker):]
	}
	return convID, ""
}

// conversationType is the activity's conversation type, derived from the ids where Teams left it out.
func (a *activity) conversationType() string {
	if a.Conversation == nil {
		return ""
	}
	switch t := a.Conversation.ConversationType; t {
	case convPersonal, convGroup, convChannel:
		return t
	}
	switch {
	case a.ChannelData != nil && a.ChannelData.Channel != nil && a.ChannelData.Channel.ID != "":
		return convChannel
	case a.Conversation.IsGroup:
		return convGroup
	}
	return convPersonal
}

func (a *activity) tenantID() string {
	if a.ChannelData != nil && a.ChannelData.Tenant != nil && a.ChannelData.Tenant.ID != "" {
		return a.ChannelData.Tenant.ID
	}
	if a.Conversation != nil {
		return a.Conversation.TenantID
	}
	return ""
}

// conversationRef is where an activity happened, as the core stores it (CommandEvent.Conversation). For a
// channel, Channel is the channel's own conversation id and Thread is left empty, so that Post starts a new
// thread: every request gets a thread of its own, whose root is its card and whose replies are its news, instead
// of being buried in whatever thread the command was typed in.
func (a *activity) conversationRef() store.MessageRef {
	x := refExtra{ServiceURL: a.ServiceURL, TenantID: a.tenantID(), Type: a.conversationType()}
	if a.Recipient != nil {
		x.BotID = a.Recipient.ID
	}
	if a.ChannelData != nil && a.ChannelData.Team != nil {
		x.TeamID = a.ChannelData.Team.ID
	}
	convID := ""
	if a.Conversation != nil {
		convID = a.Conversation.ID
	}
	switch x.Type {
	case convChannel:
		base, root := splitThread(convID)
		if root == "" {
			root = a.ID // a new post in the channel is the root of its own thread
		}
		x.CommandThread = root
		convID = base
	case convPersonal:
		if a.From != nil {
			x.UserID = a.From.ID
		}
	}
	return store.MessageRef{Platform: Platform, Channel: convID, Extra: x.encode()}
}

// actor is who sent the activity. Teams vouches for from.aadObjectId on an authenticated activity, so it is the
// Entra user four-eyes compares.
func (a *activity) actor() store.Actor {
	if a.From == nil {
		return store.Actor{Platform: Platform}
	}
	return store.Actor{Platform: Platform, ID: a.From.ID, Name: a.From.Name, Entra: a.From.AADObjectID}
}

// profile is what the activity says about its sender: the time zone of the client they typed or clicked in, and
// an e-mail where Teams sent one.
func (a *activity) profile() bot.Person {
	p := bot.Person{}
	if a.From != nil {
		p.ID, p.Name = a.From.ID, a.From.Name
		p.Email = a.From.Email
		if p.Email == "" {
			p.Email = a.From.UserPrincipalName
		}
	}
	for _, e := range a.Entities {
		if e.Type == "clientInfo" && e.Timezone != "" {
			p.TimeZone = e.Timezone
			break
		}
	}
	if p.TimeZone == "" {
		p.TimeZone = a.LocalTimezone
	}
	return p
}

// atTag matches Teams' mention markup in message text.
var atTag = regexp.MustCompile(`(?is)<at[^>]*>(.*?)</at>`)

// commandText turns a message into the text of a /signout command. In a channel or group chat the bot only acts
// when it is @mentioned (addressed reports whether it was): the mention is removed, as are the tags of any other
// mention (their names stay), and an optional leading "signout" or "/signout". In a personal chat the whole text
// is the command.
func (a *activity) commandText() (text string, addressed bool) {
	text = a.Text
	botID := ""
	if a.Recipient != nil {
		botID = a.Recipient.ID
	}
	for _, e := range a.Entities {
		if e.Type != "mention" || e.Mentioned == nil || botID == "" || e.Mentioned.ID != botID {
			continue
		}
		addressed = true
		if e.Text != "" {
			text = strings.ReplaceAll(text, e.Text, " ")
		}
	}
	text = atTag.ReplaceAllString(text, "$1")
	// Teams pads mentions with non-breaking spaces, which strings.Fields would keep inside a word.
	text = strings.NewReplacer("&nbsp;", " ", "\u00a0", " ").Replace(text)
	text = strings.TrimSpace(text)
	for _, prefix := range []string{"/signout", "signout"} {
		if len(text) >= len(prefix) && strings.EqualFold(text[:len(prefix)], prefix) {
			rest := text[len(prefix):]
			if rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r' {
				text = strings.TrimSpace(rest)
				break
			}
		}
	}
	if a.conversationType() == convPersonal {
		addressed = true
	}
	return text, addressed
}

// cardAction is what a card button sends: Action.Execute's verb and data, or Action.Submit's data.
type cardAction struct {
	Verb      string
	RequestID string
	Reason    string
}

// submitData is the data the adapter puts on its buttons, with the card's inputs merged in by Teams.
type submitData struct {
	Action    string `json:"action"` // Action.Submit only: Action.Execute carries it as its verb
	RequestID string `json:"requestId"`
	Reason    string `json:"reason"`
}

// invokeAction reads an adaptiveCard/action invoke (Universal Actions: value.action.verb and .data).
func (a *activity) invokeAction() (cardAction, bool) {
	var v struct {
		Action struct {
			Type string          `json:"type"`
			Verb string          `json:"verb"`
			Data json.RawMessage `json:"data"`
		} `json:"action"`
	}
	if err := json.Unmarshal(a.Value, &v); err != nil || v.Action.Verb == "" {
		return cardAction{}, false
	}
	var d submitData
	if len(v.Action.Data) > 0 {
		if err := json.Unmarshal(v.Action.Data, &d); err != nil {
			return cardAction{}, false
		}
	}
	return cardAction{Verb: v.Action.Verb, RequestID: strings.TrimSpace(d.RequestID), Reason: d.Reason}, true
}

// submitAction reads the Action.Submit fallback: a message whose value carries the button's data.
func (a *activity) submitAction() (cardAction, bool) {
	if len(a.Value) == 0 {
		return cardAction{}, false
	}
	var d submitData
	if err := json.Unmarshal(a.Value, &d); err != nil || d.Action == "" {
		return cardAction{}, false
	}
	return cardAction{Verb: d.Action, RequestID: strings.TrimSpace(d.RequestID), Reason: d.Reason}, true
}
