// Package scope turns a parsed command into the list of users it would sign out, with every user that will
// not be signed out listed beside the reason (protected, not found), so the approval card never hides anyone.
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
	ReasonNotFound  = "no such user"
)

// Scope is the resolved set of users.
type Scope struct {
	Kind    string // "users", "group", "match"
	Text    string // what was named: the group's display name, the match text, the user list
	GroupID string
	// Group is the group a group command resolved to; ByDescription says it was found by its description
	// because no group has that display name.
	Group         graph.Group
	ByDescription bool
	Targets       []store.Target // pending first-come order; excluded ones carry Detail
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

// Protection knows the accounts that must never be signed out (break-glass admins): users and groups resolved
// to object ids once, at start-up. Names are never looked up again, because anyone allowed to create a group
// could create a second "Break Glass" and make every sign-out fail (or, worse, change what is protected).
// Group members are read by id at every check, so a membership change in Entra applies at once.
type Protection struct {
	UserIDs  []string
	GroupIDs []string
	Dir      graph.Directory
}

// ResolveProtection resolves SIGNOUTBOT_PROTECTED entries (anything with '@' is a user, the rest are group names
// or ids) to object ids. An entry that names nobody, or a group name shared by several groups, is an error: a
// typo must never protect nobody silently.
func ResolveProtection(ctx context.Context, dir graph.Directory, entries []string) (*Protection, error) {
	p := &Protection{Dir: dir}
	var problems []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "@"):
			u, err := dir.ResolveUser(ctx, e)
			if err != nil {
				problems = append(problems, fmt.Errorf("SIGNOUTBOT_PROTECTED: user %q: %w", e, err))
				continue
			}
			p.UserIDs = append(p.UserIDs, u.ID)
		default:
			g, err := dir.ResolveGroup(ctx, e)
			if err != nil {
				problems = append(problems, fmt.Errorf("SIGNOUTBOT_PROTECTED: group %q: %w", e, err))
				continue
			}
			p.GroupIDs = append(p.GroupIDs, g.ID)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return p, nil
}

// Set returns the protected users' object ids as of now.
func (p *Protection) Set(ctx context.Context) (map[string]bool, error) {
	set := make(map[string]bool)
	if p == nil {
		return set, nil
	}
	for _, id := range p.UserIDs {
		set[strings.ToLower(id)] = true
	}
	for _, id := range p.GroupIDs {
		err := p.Dir.GroupMembers(ctx, id, func(page []graph.User) error {
			for _, u := range page {
				set[strings.ToLower(u.ID)] = true
			}
			return nil
		})
		if err != nil {
			// Failing closed: without the protected list we cannot promise to spare those accounts.
			return nil, fmt.Errorf("%w: members of group %s: %w", ErrProtection, id, err)
		}
	}
	return set, nil
}

// Protected reports whether a target is in the set.
func Protected(set map[string]bool, t store.Target) bool {
	return set[strings.ToLower(t.UserID)]
}

// Resolve looks up the users a revoke command names, all at once: fine for the users form (at most 500) and
// for tests; a group or match of any size is streamed with Stream.
func Resolve(ctx context.Context, dir graph.Directory, prot *Protection, cmd commands.Command) (Scope, error) {
	var targets []store.Target
	seen := make(map[string]bool)
	sc, err := Stream(ctx, dir, prot, cmd, func(_ Scope, page []store.Target) error {
		for _, t := range page {
			// Stream passes on a user Graph lists twice (the store skips them); here nobody is listed twice.
			if !seen[t.UserID] {
				seen[t.UserID] = true
				targets = append(targets, t)
			}
		}
		return nil
	})
	if err != nil {
		return Scope{}, err
	}
	sc.Targets = targets
	return sc, nil
}

// Stream resolves the users a revoke command names and hands them to fn a page at a time, as Graph pages them
// (up to 999 users), so a 100,000-member group is never held whole: fn stores each page. The Scope passed to fn
// and returned has everything but Targets. Targets carry their Seq (unique, increasing; not dense), and the
// protected ones are already excluded. A user named twice in the users form is passed once; a group's users
// are deduplicated across pages by Graph's paging (graph.Directory.GroupMembers), and a store's AddTargets
// skips any user it already has, so a repeat is harmless either way. An error from fn stops the resolution and
// is returned.
func Stream(ctx context.Context, dir graph.Directory, prot *Protection, cmd commands.Command, fn func(Scope, []store.Target) error) (Scope, error) {
	protected, err := prot.Set(ctx)
	if err != nil {
		return Scope{}, err
	}
	var sc Scope
	seq := 0
	target := func(u graph.User) store.Target {
		// A disabled account is revoked like any other: enabled again, it would get back every refresh token
		// issued before (Microsoft's guidance for a compromised account is to disable it and revoke).
		t := store.Target{Seq: seq, UserID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, Guest: u.Guest,
			External: u.External, Disabled: !u.Enabled, Status: store.TargetPending}
		seq++
		if Protected(protected, t) {
			t.Status, t.Detail = store.TargetExcluded, ReasonProtected
		}
		return t
	}
	addPage := func(page []graph.User) error {
		targets := make([]store.Target, 0, len(page))
		for _, u := range page {
			targets = append(targets, target(u))
		}
		return fn(sc, targets)
	}
	switch cmd.Kind {
	case commands.KindRevokeUsers:
		sc.Kind, sc.Text = "users", strings.Join(cmd.Users, ", ")
		var targets []store.Target
		seen := make(map[string]bool)
		for _, ref := range cmd.Users {
			u, err := dir.ResolveUser(ctx, ref)
			if errors.Is(err, graph.ErrNotFound) {
				targets = append(targets, store.Target{Seq: seq, UserID: "missing:" + strings.ToLower(ref), UPN: ref,
					Status: store.TargetExcluded, Detail: ReasonNotFound})
				seq++
				continue
			}
			if err != nil {
				return Scope{}, err
			}
			if !seen[u.ID] {
				seen[u.ID] = true
				targets = append(targets, target(u))
			}
		}
		if len(targets) > 0 {
			if err := fn(sc, targets); err != nil {
				return Scope{}, err
			}
		}
	case commands.KindRevokeGroup:
		g, byDescription, err := resolveGroup(ctx, dir, cmd.Group)
		if err != nil {
			return Scope{}, err
		}
		sc.Kind, sc.Text, sc.GroupID, sc.Group, sc.ByDescription = "group", g.DisplayName, g.ID, g, byDescription
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

// resolveGroup finds the group a command names: by object id or display name, else by description (admins
// tell groups that share a name apart by what they are, e.g. "Sales EMEA"). Several groups with that
// description are as ambiguous as several with that name.
func resolveGroup(ctx context.Context, dir graph.Directory, ref string) (graph.Group, bool, error) {
	g, err := dir.ResolveGroup(ctx, ref)
	if !errors.Is(err, graph.ErrNotFound) || graph.IsObjectID(strings.TrimSpace(ref)) {
		return g, false, err
	}
	found, derr := dir.GroupsByDescription(ctx, ref)
	switch {
	case derr != nil:
		return graph.Group{}, false, fmt.Errorf("%w (and looking it up by description failed: %w)", err, derr)
	case len(found) == 1:
		return found[0], true, nil
	case len(found) > 1:
		return graph.Group{}, false, &graph.AmbiguousError{Ref: ref, Candidates: found}
	}
	return graph.Group{}, false, err
}
