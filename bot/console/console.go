// Package console is the demo's chat platform: a local web page that behaves like a channel. It implements
// bot.Messenger like the Slack and Teams adapters do, so the demo runs the same commands, approvals, store and
// revocation code as production. Changes are pushed to the page with server-sent events.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/store"
)

// Platform is this adapter's name.
const Platform = "console"

// Channel is the one channel the console shows.
const Channel = "demo"

//go:embed web
var webFiles embed.FS

// Message is one message on the page.
type Message struct {
	ID     string      `json:"id"`
	Thread string      `json:"thread,omitempty"`
	For    string      `json:"for,omitempty"` // private: only this user sees it
	Text   string      `json:"text"`
	Blocks []bot.Block `json:"blocks"`
	Posted time.Time   `json:"posted"`
	Edited time.Time   `json:"edited,omitempty"`
	// Rev is the console's version when the message last changed: the page asks for messages changed after the
	// version it shows, so it patches only those and never redraws (and never loses a text selection).
	Rev     int       `json:"rev"`
	Replies []Message `json:"replies,omitempty"`
}

// Person is a selectable identity on the page.
type Person struct {
	bot.Person
	Admin bool `json:"admin"`
}

// TenantUser is a row of the tenant panel.
type TenantUser struct {
	UPN               string    `json:"upn"`
	DisplayName       string    `json:"displayName"`
	Guest             bool      `json:"guest"`
	Enabled           bool      `json:"enabled"`
	SessionsValidFrom time.Time `json:"sessionsValidFrom"`
}

// Console is the messenger and the web page.
type Console struct {
	App    *bot.App
	People []Person
	// Tenant lists the simulated tenant's users for the tenant panel.
	Tenant func() []TenantUser
	// Notes are shown in the page header (e.g. what is simulated).
	Notes []string
	Log   *slog.Logger
	// Background is the context work runs under after an HTTP request has been answered.
	Background context.Context

	mu       sync.Mutex
	seq      int
	messages []*Message
	version  int
	epoch    string
	subs     map[chan int]struct{}
	wg       sync.WaitGroup
}

var _ bot.Messenger = (*Console)(nil)

func (c *Console) Platform() string { return Platform }

// bump marks m (nil: nothing in particular) as changed now and tells every open page. Callers hold c.mu.
func (c *Console) bump(m *Message) {
	c.version++
	if m != nil {
		m.Rev = c.version
	}
	for ch := range c.subs {
		select {
		case ch <- c.version:
		default:
		}
	}
}

func (c *Console) add(m Message) store.MessageRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	m.ID = strconv.Itoa(c.seq)
	m.Posted = time.Now().UTC()
	c.messages = append(c.messages, &m)
	c.bump(&m)
	return store.MessageRef{Platform: Platform, Channel: Channel, ID: m.ID, Thread: m.Thread}
}

func (c *Console) Post(_ context.Context, conv store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	return c.add(Message{Thread: conv.Thread, Text: msg.Text, Blocks: msg.Blocks}), nil
}

func (c *Console) Update(_ context.Context, ref store.MessageRef, msg bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.messages {
		if m.ID == ref.ID {
			m.Text, m.Blocks, m.Edited = msg.Text, msg.Blocks, time.Now().UTC()
			c.bump(m)
			return nil
		}
	}
	return fmt.Errorf("console: message %s not found", ref.ID)
}

func (c *Console) Reply(ctx context.Context, ref store.MessageRef, msg bot.Message) (store.MessageRef, error) {
	thread := ref.ID
	if ref.Thread != "" {
		thread = ref.Thread
	}
	return c.Post(ctx, store.MessageRef{Platform: Platform, Channel: Channel, Thread: thread}, msg)
}

func (c *Console) Private(_ context.Context, _ store.MessageRef, userID string, msg bot.Message) error {
	c.add(Message{For: userID, Text: msg.Text, Blocks: msg.Blocks})
	return nil
}

func (c *Console) Person(_ context.Context, userID string) (bot.Person, error) {
	for _, p := range c.People {
		if p.ID == userID {
			return p.Person, nil
		}
	}
	return bot.Person{}, fmt.Errorf("console: no person %s", userID)
}

// State is what the page shows to one viewer. Every list is present even when empty ([] rather than null), so
// the page never has to tell "nothing yet" from "missing".
type State struct {
	// Epoch names this console's life: versions count from 0 again in a new run, so a page that sees another
	// epoch starts over instead of asking for changes after a version that means nothing here.
	Epoch    string     `json:"epoch"`
	Version  int        `json:"version"`
	Viewer   string     `json:"viewer"`
	People   []Person   `json:"people"`
	Messages []Message  `json:"messages"`
	Tenant   TenantPage `json:"tenant"`
	Notes    []string   `json:"notes"`
}

// TenantPage is what the tenant panel shows: the first rows of the users matching its filter, most recently
// signed out first. A tenant can have 10,000 users; the page never needs them all.
type TenantPage struct {
	Total    int          `json:"total"`    // users in the tenant
	Matching int          `json:"matching"` // users matching the filter
	Rows     []TenantUser `json:"rows"`
}

