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

// ErrNoIdentity means a chat account could not be bound to an enabled Entra user.
var ErrNoIdentity = errors.New("no Entra user for this chat account")

// Identities binds chat accounts to Entra users, because four-eyes approval must compare people, not chat
// accounts: two Slack accounts carrying one person's UPN are one person. The binding comes from, in order:
// an Entra object id the platform itself vouches for (Teams' aadObjectId), an explicit mapping
// (SIGNOUTBOT_IDENTITIES, for workspaces without SSO), or the e-mail on the chat profile matched against UPNs
// only (mail and proxy addresses are easier to give oneself than a UPN). A chat profile's e-mail is only as
// trustworthy as the workspace's sign-in: with SSO it is the Entra UPN; without it, use the mapping.
type Identities struct {
	// Map maps a chat user id to an Entra UPN or object id.
	Map map[string]string
	Dir graph.Directory
	App *App
}

// Resolve finds the enabled Entra user behind actor. Errors wrapping ErrNoIdentity say why, in words for the
// person.
func (i *Identities) Resolve(ctx context.Context, actor store.Actor, profile Person) (graph.User, error) {
	var ref, how string
	switch {
	case actor.Entra != "":
		ref, how = actor.Entra, "the Entra object id your chat platform reports"
	case i.Map[actor.ID] != "":
		ref, how = i.Map[actor.ID], "SIGNOUTBOT_IDENTITIES"
	case profile.Email != "":
		ref, how = profile.Email, "the e-mail on your chat profile"
	default:
		m, ok := i.App.messenger(actor.Platform)
		if !ok {
			return graph.User{}, fmt.Errorf("%w: no chat adapter for %q", ErrNoIdentity, actor.Platform)
		}
		p, err := m.Person(ctx, actor.ID)
		if err != nil {
			return graph.User{}, fmt.Errorf("read your chat profile: %w", err)
		}
		if p.Deleted || p.Email == "" {
			return graph.User{}, fmt.Errorf("%w: your chat profile shows no e-mail address", ErrNoIdentity)
		}
		ref, how = p.Email, "the e-mail on your chat profile"
	}
	u, err := i.Dir.ResolveUser(ctx, ref)
	if errors.Is(err, graph.ErrNotFound) {
		return graph.User{}, fmt.Errorf("%w: no Entra user %q (from %s)", ErrNoIdentity, ref, how)
	}
	if err != nil {
		return graph.User{}, fmt.Errorf("look up your Entra user: %w", err)
	}
	// ResolveUser also accepts mail and proxy addresses; an identity must be the UPN (or the object id) itself.
	if !strings.EqualFold(u.UPN, ref) && !strings.EqualFold(u.ID, ref) {
		return graph.User{}, fmt.Errorf("%w: %q (from %s) is not the user principal name of an Entra user", ErrNoIdentity, ref, how)
	}
	if !u.Enabled {
		return graph.User{}, fmt.Errorf("%w: the Entra user %s (from %s) is disabled", ErrNoIdentity, u.UPN, how)
	}
	return u, nil
}

// ConfigAdmins decides admins from configuration: the actor must be listed (by chat user id, or through a
// platform user group) and, when EntraGroupID is set, their Entra user (actor.Entra) must be a member of that
// group, so that an admin of the chat workspace cannot make themselves a sign-out approver.
type ConfigAdmins struct {
	IDs []string
	// EntraIDs are admins by Entra object id, for platforms that vouch for it (Teams).
	EntraIDs     []string
	UserGroups   []string
	EntraGroupID string // resolved from SIGNOUTBOT_ADMIN_GROUP at start-up: never looked up by name again
	Dir          graph.Directory
	App          *App
}

func (c *ConfigAdmins) IsAdmin(ctx context.Context, actor store.Actor) (bool, error) {
	listed, err := c.listed(ctx, actor)
	if err != nil || !listed || c.EntraGroupID == "" {
		return listed, err
	}
	if actor.Entra == "" {
		return false, nil
	}
	member := false
	err = c.Dir.GroupMembers(ctx, c.EntraGroupID, func(page []graph.User) error {
		for _, m := range page {
			if strings.EqualFold(m.ID, actor.Entra) {
				member = true
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return false, fmt.Errorf("SIGNOUTBOT_ADMIN_GROUP members: %w", err)
	}
	return member, nil
}

func (c *ConfigAdmins) listed(ctx context.Context, actor store.Actor) (bool, error) {
	for _, id := range c.IDs {
		if id == actor.ID {
			return true, nil
		}
	}
	// Teams admins are configured by Entra object id (SIGNOUTBOT_TEAMS_ADMINS), which Teams vouches for on every
	// authenticated activity.
	if actor.Entra != "" && actor.Platform == "teams" {
		for _, id := range c.EntraIDs {
			if strings.EqualFold(id, actor.Entra) {
				return true, nil
			}
		}
	}
	if len(c.UserGroups) == 0 {
		return false, nil
	}
	m, ok := c.App.messenger(actor.Platform)
	if !ok {
		return false, nil
	}
	ug, ok := m.(UserGroupChecker)
	if !ok {
		return false, nil
	}
	for _, g := range c.UserGroups {
		in, err := ug.InUserGroup(ctx, g, actor.ID)
		if err != nil {
			return false, fmt.Errorf("user group %s: %w", g, err)
		}
		if in {
			return true, nil
		}
	}
	return false, nil
}

var errFound = errors.New("found")
