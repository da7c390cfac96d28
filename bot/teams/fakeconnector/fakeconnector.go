// Package fakeconnector is a local Bot Framework for tests and rehearsals of the Teams adapter. One TLS server
// (the Azure SDK refuses plain-HTTP authorities) plays three parts:
//
//   - the Bot Connector service a bot calls (/v3/conversations…): it records created conversations and every
//     posted, replied and edited activity (thread-safe accessors), answers ids as Teams does, can answer 429 with
//     Retry-After or 5xx a given number of times, and refuses every call whose bearer token it did not issue;
//   - the Entra token endpoint of the bot's tenant (OpenID configuration and client credentials for the app id
//     and secret it was given), which issues those tokens;
//   - the Bot Connector's OpenID metadata and signing keys (JWKS, each key with its "endorsements"), with which
//     it signs the tokens of the activities it sends to a bot (Send), and variants of them that a bot must refuse.
package fakeconnector

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

// Options configures New.
type Options struct {
	// AppID and AppSecret are the bot's app registration; TenantID its (single) tenant.
	AppID, AppSecret, TenantID string
}

// Account is a Bot Framework channel account.
type Account struct {
	ID                string `json:"id,omitempty"`
	Name              string `json:"name,omitempty"`
	AADObjectID       string `json:"aadObjectId,omitempty"`
	Email             string `json:"email,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
}

// Conversation is a Bot Framework conversation account.
type Conversation struct {
	ID               string `json:"id,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
}

// Entity is an activity entity (mention, clientInfo).
type Entity struct {
	Type      string   `json:"type"`
	Mentioned *Account `json:"mentioned,omitempty"`
	Text      string   `json:"text,omitempty"`
	Timezone  string   `json:"timezone,omitempty"`
	Locale    string   `json:"locale,omitempty"`
}

// IDName is an object of Teams' channelData.
type IDName struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// ChannelData is Teams' channelData.
type ChannelData struct {
	Tenant  *IDName `json:"tenant,omitempty"`
	Team    *IDName `json:"team,omitempty"`
	Channel *IDName `json:"channel,omitempty"`
}

// Attachment is an activity attachment; Content is kept as sent.
type Attachment struct {
	ContentType string          `json:"contentType"`
	Content     json.RawMessage `json:"content,omitempty"`
}

// Activity is a Bot Framework activity, as far as Teams and the adapter use it.
type Activity struct {
	Type          string        `json:"type"`
	ID            string        `json:"id,omitempty"`
	Name          string        `json:"name,omitempty"`
	Timestamp     string        `json:"timestamp,omitempty"`
	ServiceURL    string        `json:"serviceUrl,omitempty"`
	ChannelID     string        `json:"channelId,omitempty"`
	From          *Account      `json:"from,omitempty"`
	Recipient     *Account      `json:"recipient,omitempty"`
	Conversation  *Conversation `json:"conversation,omitempty"`
	ReplyToID     string        `json:"replyToId,omitempty"`
	Text          string        `json:"text,omitempty"`
	Summary       string        `json:"summary,omitempty"`
	LocalTimezone string        `json:"localTimezone,omitempty"`
	Value         any           `json:"value,omitempty"`
	Attachments   []Attachment  `json:"attachments,omitempty"`
	Entities      []Entity      `json:"entities,omitempty"`
	ChannelData   *ChannelData  `json:"channelData,omitempty"`
}

// Message is an activity the bot posted, as the fake keeps it.
type Message struct {
	// Conversation is the chat's or channel's conversation id; Thread the root of the channel thread a reply
	// was posted in ("" for a new post or a chat message).
	Conversation string
	Thread       string
	ID           string
	Activity     Activity // as last posted or edited
	Edits        int
}

// AllText is the message's summary, text and every text of its cards, for assertions.
func (m Message) AllText() string {
	var b strings.Builder
	b.WriteString(m.Activity.Summary)
	b.WriteString("\n" + m.Activity.Text)
	for _, a := range m.Activity.Attachments {
		b.WriteString("\n" + CardText(a.Content))
	}
	return b.String()
}

// Card is the message's first Adaptive Card, decoded.
func (m Message) Card() map[string]any {
	for _, a := range m.Activity.Attachments {
		if a.ContentType == "application/vnd.microsoft.card.adaptive" {
			var c map[string]any
			if json.Unmarshal(a.Content, &c) == nil {
				return c
			}
		}
	}
	return nil
}

