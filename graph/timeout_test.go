package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// TestRequestTimeoutBoundsEveryCall lets the tenant stall for longer than the test's own deadline: only
// Config.RequestTimeout can end the calls, plain and $batch alike.
func TestRequestTimeoutBoundsEveryCall(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 5, BigGroupSize: 5},
		graph.Config{RequestTimeout: 300 * time.Millisecond, MaxAttempts: 2})
	lester := userID(t, srv, graphtest.UPNLester)
	if _, err := c.ResolveUser(ctx(t), lester); err != nil { // token cached before the tenant stalls
		t.Fatal(err)
	}
	srv.SetLatency(10 * time.Minute)
	defer srv.SetLatency(0)

	_, err := c.ResolveUser(ctx(t), lester)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ResolveUser against a stalled tenant: %v; want a deadline exceeded", err)
	}
	res, err := c.RevokeSessions(ctx(t), []string{lester}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Outcome != graph.OutcomeFailed || r.Attempts != 2 || !strings.Contains(r.Message, "deadline exceeded") {
		t.Errorf("revoke against a stalled tenant: %+v; want failed after 2 timed-out attempts", r)
	}
}
