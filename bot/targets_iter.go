package bot

import (
	"context"

	"github.com/signoutbot/signoutbot/store"
)

// forEachTarget calls fn with each of a request's targets in scope order, stopping at fn's first error. Reports
// and downloads read targets only through here, so that the whole scope need not be held at once when the store
// reads it in pages (a 100,000-user scope is tens of megabytes of rows).
func forEachTarget(ctx context.Context, st store.Store, requestID string, fn func(store.Target) error) error {
	targets, err := st.Targets(ctx, requestID)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}
