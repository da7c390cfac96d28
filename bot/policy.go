package bot

import (
	"context"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/commands"
)

// policy answers /signout policy …; the change itself needs the graph layer's policy writes.
func (a *App) policy(ctx context.Context, ev CommandEvent, _ approvals.Principal, _ commands.Command) {
	a.respond(ctx, ev.Respond, "The token lifetime policy commands are not available yet.")
}
