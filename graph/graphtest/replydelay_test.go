package graphtest

import (
	"io"
	"net/http"
	"strings"
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
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	answered := make(chan answer, 1)
	start := time.Now()
	go func() { // no t.Fatal off the test's goroutine: the answer, or its error, goes back on the channel
		req, _ := http.NewRequest(http.MethodPost, s.GraphURL()+"/users/"+lester.ID+"/revokeSignInSessions", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answered <- answer{resp: resp, body: body, err: err}
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
	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %s, want at least %s", took, delay)
	}
	if a.resp.StatusCode != http.StatusOK || a.resp.Header.Get("request-id") == "" || a.resp.Header.Get("Date") == "" || len(a.body) == 0 {
		t.Errorf("delayed answer: %d %v %s", a.resp.StatusCode, a.resp.Header, a.body)
	}
}
