package graphtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable Options.Now for time-dependent behaviour.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// smallOpts keeps the tenant small so tests stay fast.
func smallOpts() Options { return Options{Users: 40, BigGroupSize: 30} }

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// testClient is a plain net/http Graph client with a token.
type testClient struct {
	t     *testing.T
	s     *Server
	token string
}

func newClient(t *testing.T, s *Server) *testClient {
	t.Helper()
	return &testClient{t: t, s: s, token: fetchToken(t, s)}
}

func fetchToken(t *testing.T, s *Server) string {
	t.Helper()
	status, body := postForm(t, s, "/"+s.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.ClientID()},
		"client_secret": {s.ClientSecret()},
		"scope":         {"https://graph.microsoft.com/.default"},
	})
	if status != http.StatusOK {
		t.Fatalf("token: status %d body %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token body %s: %v", body, err)
	}
	return tok.AccessToken
}

func postForm(t *testing.T, s *Server, path string, form url.Values) (int, []byte) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.URL()+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return resp.StatusCode, b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// errorCode returns error.code of a Graph error body.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do sends a request; target is a path under the server or an absolute URL.
// headers alternate name, value.
func (c *testClient) do(method, target string, body []byte, headers ...string) response {
	c.t.Helper()
	u := target
	if !strings.HasPrefix(target, "https://") {
		u = c.s.URL() + target
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.s.HTTPClient().Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *testClient) get(path string, headers ...string) response {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, headers...)
}

// mustGet fails unless the answer is 200 and returns the decoded body.
func (c *testClient) mustGet(path string, headers ...string) map[string]any {
	c.t.Helper()
	r := c.get(path, headers...)
	if r.status != http.StatusOK {
		c.t.Fatalf("GET %s: status %d body %s", path, r.status, r.body)
	}
	return r.json(c.t)
}

// values extracts "value" objects of a collection response.
func values(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func field(objs []map[string]any, name string) []string {
	var out []string
	for _, o := range objs {
		s, _ := o[name].(string)
		out = append(out, s)
	}
	return out
}

func sorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}

func q(s string) string { return url.QueryEscape(s) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}