// TenantRows is the panel's page for filter q (a case-insensitive part of a name or UPN; "" for everyone).
func (c *Console) TenantRows(q string, limit int) TenantPage {
	page := TenantPage{Rows: []TenantUser{}}
	if c.Tenant == nil {
		return page
	}
	all := c.Tenant()
	page.Total = len(all)
	q = strings.ToLower(strings.TrimSpace(q))
	var rows []TenantUser
	for _, u := range all {
		if q == "" || strings.Contains(strings.ToLower(u.UPN), q) || strings.Contains(strings.ToLower(u.DisplayName), q) {
			rows = append(rows, u)
		}
	}
	page.Matching = len(rows)
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.SessionsValidFrom.Equal(b.SessionsValidFrom) {
			return a.SessionsValidFrom.After(b.SessionsValidFrom)
		}
		return a.UPN < b.UPN // a stable order, so rows do not swap places between refreshes
	})
	page.Rows = append(page.Rows, rows[:min(limit, len(rows))]...)
	return page
}

// TenantRowsShown is how many rows the panel shows at most.
const TenantRowsShown = 60

// Changes are the messages viewer sees that changed after a version, flat and in posting order: replies name
// their thread and come after it.
type Changes struct {
	Epoch    string    `json:"epoch"`
	Version  int       `json:"version"`
	Messages []Message `json:"messages"`
}

// epochLocked returns the console's epoch, choosing it on first use. Callers hold c.mu.
func (c *Console) epochLocked() string {
	if c.epoch == "" {
		c.epoch = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return c.epoch
}

// visible reports whether viewer sees m: everyone sees shared messages, only its one viewer a private reply.
func visible(m *Message, viewer string) bool { return m.For == "" || m.For == viewer }

// Snapshot is the state as viewer sees it: top-level messages with their replies, and viewer's private replies.
func (c *Console) Snapshot(viewer string) State {
	c.mu.Lock()
	st := State{Epoch: c.epochLocked(), Version: c.version, Viewer: viewer, People: c.People, Notes: c.Notes,
		Messages: []Message{}}
	byID := map[string]int{}
	for _, m := range c.messages {
		switch {
		case !visible(m, viewer):
		case m.Thread == "":
			byID[m.ID] = len(st.Messages)
			st.Messages = append(st.Messages, *m)
		default:
			if i, ok := byID[m.Thread]; ok {
				st.Messages[i].Replies = append(st.Messages[i].Replies, *m)
			}
		}
	}
	c.mu.Unlock()
	if st.People == nil {
		st.People = []Person{}
	}
	if st.Notes == nil {
		st.Notes = []string{}
	}
	st.Tenant = c.TenantRows("", TenantRowsShown)
	return st
}

// ChangesSince lists the messages viewer sees that were posted or edited after version.
func (c *Console) ChangesSince(viewer string, version int) Changes {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := Changes{Epoch: c.epochLocked(), Version: c.version, Messages: []Message{}}
	for _, m := range c.messages {
		if m.Rev > version && visible(m, viewer) {
			ch.Messages = append(ch.Messages, *m)
		}
	}
	return ch
}

// tenantFingerprint changes whenever a row of the tenant panel would, so the page fetches the panel only then.
func (c *Console) tenantFingerprint() string {
	if c.Tenant == nil {
		return "0"
	}
	h := fnv.New64a()
	for _, u := range c.Tenant() {
		fmt.Fprintf(h, "%s\x00%s\x00%t%t%d\x00", u.UPN, u.DisplayName, u.Guest, u.Enabled, u.SessionsValidFrom.UnixNano())
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// Wait blocks until background work started by the page is done.
func (c *Console) Wait() { c.wg.Wait() }

// Handler serves the page and its API:
//
//	GET  /api/state?user=U                the whole page as U sees it (on load, and when U changes)
//	GET  /api/messages?user=U&since=V     messages U sees that changed after version V
//	GET  /api/tenant?q=TEXT&limit=N       the tenant panel: users whose name or UPN contains TEXT
//	GET  /api/events                      server-sent events: "change" (data: version), "tenant" (data: a
//	                                      fingerprint of the panel), "ping" (a heartbeat)
//	POST /api/command {User, Text, ID}    a /signout command, Text as typed after "/signout"
//	POST /api/action  {User, Action, Value, Message, Note, ID}   a button click; Note: a deny's reason
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFiles, "web")
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, c.Snapshot(r.URL.Query().Get("user")))
	})
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		since, err := strconv.Atoi(r.URL.Query().Get("since"))
		if err != nil || since < 0 {
			http.Error(w, "since: want the version the page shows (a number ≥ 0)", http.StatusBadRequest)
			return
		}
		writeJSON(w, c.ChangesSince(r.URL.Query().Get("user"), since))
	})
	mux.HandleFunc("GET /api/tenant", func(w http.ResponseWriter, r *http.Request) {
		limit := TenantRowsShown
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 0 || n > 1000 {
				http.Error(w, "limit: want a number from 0 to 1000", http.StatusBadRequest)
				return
			}
			limit = n
		}
		writeJSON(w, c.TenantRows(r.URL.Query().Get("q"), limit))
	})
	mux.HandleFunc("POST /api/command", c.command)
	mux.HandleFunc("POST /api/action", c.action)
	mux.HandleFunc("GET /api/events", c.events)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body. Requiring application/json keeps other web pages from posting here: a browser
