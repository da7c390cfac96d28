package graph_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// TestSmallRevocationIsNotQueuedBehindALargeOne starts a one-user revocation while a 400-user one runs at a
// write ceiling of 40/s with ten workers. With the budget handed out in arrival order the small call would
// wait behind every batch the large call's workers had reserved (about ten, 200 users); with turns taken
// round-robin it waits for about one.
func TestSmallRevocationIsNotQueuedBehindALargeOne(t *testing.T) {
	srv, c := newTenant(t, graphtest.Options{Users: 420, BigGroupSize: 5}, graph.Config{WriteRate: 40, Concurrency: 10})
	srv.SetWriteBudget(400, 10*time.Second) // 40/s, the client's pace: no 429 to muddle the order
	users := srv.Users()
	var big []string
	for _, u := range users[:400] {
		big = append(big, u.ID)
	}
	small := users[410].ID

	bigCtx, cancelBig := context.WithCancel(ctx(t))
	defer cancelBig()
	var bigResults atomic.Int64
	forty := make(chan struct{})
	var once sync.Once
	bigDone := make(chan struct{})
	go func() {
		defer close(bigDone)
		_, _ = c.RevokeSessions(bigCtx, big, func(graph.RevokeResult) {
			if bigResults.Add(1) >= 40 {
				once.Do(func() { close(forty) })
			}
		})
	}()
	select {
	case <-forty:
	case <-bigDone:
		t.Fatal("the large revocation ended before 40 results")
	}

	atStart := bigResults.Load()
	res, err := c.RevokeSessions(ctx(t), []string{small}, nil)
	atEnd := bigResults.Load()
	if err != nil || len(res) != 1 || res[0].Outcome != graph.OutcomeRevoked {
		t.Fatalf("small revocation: %+v, %v", res, err)
	}
	select {
	case <-bigDone:
		t.Fatal("the large revocation finished before the small one: the test shows nothing")
	default:
	}
	if between := atEnd - atStart; between >= 100 {
		t.Errorf("%d results of the large revocation arrived while the one-user revocation waited; want < 100 (about one batch)", between)
	} else {
		t.Logf("one-user revocation done after %d results of the large one", between)
	}
	cancelBig()
	<-bigDone
}
