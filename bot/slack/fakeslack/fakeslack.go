// Package fakeslack is a local Slack Web API for tests and rehearsals: it speaks the real wire format
// (form-encoded or JSON requests with a bearer token, JSON answers with "ok") for the methods signoutbot uses,
// records every message and modal, and answers errors where Slack would (invalid_auth, channel_not_found,
// message_not_found, user_not_found, expired_trigger_id). It also builds the interaction payloads Slack sends
// when a modal is submitted or closed.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Message is a posted message as Slack stores it.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	User     string // for ephemeral messages: who sees it
	Text     string
	Blocks   []map[string]any
	Edits    int
}

// AllText is the message's text and every text inside its blocks, for assertions.
func (m Message) AllText() string {
	var b strings.Builder
	b.WriteString(m.Text)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["text"].(string); ok {
				b.WriteString("\n" + t)
			}
			for _, k := range []string{"text", "fields", "elements", "confirm", "title"} {
				if c, ok := x[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, bl := range m.Blocks {
		walk(bl)
	}
	return b.String()
}

// User is a workspace member as users.info shows them.
type User struct {
	ID, Name, RealName, Email, TZ string
	Deleted                       bool
}

// Server is the fake Web API.
type Server struct {
	*httptest.Server
	Token    string
	AppToken string // app-level token for Socket Mode (apps.connections.open)
	hub      socketHub

	mu         sync.Mutex
	seq        int64
	messages   []*Message
	ephemerals []Message
	users      map[string]User
	notIn      map[string]bool // channels the bot is not a member of
	limitEvery int             // every n-th chat.postMessage answers 429 (0: never)
	threadLeft int             // thread replies still accepted before fatal_error (-1: no limit)
	groups     map[string][]string
	calls      map[string]int
	delay      time.Duration // how long every Web API answer is held back
	views      []*View
	triggers   map[string]bool // trigger_ids already exchanged for a view
	expired    bool            // views.open answers expired_trigger_id
	files      fileStore       // uploads and shared files (files.go)
	edits      editLimit       // RateLimitUpdates and the record of every chat.update
}

// New starts a fake Slack that accepts token.
func New(token string) *Server {
	s := &Server{Token: token, users: map[string]User{}, groups: map[string][]string{}, calls: map[string]int{}, threadLeft: -1,
		triggers: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// APIURL is the base to give slack.OptionAPIURL (with its trailing slash).
func (s *Server) APIURL() string { return s.URL + "/api/" }

// AddUser registers a workspace member.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// RemoveBotFrom makes the bot a non-member of channel: posting there answers not_in_channel, as Slack does.
func (s *Server) RemoveBotFrom(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notIn == nil {
		s.notIn = map[string]bool{}
	}
	s.notIn[channel] = true
}

// RateLimitPosts makes every n-th chat.postMessage answer HTTP 429 with Retry-After: 1, as Slack does when a
// channel gets more than about one message a second.
func (s *Server) RateLimitPosts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitEvery = n
}

// FailThreadReplies makes every chat.postMessage into a thread answer fatal_error (Slack's "something went
// wrong on our side") while down is true; top-level posts and edits keep working.
func (s *Server) FailThreadReplies(down bool) {
	if down {
		s.AllowThreadReplies(0)
	} else {
		s.AllowThreadReplies(-1)
	}
}

// AllowThreadReplies lets n more thread replies through, then fails the rest as FailThreadReplies(true) does
// (n < 0: no limit).
func (s *Server) AllowThreadReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.threadLeft = n
}

// SetDelay holds back every Web API answer by d (0: answer at once), as an overloaded Slack or a stuck proxy
// would. A client that gives up earlier ends the wait; the call is counted either way.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetUserGroup sets a user group's members.
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = members
}

// Messages returns the channel's messages (thread replies included), oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// TopLevel returns the channel's messages that are not thread replies.
func (s *Server) TopLevel(channel string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// Thread returns the replies under ts.
func (s *Server) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Ephemerals returns what user was shown privately.
func (s *Server) Ephemerals(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.ephemerals {
		if m.User == user {
			out = append(out, m)
		}
	}
	return out
}

// Calls is how often each method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Close stops the server and any Socket Mode connections.
func (s *Server) Close() {
	s.closeSockets()
	s.Server.Close()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/socket":
		s.socket(w, r)
		return
	case "/api/apps.connections.open":
		s.openConnection(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, uploadURLPrefix) {
		s.receiveUpload(w, r)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	_ = r.ParseForm()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.FormValue("token")
	}
	s.mu.Lock()
	s.calls[method]++
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up: stop here, so that Close need not wait out the delay.
			t.Stop()
			return
		}
	}
	if tok != s.Token {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "chat.postMessage":
		s.mu.Lock()
		limited := s.limitEvery > 0 && s.calls[method]%s.limitEvery == 0
		s.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			reply(w, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		s.post(w, r)
	case "chat.update":
		s.limitedUpdate(w, r)
	case "chat.postEphemeral":
		s.ephemeral(w, r)
	case "files.getUploadURLExternal":
		s.getUploadURL(w, r)
	case "files.completeUploadExternal":
		s.completeUpload(w, r)
	case "views.open":
		s.openView(w, r)
	case "users.info":
		s.userInfo(w, r)
	case "usergroups.users.list":
		s.mu.Lock()
		members, ok := s.groups[r.FormValue("usergroup")]
		s.mu.Unlock()
		if !ok {
			reply(w, map[string]any{"ok": false, "error": "no_such_subteam"})
			return
		}
		reply(w, map[string]any{"ok": true, "users": members})
	case "auth.test":
		reply(w, map[string]any{"ok": true, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"})
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func parseBlocks(r *http.Request) ([]map[string]any, error) {
	raw := r.FormValue("blocks")
	if raw == "" {
		return nil, nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, err
	}
	if len(blocks) > 50 {
		return nil, fmt.Errorf("too many blocks")
	}
	for _, bl := range blocks {
		if err := checkBlock(bl); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

// checkBlock applies Block Kit's length limits (in characters) as Slack does: one text over its limit makes
// Slack refuse the whole message with invalid_blocks, which a test must see rather than a message that
// would never have been posted.
func checkBlock(bl map[string]any) error {
	text := func(v any, limit int, what string) error {
		o, _ := v.(map[string]any)
		t, _ := o["text"].(string)
		if n := utf8.RuneCountInString(t); n > limit {
			return fmt.Errorf("%s %s text has %d characters, more than %d", bl["type"], what, n, limit)
		}
		return nil
	}
	switch bl["type"] {
	case "header":
		return text(bl["text"], 150, "header")
	case "section":
		if err := text(bl["text"], 3000, "section"); err != nil {
			return err
		}
		fields, _ := bl["fields"].([]any)
		if len(fields) > 10 {
			return fmt.Errorf("section has %d fields, more than 10", len(fields))
		}
		for _, f := range fields {
			if err := text(f, 2000, "field"); err != nil {
				return err
			}
		}
	case "context":
		els, _ := bl["elements"].([]any)
		for _, el := range els {
			if err := text(el, 3000, "element"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	ch := r.FormValue("channel")
	s.mu.Lock()
	notIn := s.notIn[ch]
	threadDown := false
	if r.FormValue("thread_ts") != "" && s.threadLeft >= 0 {
		threadDown = s.threadLeft == 0
		if !threadDown {
			s.threadLeft--
		}
	}
	s.mu.Unlock()
	switch {
	case threadDown:
		reply(w, map[string]any{"ok": false, "error": "fatal_error"})
		return
	case ch == "":
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	case notIn:
		reply(w, map[string]any{"ok": false, "error": "not_in_channel"})
		return
	}
	blocks, err := parseBlocks(r)
	if err != nil {
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	s.mu.Lock()
	m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: r.FormValue("thread_ts"), Text: r.FormValue("text"), Blocks: blocks}
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	blocks, err := parseBlocks(r)
	if err != nil {
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.Channel == r.FormValue("channel") && m.TS == r.FormValue("ts") {
			m.Text, m.Blocks = r.FormValue("text"), blocks
			m.Edits++
			reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
			return
		}
	}
	reply(w, map[string]any{"ok": false, "error": "message_not_found"})
}

func (s *Server) ephemeral(w http.ResponseWriter, r *http.Request) {
	blocks, err := parseBlocks(r)
	if err != nil {
		reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[r.FormValue("user")]; !ok {
		reply(w, map[string]any{"ok": false, "error": "user_not_in_channel"})
		return
	}
	m := Message{Channel: r.FormValue("channel"), TS: s.nextTS(), User: r.FormValue("user"), Text: r.FormValue("text"), Blocks: blocks}
	s.ephemerals = append(s.ephemerals, m)
	reply(w, map[string]any{"ok": true, "message_ts": m.TS})
}

func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u, ok := s.users[r.FormValue("user")]
	s.mu.Unlock()
	if !ok {
		reply(w, map[string]any{"ok": false, "error": "user_not_found"})
		return
	}
	reply(w, map[string]any{"ok": true, "user": map[string]any{
		"id": u.ID, "name": u.Name, "real_name": u.RealName, "tz": u.TZ, "deleted": u.Deleted,
		"profile": map[string]any{"email": u.Email, "real_name": u.RealName},
	}})
}
