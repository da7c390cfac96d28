// Package console is the demo's chat platform: a local web page that behaves like a channel. It implements
// bot.Messenger like the Slack and Teams adapters do, so the demo runs the same commands, approvals, store and
// revocation code as production. Changes are pushed to the page with server-sent events.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

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
	ID      string      `json:"id"`
	Thread  string      `json:"thread,omitempty"`
	For     string      `json:"for,omitempty"` // ephemeral: only this user sees it
	Text    string      `json:"text"`
	Blocks  []bot.Block `json:"blocks"`
	Posted  time.Time   `json:"posted"`
	Edited  time.Time   `json:"edited,omitempty"`
	Replies []Message   `json:"replies,omitempty"`
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
	subs     map[chan int]struct{}
	wg       sync.WaitGroup
}

var _ bot.Messenger = (*Console)(nil)

func (c *Console) Platform() string { return Platform }

func (c *Console) changed() {
	c.version++
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
	c.changed()
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
			c.changed()
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

func (c *Console) Ephemeral(_ context.Context, _ store.MessageRef, userID string, msg bot.Message) error {
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

// State is what the page shows to one viewer.
type State struct {
	Version  int          `json:"version"`
	Viewer   string       `json:"viewer"`
	People   []Person     `json:"people"`
	Messages []Message    `json:"messages"`
	Tenant   []TenantUser `json:"tenant"`
	Notes    []string     `json:"notes"`
}

// Snapshot is the state as viewer sees it: top-level messages with their replies, and viewer's ephemerals.
func (c *Console) Snapshot(viewer string) State {
	c.mu.Lock()
	st := State{Version: c.version, Viewer: viewer, People: c.People, Notes: c.Notes}
	byID := map[string]int{}
	for _, m := range c.messages {
		switch {
		case m.For != "" && m.For != viewer:
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
	if c.Tenant != nil {
		st.Tenant = c.Tenant()
		sort.SliceStable(st.Tenant, func(i, j int) bool {
			return st.Tenant[i].SessionsValidFrom.After(st.Tenant[j].SessionsValidFrom)
		})
	}
	return st
}

// Wait blocks until background work started by the page is done.
func (c *Console) Wait() { c.wg.Wait() }

// Handler serves the page and its API.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFiles, "web")
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, c.Snapshot(r.URL.Query().Get("user")))
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
		return c.Ephemeral(ctx, store.MessageRef{}, userID, m)
	}
}

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
		Conversation: store.MessageRef{Platform: Platform, Channel: Channel},
		Text:         body.Text, DeliveryID: body.ID, Respond: c.respond(p.ID),
	}
	w.WriteHeader(http.StatusAccepted)
	c.background(func(ctx context.Context) { c.App.HandleCommand(ctx, ev) })
}

func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	var body struct{ User, Action, Value, Message, ID string }
	if !decode(w, r, &body) {
		return
	}
	p, ok := c.person(w, body.User)
	if !ok {
		return
	}
	ev := bot.ActionEvent{
		Actor:        store.Actor{Platform: Platform, ID: p.ID, Name: p.Name},
		Conversation: store.MessageRef{Platform: Platform, Channel: Channel},
		Message:      store.MessageRef{Platform: Platform, Channel: Channel, ID: body.Message},
		ActionID:     body.Action, Value: body.Value, DeliveryID: body.ID, Respond: c.respond(p.ID),
	}
	w.WriteHeader(http.StatusAccepted)
	c.background(func(ctx context.Context) { c.App.HandleAction(ctx, ev) })
}

// events streams a "change" event whenever anything on the page changed; the page then fetches /api/state.
// The tenant panel changes without messages, so a slow tick keeps it fresh too.
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
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		fmt.Fprintf(w, "event: change\ndata: %d\n\n", v)
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case v = <-ch:
		case <-tick.C:
		}
	}
}
