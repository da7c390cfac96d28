package graphtest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestDefaultTenantShape(t *testing.T) {
	start := time.Now()
	s := New(Options{})
	t.Logf("New(Options{}) took %v", time.Since(start))
	if n, want := len(s.Users()), DefaultUsers+DefaultBigGroupSize+len(namedUsers)+1; n != want {
		t.Fatalf("users %d, want %d", n, want)
	}
	big := s.FindGroups(GroupBig)
	if len(big) != 1 || len(big[0].MemberIDs) != DefaultBigGroupSize {
		t.Fatalf("big group %v", len(big))
	}
	if s.TenantID() != DefaultTenantID || s.ClientID() != AppClientID || s.URL() != "" {
		t.Fatal("defaults / URL before Start")
	}
}

// TestConcurrentRevokes exercises the locks (run with -race) and checks that
// every accepted write is counted and recorded exactly once.
func TestConcurrentRevokes(t *testing.T) {
	s := startServer(t, Options{Users: 60, BigGroupSize: -1})
	c := newClient(t, s)
	users := s.Users()
	var mu sync.Mutex
	ok := 0
	// Parallel subtests rather than bare goroutines, so failures can use t.Fatal.
	t.Run("workers", func(t *testing.T) {
		for w := range 4 {
			t.Run(fmt.Sprint(w), func(t *testing.T) {
				t.Parallel()
				c := &testClient{t: t, s: s, token: c.token}
				var items []map[string]any
				for i := w * 10; i < w*10+10; i++ {
					items = append(items, revokeItem(fmt.Sprint(i), users[i].ID))
				}
				_, got := sendBatch(t, c, items, w%2 == 0)
				for i := w * 10; i < w*10+10; i++ {
					r := c.do(http.MethodPost, "/v1.0/users/"+users[40+i%20].ID+"/revokeSignInSessions", nil)
					mu.Lock()
					if got[fmt.Sprint(i)].Status == 200 {
						ok++
					}
					if r.status == 200 {
						ok++
					}
					mu.Unlock()
					c.get("/v1.0/users?$top=5")
				}
			})
		}
	})
	if ok != 80 || s.Stats().Writes != 80 || len(s.Revocations()) != 80 {
		t.Fatalf("ok %d, stats %+v, revocations %d", ok, s.Stats(), len(s.Revocations()))
	}
}
