package graphtest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	clock := newFakeClock()
	th := newThrottler(clock.Now, bucketConfig{capacity: 10, window: 10 * time.Second},
		bucketConfig{capacity: 2, window: 4 * time.Second}) // writes: 0.5/s
	steps := []struct {
		advance time.Duration
		kind    bucketKind
		cost    int
		ok      bool
		retry   time.Duration
	}{
		{0, writeBucket, 1, true, 0},
		{0, writeBucket, 1, true, 0},
		{0, writeBucket, 1, false, 2 * time.Second},       // empty: one token takes 2s
		{time.Second, writeBucket, 1, false, time.Second}, // half a token refilled; rejection consumed nothing
		{time.Second, writeBucket, 1, true, 0},
		{0, readBucket, 8, true, 0},
		{0, readBucket, 5, false, 3 * time.Second}, // 2 left, need 3 more at 1/s
		{0, readBucket, 2, true, 0},
		{0, readBucket, 50, false, 10 * time.Second}, // can never fit: a full window
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		d := th.take(st.kind, "app", st.cost)
		if d.ok != st.ok || !st.ok && d.retryAfter != st.retry {
			t.Fatalf("step %d: %+v, want ok=%v retry=%v", i, d, st.ok, st.retry)
		}
	}
	if d := th.take(writeBucket, "other-app", 1); !d.ok {
		t.Fatal("buckets must be per app")
	}
}

func TestWriteBudgetExhaustion(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	opts.WriteBudget = 5
	opts.WriteWindow = 10 * time.Second // 0.5 tokens/s
	s := startServer(t, opts)
	c := newClient(t, s)
	revoke := func() response {
		return c.do(http.MethodPost, "/v1.0/users/"+UPNAlex+"/revokeSignInSessions", nil)
	}
	for i := range 5 {
		if r := revoke(); r.status != 200 {
			t.Fatalf("revoke %d: %d", i, r.status)
		}
	}
	r := revoke()
	if r.status != http.StatusTooManyRequests || r.errorCode(t) != "TooManyRequests" || r.errorMessage(t) != "Too many requests" {
		t.Fatalf("6th revoke: %d %s", r.status, r.body)
	}
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra != 2 {
		t.Fatalf("Retry-After %q, want 2", r.header.Get("Retry-After"))
	}
	wantScope := "Tenant_Application/WriteRequests/" + s.TenantID() + "/" + s.ClientID()
	if r.header.Get("x-ms-throttle-scope") != wantScope || r.header.Get("x-ms-throttle-information") == "" ||
		r.header.Get("x-ms-throttle-limit-percentage") == "" {
		t.Fatalf("throttle headers %v", r.header)
	}
	// Reads have their own bucket and still work.
	if g := c.get("/v1.0/users/" + UPNAlex); g.status != 200 {
		t.Fatalf("read while writes throttled: %d", g.status)
	}
	clock.Advance(2 * time.Second)
	if r := revoke(); r.status != 200 {
		t.Fatalf("after Retry-After: %d", r.status)
	}
	st := s.Stats()
	if st.Writes != 6 || st.Throttled429Requests != 1 || len(s.Revocations()) != 6 {
		t.Fatalf("stats %+v", st)
	}
	// Raising the budget takes effect immediately.
	s.SetWriteBudget(-1, 0)
	for range 10 {
		if r := revoke(); r.status != 200 {
			t.Fatalf("unlimited budget: %d", r.status)
		}
	}
}

func TestReadBudgetCosts(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	opts.ReadBudget = 8
	opts.ReadWindow = 8 * time.Second
	s := startServer(t, opts)
	c := newClient(t, s)
	test := s.FindGroups(GroupTest)[0].ID
	calls := []struct {
		path   string
		status int
	}{
		{"/v1.0/groups/" + test + "/transitiveMembers", 200}, // 5 -> 3 left
		{"/v1.0/users?$top=5", 200},                          // 2 -> 1 left
		{"/v1.0/users/" + UPNLester, 200},                    // 1 -> 0 left
		{"/v1.0/users/" + UPNLester, 429},
	}
	for i, call := range calls {
		r := c.get(call.path)
		if r.status != call.status {
			t.Fatalf("call %d %s: %d", i, call.path, r.status)
		}
		if r.status == 429 && !strings.Contains(r.header.Get("x-ms-throttle-scope"), "ReadRequests") {
			t.Fatalf("scope %q", r.header.Get("x-ms-throttle-scope"))
		}
	}
}

func TestRandomFaultsAndLatency(t *testing.T) {
	opts := smallOpts()
	opts.FaultRate = 1
	s := startServer(t, opts)
	c := newClient(t, s) // the token endpoint is never faulted
	r := c.get("/v1.0/users/" + UPNLester)
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "ServiceUnavailable" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("fault: %d %v %s", r.status, r.header, r.body)
	}
	s.SetFaultRate(0)
	if r := c.get("/v1.0/users/" + UPNLester); r.status != 200 {
		t.Fatalf("after SetFaultRate(0): %d", r.status)
	}
	if st := s.Stats(); st.Faults5xx != 1 {
		t.Fatalf("Faults5xx %d", st.Faults5xx)
	}

	s.SetLatency(150 * time.Millisecond)
	start := time.Now()
	c.get("/v1.0/users/" + UPNLester)
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("latency not applied: %v", el)
	}
	// A client that gives up is not kept waiting.
	s.SetLatency(5 * time.Second)
	hc := s.HTTPClient()
	short := *hc
	short.Timeout = 100 * time.Millisecond
	start = time.Now()
	if _, err := short.Get(s.URL() + "/v1.0/users"); err == nil {
		t.Fatal("expected client timeout")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancel not honoured: %v", el)
	}
}
