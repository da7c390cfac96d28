// Package scope turns a parsed command into the list of users it would sign out, with every user that will
// not be signed out listed beside the reason (protected, disabled, not found), so the approval card never
// hides anyone.
package scope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// Reasons a user is excluded.
const (
	ReasonProtected = "protected account (never signed out by this bot)"
	ReasonDisabled  = "account disabled (cannot sign in)"
	ReasonNotFound  = "no such user"
)

// Scope is the resolved set of users.
type Scope struct {
	Kind    string // "users", "group", "match"
	Text    string // what was named: the group's display name, the match text, the user list
	GroupID string
	Targets []store.Target // pending first-come order; excluded ones carry Detail
}

// Counts tallies targets by status.
func (s Scope) Counts() (pending, excluded int) {
	for _, t := range s.Targets {
		if t.Status == store.TargetPending {
			pending++
		} else {
			excluded++
		}
	}
	return
}

// ErrProtection marks a failure to read the protected accounts: a configuration problem, not the admin's.
var ErrProtection = errors.New("cannot read the protected accounts (SIGNOUTBOT_PROTECTED)")

// Protection knows the accounts that must never be signed out (break-glass admins), by UPN or through
// membership of protected groups. Group members are read at every check, so a change in Entra applies at once.
type Protection struct {
	UPNs   []string // lower-case
	Groups []string // display names or ids
	Dir    graph.Directory
}

// NewProtection parses SIGNOUTBOT_PROTECTED entries: anything with '@' is a UPN, the rest are group names or ids.
func NewProtection(dir graph.Directory, entries []string) *Protection {
	p := &Protection{Dir: dir}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "@"):
			p.UPNs = append(p.UPNs, strings.ToLower(e))
		default:
			p.Groups = append(p.Groups, e)
		}
	}
	return p
}

// Set returns the protected users' ids and UPNs (lower-case) as of now.
func (p *Protection) Set(ctx context.Context) (map[string]bool, error) {
	set := make(map[string]bool)
	if p == nil {
		return set, nil
	}
	for _, u := range p.UPNs {
		set[u] = true
	}
	for _, name := range p.Groups {
		g, err := p.Dir.ResolveGroup(ctx, name)
		if err != nil {
			// Failing closed: without the protected list we cannot promise to spare those accounts.
			return nil, fmt.Errorf("%w: group %q: %w", ErrProtection, name, err)
		}
		err = p.Dir.GroupMembers(ctx, g.ID, func(page []graph.User) error {
			for _, u := range page {
				set[u.ID] = true
				set[strings.ToLower(u.UPN)] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: members of group %q: %w", ErrProtection, name, err)
		}
	}
	return set, nil
}

// Protected reports whether a target is in the set.
func Protected(set map[string]bool, t store.Target) bool {
	return set[t.UserID] || set[strings.ToLower(t.UPN)]
}

// Resolve looks up the users a revoke command names.
func Resolve(ctx context.Context, dir graph.Directory, prot *Protection, cmd commands.Command) (Scope, error) {
	protected, err := prot.Set(ctx)
	if err != nil {
		return Scope{}, err
	}
	var sc Scope
	seen := make(map[string]bool)
	add := func(u graph.User) {
		if seen[u.ID] {
			return
		}
		seen[u.ID] = true
		t := store.Target{Seq: len(sc.Targets), UserID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, Guest: u.Guest, Status: store.TargetPending}
		switch {
		case Protected(protected, t):
			t.Status, t.Detail = store.TargetExcluded, ReasonProtected
		case !u.Enabled:
			t.Status, t.Detail = store.TargetExcluded, ReasonDisabled
		}
		sc.Targets = append(sc.Targets, t)
	}
	addPage := func(page []graph.User) error {
		for _, u := range page {
			add(u)
		}
		return nil
	}
	switch cmd.Kind {
	case commands.KindRevokeUsers:
		sc.Kind, sc.Text = "users", strings.Join(cmd.Users, ", ")
		for _, ref := range cmd.Users {
			u, err := dir.ResolveUser(ctx, ref)
			if errors.Is(err, graph.ErrNotFound) {
				sc.Targets = append(sc.Targets, store.Target{Seq: len(sc.Targets), UserID: "missing:" + strings.ToLower(ref), UPN: ref,
					Status: store.TargetExcluded, Detail: ReasonNotFound})
				continue
			}
			if err != nil {
				return Scope{}, err
			}
			add(u)
		}
	case commands.KindRevokeGroup:
		g, err := dir.ResolveGroup(ctx, cmd.Group)
		if err != nil {
			return Scope{}, err
		}
		sc.Kind, sc.Text, sc.GroupID = "group", g.DisplayName, g.ID
		if err := dir.GroupMembers(ctx, g.ID, addPage); err != nil {
			return Scope{}, err
		}
	case commands.KindRevokeMatch:
		sc.Kind, sc.Text = "match", cmd.Match
		if err := dir.MatchUsers(ctx, cmd.Match, addPage); err != nil {
			return Scope{}, err
		}
	default:
		return Scope{}, fmt.Errorf("scope: %s is not a sign-out command", cmd.Kind)
	}
	return sc, nil
}
