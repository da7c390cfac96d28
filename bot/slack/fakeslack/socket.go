package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Socket Mode: apps.connections.open (with the app-level token) hands out a WebSocket URL; the server says
// hello, then sends envelopes that the app must acknowledge by envelope_id.

type socketHub struct {
	mu    sync.Mutex
	conns []*websocket.Conn
	acks  map[string]chan json.RawMessage
	seq   int
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) openConnection(w http.ResponseWriter, r *http.Request) {
	if s.AppToken == "" || strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") != s.AppToken {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.URL, "http") + "/socket"})
}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	// Writes to a connection are serialised by hub.mu; the connection is published only after its hello.
	s.hub.mu.Lock()
	err = c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A1"}, "debug_info": map[string]any{"host": "fakeslack"}})
	if err == nil {
		s.hub.conns = append(s.hub.conns, c)
	}
	s.hub.mu.Unlock()
	if err != nil {
		return
	}
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		s.hub.mu.Lock()
		ch := s.hub.acks[ack.EnvelopeID]
		s.hub.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload
		}
	}
}

// SocketConnected reports whether an app is connected over Socket Mode.
func (s *Server) SocketConnected() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.conns) > 0
}

// SendEnvelope delivers a Socket Mode envelope of the given type ("slash_commands", "interactive") to the
// connected app and waits for its acknowledgement, returning how long the app took to acknowledge.
func (s *Server) SendEnvelope(kind string, payload any, timeout time.Duration) (time.Duration, error) {
	_, took, err := s.deliver(kind, payload, timeout)
	return took, err
}

// SendEnvelopeAck is SendEnvelope returning the acknowledgement's payload instead: what the app answered, e.g.
// a view_submission's response_action (empty when the app sent none).
func (s *Server) SendEnvelopeAck(kind string, payload any, timeout time.Duration) (json.RawMessage, error) {
	ack, _, err := s.deliver(kind, payload, timeout)
	return ack, err
}

func (s *Server) deliver(kind string, payload any, timeout time.Duration) (json.RawMessage, time.Duration, error) {
	s.hub.mu.Lock()
	if len(s.hub.conns) == 0 {
		s.hub.mu.Unlock()
		return nil, 0, fmt.Errorf("no socket mode connection")
	}
	c := s.hub.conns[len(s.hub.conns)-1]
	s.hub.seq++
	id := fmt.Sprintf("env-%d", s.hub.seq)
	ch := make(chan json.RawMessage, 1)
	if s.hub.acks == nil {
		s.hub.acks = map[string]chan json.RawMessage{}
	}
	s.hub.acks[id] = ch
	start := time.Now()
	// Slack reads a payload on the acknowledgement of a slash command (the immediate answer) and of a
	// view_submission (its response_action), and says so in the envelope.
	p, _ := payload.(map[string]any)
	accepts := kind == "slash_commands" || kind == "interactive" && p["type"] == "view_submission"
	err := c.WriteJSON(map[string]any{"envelope_id": id, "type": kind, "payload": payload, "accepts_response_payload": accepts})
	s.hub.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	select {
	case ack := <-ch:
		return ack, time.Since(start), nil
	case <-time.After(timeout):
		return nil, 0, fmt.Errorf("envelope %s not acknowledged within %s", id, timeout)
	}
}

func (s *Server) closeSockets() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	for _, c := range s.hub.conns {
		_ = c.Close()
	}
}