// CardText is every text, title, label and placeholder of a card (JSON), one per line, for assertions.
func CardText(card json.RawMessage) string {
	var v any
	if json.Unmarshal(card, &v) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				switch c := x[k].(type) {
				case string:
					if k == "text" || k == "title" || k == "label" || k == "placeholder" {
						b.WriteString(c + "\n")
					}
				default:
					walk(c)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

// CreatedConversation is a createConversation call the fake answered.
type CreatedConversation struct {
	ID       string
	IsGroup  bool
	BotID    string
	Members  []string
	TenantID string
	// ChannelDataTenant is channelData.tenant.id, which Teams requires besides tenantId.
	ChannelDataTenant string
}

// Member is a person the members API knows.
type Member struct {
	ID, Name, AADObjectID, Email, UPN string
}

// Call is one Bot Connector request and how the fake answered it.
type Call struct {
	Method, Path string // Path is unescaped
	At           time.Time
	Status       int
	RetryAfter   time.Duration // with a 429
}

// Server is the fake Bot Framework.
type Server struct {
	opts        Options
	srv         *httptest.Server
	tokenSecret []byte
	keys        *keyring

	mu          sync.Mutex
	seq         int64
	messages    []*Message
	created     []CreatedConversation
	personal    map[string]string // user → their 1:1 conversation
	members     map[string]Member
	notIn       map[string]bool
	throttleN   int
	throttleFor time.Duration
	failN       int
	failStatus  int
	calls       []Call
	refused     int
	anonymous   bool
	editLimit   editThrottle
}

// New starts a fake Bot Framework for one bot.
func New(opts Options) *Server {
	if opts.AppID == "" {
		opts.AppID = "00000000-0000-0000-0000-0000000000b0"
	}
	if opts.AppSecret == "" {
		opts.AppSecret = "fake-bot-secret"
	}
	if opts.TenantID == "" {
		opts.TenantID = "11111111-1111-1111-1111-111111111111"
	}
	s := &Server{opts: opts, tokenSecret: randomBytes(32), keys: newKeyring(), seq: 1700000000000,
		personal: map[string]string{}, members: map[string]Member{}, notIn: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", s.botOpenID)
	mux.HandleFunc("GET /v1/.well-known/keys", s.botKeys)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.entraOpenID)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("POST /v3/conversations", s.connector(s.createConversation))
	mux.HandleFunc("POST /v3/conversations/{conv}/activities", s.connector(s.postActivity))
	mux.HandleFunc("POST /v3/conversations/{conv}/activities/{id}", s.connector(s.postActivity))
	mux.HandleFunc("PUT /v3/conversations/{conv}/activities/{id}", s.connector(s.putActivity))
	mux.HandleFunc("GET /v3/conversations/{conv}/members/{member}", s.connector(s.member))
	s.srv = httptest.NewTLSServer(mux)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is "https://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL }

// ServiceURL is the service URL activities carry (with the trailing slash Teams' have).
func (s *Server) ServiceURL() string { return s.srv.URL + "/" }

// OpenIDURL is the Bot Connector OpenID metadata document (AuthConfig.OpenIDMetadataURL).
func (s *Server) OpenIDURL() string { return s.srv.URL + "/v1/.well-known/openidconfiguration" }

// AuthorityHost is the Entra authority host for azidentity.
func (s *Server) AuthorityHost() string { return s.srv.URL + "/" }

// CertPEM is the fake's TLS certificate, for a bot configured by files (signoutbot serve's SIGNOUTBOT_TEAMS_CA).
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Client trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AppID, AppSecret and TenantID are the bot's registration.
func (s *Server) AppID() string     { return s.opts.AppID }
func (s *Server) AppSecret() string { return s.opts.AppSecret }
func (s *Server) TenantID() string  { return s.opts.TenantID }

// BotID is the bot's account id in conversations.
func (s *Server) BotID() string { return "28:" + s.opts.AppID }

// Credential is the real azidentity client-secret credential for the bot's app, pointed at this server.
func (s *Server) Credential() (azcore.TokenCredential, error) {
	c, err := azidentity.NewClientSecretCredential(s.opts.TenantID, s.opts.AppID, s.opts.AppSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{
			Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()}, Transport: s.Client()},
			DisableInstanceDiscovery: true})
	if err != nil {
		return nil, fmt.Errorf("fakeconnector credential: %w", err)
	}
	return c, nil
}

// AddMember makes a person known to the members API, in every conversation.
func (s *Server) AddMember(m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[m.ID] = m
}

// RemoveBotFrom makes posts to a conversation fail as Teams does when the bot is not in it (403).
func (s *Server) RemoveBotFrom(conversation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notIn[conversation] = true
}

// AcceptAnonymous makes the Connector accept calls without a token, as a local Bot Framework Emulator does for a
// bot without an app id.
func (s *Server) AcceptAnonymous() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.anonymous = true
}

