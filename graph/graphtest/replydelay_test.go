package graphtest

import (
	"net/http"
	"testing"
	"time"
)

// With a reply delay, Graph has acted before the answer leaves: the revocation is on record while the client is
// still waiting, and the answer, when it comes, is whole (status, headers and body as without the delay).
func TestReplyDelayActsBeforeAnswering(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	const delay = 300 * time.Millisecond
	s.SetReplyDelay(delay)
	lester, _ := s.User(UPNLester)
	answered := make(chan response, 1)
	start := time.Now()
	go func() {
		answered <- c.do(http.MethodPost, "/v1.0/users/"+lester.ID+"/revokeSignInSessions", []byte("{}"))
	}()
	deadline := time.Now().Add(delay / 2)
	for len(s.Revocations()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no revocation on record half-way through the reply delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-answered:
		t.Fatal("the answer came before the reply delay was over")
	default:
	}
	resp := <-answered
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %s, want at least %s", took, delay)
	}
	if resp.status != http.StatusOK || resp.header.Get("request-id") == "" || resp.header.Get("Date") == "" || len(resp.body) == 0 {
		t.Errorf("delayed answer: %d %v %s", resp.status, resp.header, resp.body)
	}
}
