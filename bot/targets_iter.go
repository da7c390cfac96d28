package bot

import (
	"context"

	"github.com/signoutbot/signoutbot/store"
)

// forEachTarget calls fn with each of a request's targets in scope order, stopping at fn's first error. Reports
// and downloads read targets only through here, so that the whole scope need not be held at once when the store
// reads it in pages (a 100,000-user scope is tens of megabytes of rows).
func forEachTarget(ctx context.Context, st store.Store, requestID string, fn func(store.Target) error) error {
	// A page at a time (TargetsPage), so at most cardPage targets are held here whatever the scope's size.
	for after := -1; ; {
		page, err := st.TargetsPage(ctx, requestID, after, cardPage)
		if err != nil {
			return err
		}
		for _, t := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(t); err != nil {
				return err
			}
		}
		if len(page) < cardPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}