// Throttle makes the next n Connector requests answer 429 with Retry-After (whole seconds, at least 1).
func (s *Server) Throttle(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleN, s.throttleFor = n, max(retryAfter.Round(time.Second), time.Second)
}

// Fail makes the next n Connector requests answer status (a 5xx) with no Retry-After.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// Calls lists every Connector request in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Unauthorized counts Connector requests refused for their token.
func (s *Server) Unauthorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Created lists the conversations created (createConversation).
func (s *Server) Created() []CreatedConversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.created)
}

func (s *Server) copies(keep func(*Message) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if keep(m) {
			out = append(out, *m)
		}
	}
	return out
}

// Messages lists every message the bot posted in a conversation (a channel with its threads), in order.
func (s *Server) Messages(conversation string) []Message {
	return s.copies(func(m *Message) bool { return m.Conversation == conversation })
}

// TopLevel lists the bot's new posts (thread roots) in a channel, or its messages in a chat.
func (s *Server) TopLevel(conversation string) []Message {
	return s.copies(func(m *Message) bool { return m.Conversation == conversation && m.Thread == "" })
}

// Thread lists the bot's replies in the channel thread whose root is root.
func (s *Server) Thread(conversation, root string) []Message {
	return s.copies(func(m *Message) bool { return m.Conversation == conversation && m.Thread == root })
}

// Message finds one message.
func (s *Server) Message(conversation, id string) (Message, bool) {
	for _, m := range s.Messages(conversation) {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// Personal lists what the bot sent to a person's 1:1 chat.
func (s *Server) Personal(userID string) []Message {
	s.mu.Lock()
	conv := s.personal[userID]
	s.mu.Unlock()
	if conv == "" {
		return nil
	}
	return s.Messages(conv)
}

// PersonalConversation is the id of the 1:1 chat between the bot and a person ("" until created).
func (s *Server) PersonalConversation(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.personal[userID]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func connectorError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// appClaims are the claims of the app tokens the fake issues.
type appClaims struct {
	AppID    string `json:"appid"`
	TenantID string `json:"tid"`
	jwt.RegisteredClaims
}

const botFrameworkAudience = "https://api.botframework.com"

// connector wraps a Connector endpoint: the call is logged, its token checked, and queued 429s and 5xx served.
func (s *Server) connector(next func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		call := Call{Method: r.Method, Path: r.URL.Path, At: time.Now()}
		status := s.authorizeCall(r)
		s.mu.Lock()
		switch {
		case status != 0:
			s.refused++
		case s.throttleN > 0:
			s.throttleN--
			status, call.RetryAfter = http.StatusTooManyRequests, s.throttleFor
		case s.failN > 0:
			s.failN--
			status = s.failStatus
		case r.Method == http.MethodPut && s.editLimit.refuse():
			status, call.RetryAfter = http.StatusTooManyRequests, s.editLimit.retryAfter
		}
		s.mu.Unlock()
		switch {
		case status == http.StatusUnauthorized:
			connectorError(w, status, "Unauthorized", "Authorization has been denied for this request.")
		case status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", fmt.Sprint(int(call.RetryAfter/time.Second)))
			connectorError(w, status, "Throttled", "Too many requests.")
		case status != 0:
			connectorError(w, status, "ServiceError", "Simulated failure.")
		default:
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next(rec, r)
			status = rec.status
		}
		call.Status = status
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.mu.Unlock()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// authorizeCall checks the bearer token is one this server issued to the bot (0) or answers 401.
func (s *Server) authorizeCall(r *http.Request) int {
	s.mu.Lock()
	anonymous := s.anonymous
	s.mu.Unlock()
	if anonymous && r.Header.Get("Authorization") == "" {
		return 0
	}
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return http.StatusUnauthorized
	}
	var c appClaims
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(botFrameworkAudience),
		jwt.WithExpirationRequired()).ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.tokenSecret, nil })
	if err != nil || c.AppID != s.opts.AppID || c.TenantID != s.opts.TenantID {
		return http.StatusUnauthorized
	}
	return 0
}

