package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnchanged, returned by a Modify function, ends Modify without writing anything.
var ErrUnchanged = errors.New("store: unchanged")

// modifyAttempts bounds how often Modify re-reads after losing a compare-and-swap; each loss means another
// writer made progress, so running out means heavy, pathological contention.
const modifyAttempts = 20

// Modify reads request id, lets decide compute its new state and the events that record the change, and writes
// both with UpdateRequest's compare-and-swap. When another writer changed the request first, it reads again and
// decides again, so decide must be a pure function of the request it is given. It returns the stored request;
// with ErrUnchanged (decide said nothing changes) it returns the current request and that error; decide's own
// errors come back as they are.
func Modify(ctx context.Context, s Store, id string, decide func(Request) (Request, []Event, error)) (Request, error) {
	for range modifyAttempts {
		cur, err := s.GetRequest(ctx, id)
		if err != nil {
			return Request{}, err
		}
		next, events, err := decide(cur)
		if err != nil {
			return cur, err
		}
		stored, err := s.UpdateRequest(ctx, next, events...)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return stored, err
	}
	return Request{}, fmt.Errorf("update request %s: gave up after %d conflicting writes: %w", id, modifyAttempts, ErrConflict)
}
