package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// Concurrent Modify calls on one request all land: each loser of the compare-and-swap decides again on the
// fresh copy, so no increment is lost.
func TestModifyRetriesConflicts(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/m.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.CreateRequest(ctx, store.Request{ID: "RMOD01", Status: store.StatusPending, CreatedAt: now}, nil, ""); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := store.Modify(ctx, st, "RMOD01", func(r store.Request) (store.Request, []store.Event, error) {
				r.RequiredApprovals++
				return r, []store.Event{{Type: "bump"}}, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r, err := st.GetRequest(ctx, "RMOD01")
	if err != nil {
		t.Fatal(err)
	}
	if r.RequiredApprovals != n {
		t.Errorf("RequiredApprovals = %d after %d concurrent increments", r.RequiredApprovals, n)
	}
	// ErrUnchanged writes nothing.
	got, err := store.Modify(ctx, st, "RMOD01", func(r store.Request) (store.Request, []store.Event, error) {
		return r, nil, store.ErrUnchanged
	})
	if !errors.Is(err, store.ErrUnchanged) || got.Version != r.Version {
		t.Errorf("Modify(unchanged) = v%d, %v; want v%d, ErrUnchanged", got.Version, err, r.Version)
	}
}