// sends that content type cross-origin only after a CORS preflight, which this server never approves.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want application/json", http.StatusUnsupportedMediaType)
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (c *Console) person(w http.ResponseWriter, id string) (Person, bool) {
	for _, p := range c.People {
		if p.ID == id {
			return p, true
		}
	}
	http.Error(w, "no such demo user "+strconv.Quote(id), http.StatusBadRequest)
	return Person{}, false
}

func (c *Console) background(f func(ctx context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx := c.Background
		if ctx == nil {
			ctx = context.Background()
		}
		f(ctx)
	}()
}

func (c *Console) respond(userID string) func(context.Context, bot.Message) error {
	return func(ctx context.Context, m bot.Message) error {
		return c.Private(ctx, store.MessageRef{}, userID, m)
	}
}

// wireEscaper encodes typed text the way chat platforms deliver it: Slack and Teams escape the user's own &, <
// and > as entities and keep raw angle brackets for their markup, and the command parser undoes exactly that.
// Handing it the page's text raw would make "<b>x</b>" look like markup and vanish.
var wireEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (c *Console) command(w http.ResponseWriter, r *http.Request) {
	var body struct{ User, Text, ID string }
	if !decode(w, r, &body) {
		return
	}
	p, ok := c.person(w, body.User)
	if !ok {
		return
	}
	ev := bot.CommandEvent{
		Actor:        store.Actor{Platform: Platform, ID: p.ID, Name: p.Name},
		Profile:      p.Person,
		Conversation: store.MessageRef{Platform: Platform, Channel: Channel},
		Text:         wireEscaper.Replace(body.Text), DeliveryID: body.ID, Respond: c.respond(p.ID),
	}
	w.WriteHeader(http.StatusAccepted)
	c.background(func(ctx context.Context) { c.App.HandleCommand(ctx, ev) })
}

// MaxNote is the longest reason a deny may carry, as long as a request's own --reason may be.
const MaxNote = 1500

func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	var body struct{ User, Action, Value, Message, Note, ID string }
	if !decode(w, r, &body) {
		return
	}
	p, ok := c.person(w, body.User)
	if !ok {
		return
	}
	if n := utf8.RuneCountInString(body.Note); n > MaxNote {
		http.Error(w, fmt.Sprintf("the reason is %d characters long; at most %d fit", n, MaxNote), http.StatusBadRequest)
		return
	}
	ev := bot.ActionEvent{
		Actor:        store.Actor{Platform: Platform, ID: p.ID, Name: p.Name},
		Profile:      p.Person,
		Conversation: store.MessageRef{Platform: Platform, Channel: Channel},
		Message:      store.MessageRef{Platform: Platform, Channel: Channel, ID: body.Message},
		ActionID:     body.Action, Value: body.Value, Note: strings.TrimSpace(body.Note), DeliveryID: body.ID,
		Respond: c.respond(p.ID),
	}
	w.WriteHeader(http.StatusAccepted)
	c.background(func(ctx context.Context) { c.App.HandleAction(ctx, ev) })
}

// Intervals of the event stream: the tenant panel changes without any message changing, so the stream looks at
// it now and then (and says so only when it changed); the heartbeat lets the page notice a server that went
// away without closing the connection.
const (
	tenantCheck = 2 * time.Second
	heartbeat   = 15 * time.Second
)

// events streams what changed: "change" with the version whenever a message changed (the page then asks
// /api/messages for what changed after the version it shows), "tenant" when the tenant panel changed, and
// "ping" as a heartbeat. The first events tell the current version and panel at once.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := make(chan int, 1)
	c.mu.Lock()
	if c.subs == nil {
		c.subs = make(map[chan int]struct{})
	}
	c.subs[ch] = struct{}{}
	v := c.version
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}()
	send := func(event, data string) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	fp := c.tenantFingerprint()
	if !send("change", strconv.Itoa(v)) || !send("tenant", fp) {
		return
	}
	tick := time.NewTicker(tenantCheck)
	defer tick.Stop()
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		ok := true
		select {
		case <-r.Context().Done():
			return
		case v = <-ch:
			ok = send("change", strconv.Itoa(v))
			// Messages change as a run progresses, and so does the tenant: look now rather than at the next tick.
			if now := c.tenantFingerprint(); ok && now != fp {
				fp = now
				ok = send("tenant", fp)
			}
		case <-tick.C:
			if now := c.tenantFingerprint(); now != fp {
				fp = now
				ok = send("tenant", fp)
			}
		case <-ping.C:
			ok = send("ping", "")
		}
		if !ok {
			return
		}
	}
}
