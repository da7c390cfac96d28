package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// UserGroupChecker is implemented by adapters whose platform has user groups (Slack's S… groups).
type UserGroupChecker interface {
	InUserGroup(ctx context.Context, groupID, userID string) (bool, error)
}

// ConfigAdmins decides admins from configuration: the actor must be listed (by user id, or through a platform
// user group) and, when EntraGroup is set, the e-mail on their chat profile must resolve to a member of that
// Entra group, so that an admin of the chat workspace cannot make themselves a sign-out approver.
type ConfigAdmins struct {
	IDs        []string
	UserGroups []string
	EntraGroup string // display name or object id
	Dir        graph.Directory
	App        *App
}

func (c *ConfigAdmins) IsAdmin(ctx context.Context, actor store.Actor) (bool, error) {
	listed := false
	for _, id := range c.IDs {
		if id == actor.ID {
			listed = true
			break
		}
	}
	m, haveMessenger := c.App.messenger(actor.Platform)
	if !listed && len(c.UserGroups) > 0 && haveMessenger {
		if ug, ok := m.(UserGroupChecker); ok {
			for _, g := range c.UserGroups {
				in, err := ug.InUserGroup(ctx, g, actor.ID)
				if err != nil {
					return false, fmt.Errorf("user group %s: %w", g, err)
				}
				if in {
					listed = true
					break
				}
			}
		}
	}
	if !listed || c.EntraGroup == "" {
		return listed, nil
	}
	if !haveMessenger {
		return false, nil
	}
	p, err := m.Person(ctx, actor.ID)
	if err != nil {
		return false, fmt.Errorf("read your chat profile: %w", err)
	}
	if p.Deleted || p.Email == "" {
		return false, nil
	}
	u, err := c.Dir.ResolveUser(ctx, p.Email)
	if errors.Is(err, graph.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	g, err := c.Dir.ResolveGroup(ctx, c.EntraGroup)
	if err != nil {
		return false, fmt.Errorf("SIGNOUTBOT_ADMIN_GROUP: %w", err)
	}
	member := false
	err = c.Dir.GroupMembers(ctx, g.ID, func(page []graph.User) error {
		for _, m := range page {
			if m.ID == u.ID || strings.EqualFold(m.UPN, u.UPN) {
				member = true
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return false, err
	}
	return member, nil
}

var errFound = errors.New("found")
