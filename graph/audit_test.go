package graph_test

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// testClock is a fake clock a test moves by hand; graphtest follows it through SetClock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRevocationAudits(t *testing.T) {
	tests := []struct {
		name   string
		rounds [][]int // users (by index) revoked in each round; the fake clock moves a minute between rounds
		drop   []int   // users whose audit entries the tenant loses
		ask    []int
		since  int    // count from this round on (its start, less 30 s); -1: from the beginning of time
		appID  string // Config.AppID; "" reads it from the client's token
		want   []int  // count per asked user
		reads  int    // audit log requests expected
	}{
		{
			name:   "a few users: one query each",
			rounds: [][]int{{0, 1}, {0, 2}},
			ask:    []int{0, 1, 2, 3, 0}, since: -1,
			want:  []int{2, 1, 1, 0, 2},
			reads: 4,
		},
		{
			name:   "many users: one query for the app's revocations, matched here",
			rounds: [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {0, 8}},
			drop:   []int{5},
			ask:    []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, since: -1,
			want:  []int{2, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0},
			reads: 1,
		},
		{
			name:   "since leaves out earlier revocations (per-user queries)",
			rounds: [][]int{{0, 1}, {}, {0}},
			ask:    []int{0, 1}, since: 1,
			want:  []int{1, 0},
			reads: 2,
		},
		{
			name:   "since leaves out earlier revocations (one query)",
			rounds: [][]int{{0, 1, 2, 3, 4}, {}, {0, 1}},
			ask:    []int{0, 1, 2, 3, 4, 5}, since: 2,
			want:  []int{1, 1, 0, 0, 0, 0},
			reads: 1,
		},
		{
			name:   "another app's id finds nothing",
			rounds: [][]int{{0, 1, 2, 3, 4, 5}},
			ask:    []int{0, 1, 2, 3, 4, 5}, since: -1,
			appID: "00000000-0000-0000-0000-00000000beef",
			want:  []int{0, 0, 0, 0, 0, 0},
			reads: 1,
		},
		{
			name:   "the configured app id is used",
			rounds: [][]int{{0}},
			ask:    []int{0}, since: -1,
			appID: graphtest.AppClientID,
			want:  []int{1},
			reads: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Neither side holds to Graph's 5 requests per 10 s here: TestRevocationAuditsPacing is about that.
			srv, c := newTenant(t, graphtest.Options{Users: 30, BigGroupSize: 5},
				graph.Config{AppID: tt.appID, AuditRequests: 1000, AuditWindow: time.Second})
			srv.SetAuditBudget(-1, 0)
			clock := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
			srv.SetClock(clock.Now)
			users := srv.Users()
			var since time.Time
			for i, round := range tt.rounds {
				if i == tt.since {
					since = clock.Now().Add(-30 * time.Second)
				}
				var ids []string
				for _, u := range round {
					ids = append(ids, users[u].ID)
				}
				if len(ids) > 0 {
					if _, err := c.RevokeSessions(ctx(t), ids, nil); err != nil {
						t.Fatal(err)
					}
				}
				clock.Advance(time.Minute)
			}
			for _, u := range tt.drop {
				srv.DropAuditFor(users[u].ID)
			}
			var ask []string
			want := map[string]int{}
			for i, u := range tt.ask {
				ask = append(ask, users[u].ID)
				want[users[u].ID] = tt.want[i]
			}
			srv.ResetStats()
			got, err := c.RevocationAudits(ctx(t), ask, since)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Errorf("RevocationAudits = %v\nwant %v", got, want)
			}
			if n := srv.Stats().AuditRequests; n != tt.reads {
				t.Errorf("%d audit log requests, want %d", n, tt.reads)
			}
		})
	}
}

func TestRevocationAuditsNoUsers(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5}, graph.Config{})
	got, err := c.RevocationAudits(ctx(t), nil, time.Time{})
	if err != nil || len(got) != 0 || srv.Stats().Requests != 0 {
		t.Errorf("RevocationAudits(nil) = %v, %v after %d requests; want an empty map and no request", got, err, srv.Stats().Requests)
	}
}

// TestRevocationAuditsPacing scales Graph's 5 requests per 10 s down to 5 per 500 ms on both sides and reads 20
// pages of the log for 40 users: the client must stay under the budget, never drawing a 429. Without the
// pacing the 20 requests go out in a burst and the tenant refuses most of them.
func TestRevocationAuditsPacing(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 50, BigGroupSize: 5},
		graph.Config{AuditRequests: 5, AuditWindow: 500 * time.Millisecond, AuditPageSize: 2})
	srv.SetAuditBudget(5, 500*time.Millisecond)
	var ids []string
	for _, u := range srv.Users()[:40] {
		ids = append(ids, u.ID)
	}
	if _, err := c.RevokeSessions(ctx(t), ids, nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	got, err := c.RevocationAudits(ctx(t), ids, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("%s: %d entries, want 1", id, got[id])
		}
	}
	st := srv.Stats()
	if st.AuditRequests != 20 || st.Throttled429Requests != 0 {
		t.Errorf("%d audit requests with %d answered 429; want 20 pages of 2 and no 429", st.AuditRequests, st.Throttled429Requests)
	}
}

// TestRevocationAuditsHonoursRetryAfter gives the tenant a smaller budget than the client paces itself to: the
// 429s that follow must be waited out, not reported.
func TestRevocationAuditsHonoursRetryAfter(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 10, BigGroupSize: 5},
		graph.Config{AuditRequests: 5, AuditWindow: 500 * time.Millisecond})
	srv.SetAuditBudget(1, time.Second)
	users := srv.Users()[:3]
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if _, err := c.RevokeSessions(ctx(t), ids, nil); err != nil {
		t.Fatal(err)
	}
	got, err := c.RevocationAudits(ctx(t), ids, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("%s: %d entries, want 1", id, got[id])
		}
	}
	if st := srv.Stats(); st.Throttled429Requests == 0 || st.AuditRequests != 3+st.Throttled429Requests {
		t.Errorf("stats %+v; want 3 answered reads after at least one 429", st)
	}
}

func TestRevocationAuditsWithoutPermission(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 10, BigGroupSize: 5}, graph.Config{})
	srv.DenyPermission(graphtest.PermAuditRead)
	for _, n := range []int{1, 8} { // per-user queries and one query
		var ids []string
		for _, u := range srv.Users()[:n] {
			ids = append(ids, u.ID)
		}
		got, err := c.RevocationAudits(ctx(t), ids, time.Time{})
		var ae *graph.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "Authorization_RequestDenied" ||
			!strings.Contains(err.Error(), "audit log") || got != nil {
			t.Errorf("%d users: RevocationAudits = %v, %v; want an error wrapping *APIError 403 that names the audit log", n, got, err)
		}
	}
}
