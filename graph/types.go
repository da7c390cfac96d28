// Package graph is signoutbot's view of Microsoft Entra ID: a small Directory interface with the project's own
// types, implemented over msgraph-sdk-go. Kiota models never leave this package.
package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultGraphURL is Microsoft Graph v1.0 in the global cloud. National clouds and the simulated tenant are
// reached by configuring another base URL (SIGNOUTBOT_GRAPH_URL).
const DefaultGraphURL = "https://graph.microsoft.com/v1.0"

// User is the part of an Entra user object the bot needs.
type User struct {
	ID          string
	UPN         string
	DisplayName string
	Mail        string
	// Guest is true for B2B users: userType Guest, and also external members (see External). This tenant's
	// revocation does not sign them out of their home tenant, so the bot never reports them as signed out.
	Guest bool
	// External is true for a B2B user whose userType is Member: the UPN carries #EXT# or externalUserState is
	// set. Such a user is as much a guest for sign-out purposes; the flag lets the bot call them an
	// "external member" rather than a guest.
	External          bool
	Enabled           bool
	SessionsValidFrom time.Time // zero when not read
}

// Label is how a user is named in chat: "Lester Tester <lester@contoso.com>".
func (u User) Label() string {
	if u.DisplayName == "" {
		return u.UPN
	}
	return u.DisplayName + " <" + u.UPN + ">"
}

// Group is an Entra group.
type Group struct {
	ID          string
	DisplayName string
	Description string
}

// Outcome of one revocation.
type Outcome string

const (
	OutcomeRevoked   Outcome = "revoked"
	OutcomeNotFound  Outcome = "not_found"
	OutcomeForbidden Outcome = "forbidden"
	OutcomeFailed    Outcome = "failed"
)

// RevokeResult is the outcome for one user of revokeSignInSessions. Every user given to RevokeSessions gets
// exactly one result, in input order.
type RevokeResult struct {
	UserID  string
	Outcome Outcome
	// At is when the final attempt was sent, on the bot host's clock. It is no proof on its own: Graph sets
	// signInSessionsValidFromDateTime on Graph's clock, which may run behind the host's, so a read-back
	// compared with At may never confirm. Compare read-backs with GraphAt instead.
	At time.Time
	// GraphAt is a lower bound, on Graph's clock, for when Graph applied the revocation: the Date header of
	// the response that accepted it (for $batch, the outer response) minus the call's round trip measured on
	// the host's monotonic clock, minus one second for the header's and the stored value's whole-second
	// granularity. A read-back with signInSessionsValidFromDateTime >= GraphAt shows this revocation (or a
	// later one) took. Zero unless Outcome is revoked and the response had a parseable Date header.
	GraphAt time.Time
	// AckedAt is when Graph's accepting answer arrived, on the bot host's clock (zero unless revoked). The
	// revocation took effect at Graph before its answer arrived, so AckedAt plus the access-token lifetime is
	// a deadline after which no token issued before the revocation still works, whatever the difference
	// between the host's clock and Graph's; At plus the lifetime could be too early by the round trip.
	AckedAt  time.Time
	Status   int    // HTTP status of the final attempt
	Code     string // Graph's error code, when not revoked
	Message  string // Graph's error message, when not revoked
	Attempts int
}

// SessionState is what a read-back of one user shows.
type SessionState struct {
	UserID            string
	Found             bool
	SessionsValidFrom time.Time
	Err               error // a failure to read this user (not "not found"), after retries
}

// TokenLifetime is the longest time an access token issued before a revocation can still be used: the
// longest AccessTokenLifetime among every token lifetime policy that applies in the tenant, or the configured
// default for apps no policy covers when that is longer.
type TokenLifetime struct {
	Lifetime time.Duration
	// Source explains Lifetime to the admin in a few words, e.g. `organization-default policy "Cutover 10 min"`,
	// `policy "Long tokens" assigned to app "Legacy CRM"` or `no token lifetime policy in the tenant (default
	// for Teams and Microsoft 365 clients)`.
	Source string
	// PolicyID is the policy that sets Lifetime; empty when the configured default does.
	PolicyID string
	// FromPolicy is true when a token lifetime policy sets Lifetime, false when the configured default does.
	FromPolicy bool
}