func (s *Server) nextID() string {
	s.seq++
	return fmt.Sprint(s.seq)
}

func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) {
	var p struct {
		IsGroup     bool         `json:"isGroup"`
		Bot         Account      `json:"bot"`
		Members     []Account    `json:"members"`
		TenantID    string       `json:"tenantId"`
		ChannelData *ChannelData `json:"channelData"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		connectorError(w, http.StatusBadRequest, "BadSyntax", err.Error())
		return
	}
	if p.IsGroup || len(p.Members) != 1 || p.Members[0].ID == "" {
		connectorError(w, http.StatusBadRequest, "BadArgument", "the fake opens 1:1 chats only: isGroup false and one member")
		return
	}
	if p.Bot.ID != "28:"+s.opts.AppID {
		connectorError(w, http.StatusBadRequest, "BadArgument", "bot.id is not this bot")
		return
	}
	if p.TenantID != s.opts.TenantID {
		connectorError(w, http.StatusBadRequest, "BadArgument", "tenantId is not the bot's tenant")
		return
	}
	cc := CreatedConversation{IsGroup: p.IsGroup, BotID: p.Bot.ID, TenantID: p.TenantID}
	for _, m := range p.Members {
		cc.Members = append(cc.Members, m.ID)
	}
	if p.ChannelData != nil && p.ChannelData.Tenant != nil {
		cc.ChannelDataTenant = p.ChannelData.Tenant.ID
	}
	user := p.Members[0].ID
	s.mu.Lock()
	id, ok := s.personal[user]
	if !ok {
		// Teams answers the same conversation for the same person every time.
		id = "a:personal-" + strings.NewReplacer(":", "-").Replace(user)
		s.personal[user] = id
	}
	cc.ID = id
	s.created = append(s.created, cc)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

// splitThread splits "<channel>;messageid=<root>".
func splitThread(conv string) (string, string) {
	if base, root, ok := strings.Cut(conv, ";messageid="); ok {
		return base, root
	}
	return conv, ""
}

func (s *Server) postActivity(w http.ResponseWriter, r *http.Request) {
	base, root := splitThread(r.PathValue("conv"))
	var a Activity
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		connectorError(w, http.StatusBadRequest, "BadSyntax", err.Error())
		return
	}
	if a.Type != "message" {
		connectorError(w, http.StatusBadRequest, "BadArgument", "only message activities are posted")
		return
	}
	if replyTo := r.PathValue("id"); replyTo != "" && root == "" && strings.HasPrefix(base, "19:") && strings.Contains(base, "@thread.tacv2") {
		root = replyTo // the reply-to-activity endpoint of a channel message posts in its thread
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notIn[base] {
		connectorError(w, http.StatusForbidden, "BotNotInConversationRoster", "The bot is not part of the conversation roster.")
		return
	}
	id := s.nextID()
	a.ID = id
	s.messages = append(s.messages, &Message{Conversation: base, Thread: root, ID: id, Activity: a})
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (s *Server) putActivity(w http.ResponseWriter, r *http.Request) {
	base, _ := splitThread(r.PathValue("conv"))
	id := r.PathValue("id")
	var a Activity
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
		connectorError(w, http.StatusBadRequest, "BadSyntax", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.Conversation == base && m.ID == id {
			a.ID = id
			m.Activity = a
			m.Edits++
			writeJSON(w, http.StatusOK, map[string]string{"id": id})
			return
		}
	}
	connectorError(w, http.StatusNotFound, "ActivityNotFound", "No such activity in this conversation.")
}

func (s *Server) member(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m, ok := s.members[r.PathValue("member")]
	s.mu.Unlock()
	if !ok {
		connectorError(w, http.StatusNotFound, "MemberNotFoundInConversation", "The member is not in this conversation.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": m.ID, "name": m.Name, "aadObjectId": m.AADObjectID, "email": m.Email,
		"userPrincipalName": m.UPN, "tenantId": s.opts.TenantID, "userRole": "user"})
}
