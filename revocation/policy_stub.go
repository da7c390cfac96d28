package revocation

import (
	"context"

	"github.com/signoutbot/signoutbot/store"
)

// runPolicy is replaced by the token lifetime policy change once the graph layer can write policies.
func (r *Runner) runPolicy(ctx context.Context, req store.Request) error {
	return r.Store.DeleteTimer(ctx, TimerRun, req.ID)
}