// Directory is everything the bot asks of Entra ID.
type Directory interface {
	// ResolveUser finds one user by UPN, mail, object id, or proxy address ("smtp:alias@contoso.com").
	ResolveUser(ctx context.Context, ref string) (User, error)
	// MatchUsers calls fn with each page of users whose display name contains text.
	MatchUsers(ctx context.Context, text string, fn func([]User) error) error
	// ResolveGroup finds one group by display name or object id.
	ResolveGroup(ctx context.Context, ref string) (Group, error)
	// GroupsByDescription lists the groups whose description is exactly text (at most 25): the way an admin
	// names a group by what it says it is ("Sales EMEA") when its display name is shared ("Sales").
	GroupsByDescription(ctx context.Context, text string) ([]Group, error)
	// GroupMembers calls fn with each page of the group's transitive members that are users.
	GroupMembers(ctx context.Context, groupID string, fn func([]User) error) error
	// RevokeSessions revokes the sign-in sessions of every user, returning one result per id in order.
	RevokeSessions(ctx context.Context, userIDs []string, progress func(RevokeResult)) ([]RevokeResult, error)
	// SessionsValidFrom reads signInSessionsValidFromDateTime back for every user, one state per id in order.
	SessionsValidFrom(ctx context.Context, userIDs []string) ([]SessionState, error)
	// AccessTokenLifetime says how long access tokens issued before a revocation can live.
	AccessTokenLifetime(ctx context.Context) (TokenLifetime, error)
	// OrganizationDefaultPolicy reads the organization-default token lifetime policy (found false: none).
	OrganizationDefaultPolicy(ctx context.Context) (current PolicySnapshot, found bool, err error)
	// SetOrganizationDefaultLifetime sets the organization default's AccessTokenLifetime to d (10 min .. 1 day,
	// else an error wrapping ErrLifetimeOutOfRange before any call) for a cutover window: it patches the
	// existing policy, returning it as it was in prev with hadPrev, or creates one, returning its id in
	// createdID. A missing Policy.ReadWrite.ApplicationConfiguration is an error wrapping *APIError 403.
	SetOrganizationDefaultLifetime(ctx context.Context, d time.Duration, displayName string) (prev PolicySnapshot, hadPrev bool, createdID string, err error)
	// RestoreOrganizationDefault ends the window: it patches prev back exactly, or deletes the created
	// policy. Idempotent.
	RestoreOrganizationDefault(ctx context.Context, prev PolicySnapshot, hadPrev bool, createdID string) error
	// RevocationAudits counts, per user, the directory audit entries of revokeSignInSessions this app
	// initiated since since (on Graph's clock), 0 for none, reading the audit log at the reporting API's
	// pace. A missing AuditLog.Read.All is an error wrapping *APIError 403.
	RevocationAudits(ctx context.Context, userIDs []string, since time.Time) (map[string]int, error)
}

// ErrNotFound is returned (wrapped in *NotFoundError) when a user or group does not exist.
var ErrNotFound = errors.New("not found")

// NotFoundError names what was looked for.
type NotFoundError struct {
	Kind string // "user" or "group"
	Ref  string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no such %s: %q", e.Kind, e.Ref)
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// AmbiguousError is returned when a group name matches several groups; it lists them so the admin can pick
// one by id.
type AmbiguousError struct {
	Ref        string
	Candidates []Group
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d groups are named %q; name one by its object id:", len(e.Candidates), e.Ref)
	for _, g := range e.Candidates {
		fmt.Fprintf(&b, " %s (%s", g.ID, g.DisplayName)
		if g.Description != "" {
			fmt.Fprintf(&b, ": %s", g.Description)
		}
		b.WriteString(")")
	}
	return b.String()
}

// CollectUsers gathers every page of a paged listing into one slice, for small scopes and tests.
func CollectUsers(ctx context.Context, list func(context.Context, func([]User) error) error) ([]User, error) {
	var all []User
	err := list(ctx, func(page []User) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}
