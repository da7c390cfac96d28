// Package store persists everything signoutbot knows: requests, their targets, approvals, chat message
// references, delivery de-duplication keys, timers, work leases and the append-only audit log. State is written
// here before anything is said in chat or done in Graph, so a restart resumes from the store alone.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every backend returns (wrapped or not) so callers can act on them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a compare-and-swap lost: someone else changed the row first. Reload and decide again.
	ErrConflict = errors.New("store: conflict")
	// ErrDuplicate means a unique fact (an approver's approval, a request's dedup key) is already recorded.
	ErrDuplicate = errors.New("store: duplicate")
)

// RequestStatus is a request's place in its life: pending → approved → running → done, or denied / expired /
// cancelled while pending.
type RequestStatus string

const (
	StatusPending   RequestStatus = "pending"
	StatusApproved  RequestStatus = "approved"
	StatusRunning   RequestStatus = "running"
	StatusDone      RequestStatus = "done"
	StatusDenied    RequestStatus = "denied"
	StatusExpired   RequestStatus = "expired"
	StatusCancelled RequestStatus = "cancelled"
	// StatusFailed: the run ended and Graph accepted no revocation at all (Request.Failure says why).
	StatusFailed RequestStatus = "failed"
	// StatusResolving: the scope is still being read from Graph into the store, page by page. Nobody can approve
	// it (approvals take pending requests only) and it has no card; it becomes pending once its last page is
	// stored, or cancelled if the resolution fails or the bot stops during it (see bot.App.Recover).
	StatusResolving RequestStatus = "resolving"
)

// Final reports whether nothing more will happen to a request.
func (s RequestStatus) Final() bool {
	return s == StatusDone || s == StatusDenied || s == StatusExpired || s == StatusCancelled || s == StatusFailed
}

// Actor is a person on a chat platform.
type Actor struct {
	Platform string `json:"platform"` // "slack", "teams", "console"
	ID       string `json:"id"`       // platform user id (Slack U…, Entra object id for Teams)
	Name     string `json:"name"`     // display name at the time
	// Entra is the object id of the Entra user behind the chat account, when resolved. Four-eyes rules compare
	// these, so one person with two chat accounts is still one person.
	Entra string `json:"entra,omitempty"`
}

// MessageRef locates a posted message on its platform. Its fields are opaque to everything but the adapter
// that made it (Slack: channel id + ts; Teams: serviceUrl + conversation id + activity id).
type MessageRef struct {
	Platform string `json:"platform"`
	Channel  string `json:"channel"`
	ID       string `json:"id"`
	Thread   string `json:"thread,omitempty"`
	Extra    string `json:"extra,omitempty"` // adapter-specific JSON
}

// Request is one sign-out request.
type Request struct {
	ID        string // short, human-typeable, e.g. "R7K3Q9"
	Status    RequestStatus
	Version   int // bumped by every UpdateRequest; the compare-and-swap token
	Requester Actor
	Reason    string
	// ScopeKind is "users", "group" or "match"; ScopeText is what the admin named (the group's name, the text).
	ScopeKind string
	ScopeText string
	Command   string // the text as typed, for the audit log
	// RequiredApprovals is how many distinct admins other than the requester must approve.
	RequiredApprovals int
	Approvals         []Approval // filled by GetRequest, ordered by time
	CreatedAt         time.Time
	NotBefore         time.Time // earliest start; zero means as soon as approved
	ExpiresAt         time.Time // a pending request expires then
	DecidedAt         time.Time // approved, denied, expired or cancelled
	DecidedBy         Actor     // who denied or cancelled
	StartedAt         time.Time
	FinishedAt        time.Time
	Message           MessageRef // the channel message that is edited in place
	Conversation      MessageRef // where the request came from (channel, thread); adapter-specific
	TokenLifetime     time.Duration
	LifetimeSource    string
	TokensExpireAt    time.Time // Graph's acceptance of the last revocation (bot's clock) + TokenLifetime
	// Failure says why a failed request failed (Graph's reason, and the permission to grant for a 403).
	Failure string
	// DecisionNote is what the person who denied or cancelled added (user text, shown as typed).
	DecisionNote string
	// Kind is what the request changes: KindSignOut (the zero value) or KindPolicy.
	Kind string
	// ScopeRef is how the scope is found again at run time (a scheduled sign-out re-resolves it): the group's
	// object id, the match text, or the users as typed, one per line.
	ScopeRef string
	// Data is kind-specific state as JSON (a policy change: the lifetime, until when, and the previous policy).
	Data string
}

// Request kinds.
const (
	KindSignOut = ""
	KindPolicy  = "policy"
)

// Approval is one admin's approval.
type Approval struct {
	Actor Actor
	At    time.Time
}

// TargetStatus is one user's progress through a sign-out.
type TargetStatus string

const (
	TargetExcluded        TargetStatus = "excluded"         // never revoked; Detail says why (protected, disabled)
	TargetPending         TargetStatus = "pending"          // to be revoked
	TargetRevoked         TargetStatus = "revoked"          // Graph accepted revokeSignInSessions
	TargetSessionsInvalid TargetStatus = "sessions_invalid" // read-back shows signInSessionsValidFromDateTime ≥ revocation
	TargetTokensExpired   TargetStatus = "tokens_expired"   // and the access-token lifetime has passed
	TargetGuest           TargetStatus = "guest"            // revoked here, but only the home tenant can sign a guest out
	TargetFailed          TargetStatus = "failed"           // Detail has Graph's reason (not found, forbidden, …)
	// TargetUnconfirmed: revoked, but after every verification pass Graph still did not show
	// signInSessionsValidFromDateTime at or after the revocation (Detail: what Graph shows).
	TargetUnconfirmed TargetStatus = "unconfirmed"
)

// Final reports whether nothing more will happen to the target.
func (s TargetStatus) Final() bool {
	return s == TargetExcluded || s == TargetTokensExpired || s == TargetGuest || s == TargetFailed || s == TargetUnconfirmed
}

// Target is one user in a request's scope.
type Target struct {
	RequestID   string
	Seq         int // position in the scope, stable for paging
	UserID      string
	UPN         string
	DisplayName string
	Guest       bool // guest or B2B external member: only their home tenant can sign them out
	External    bool // a B2B external member (userType Member, but an #EXT# UPN or an externalUserState)
	Disabled    bool // account disabled: revoked all the same (enabling it again would revive old tokens)
	Status      TargetStatus
	Detail      string // why excluded or failed, Graph's code and message
	Attempts    int
	RevokedAt   time.Time // bot's clock: when Graph's acceptance of the revocation arrived
	// GraphRevokedAt is a lower bound, on Graph's clock, of when the revocation took effect (the response's Date
	// header minus the round trip minus a second); zero when Graph sent no Date. Confirmation compares Graph's
	// read-back with this, never with the bot's clock.
	GraphRevokedAt    time.Time
	SessionsValidFrom time.Time // as read back from Graph
	ConfirmedAt       time.Time // when the read-back confirmed it
	VerifyPasses      int       // read-backs that did not yet confirm
	UpdatedAt         time.Time
}

// TargetSummary is how many of a request's targets are where, counted by the store.
type TargetSummary struct {
	Total    int
	ByStatus map[TargetStatus]int // every target, by status
	Guests   map[TargetStatus]int // the guests (Target.Guest) among them, by status
	// Revoked counts the targets Graph accepted a revocation of (RevokedAt set, whatever their status since);
	// LastRevokedAt is the latest such acceptance (zero: none).
	Revoked       int
	LastRevokedAt time.Time
}

// UserTarget is one user's place in one request.
type UserTarget struct {
	Target  Target
	Request Request
}

// EventRequested is the type of the event a request is recorded with when anyone can see it (Actor: the
// requester, Detail: the command as typed, Data: what was asked). The caller builds it, as every event: a store
// writes events, never makes them up, so the log reads the same whichever backend wrote it.
const EventRequested = "requested"

// Event is one audit log entry. The log is append-only; Seq orders it.
type Event struct {
	Seq       int64
	At        time.Time
	RequestID string
	Actor     Actor
	Type      string // e.g. "requested", "approved", "denied", "expired", "cancelled", "revoked", "failed", "confirmed", "tokens_expired", "refused"
	Detail    string // human text
	Data      string // JSON, stable per Type
}

// Timer is a persisted deadline: request expiry, the next verification pass, the "access tokens expired" notice.
// Keyed by (Kind, RequestID) so scheduling again moves the deadline rather than adding a second one.
type Timer struct {
	Kind      string
	RequestID string
	Due       time.Time
}

// TimerClaim asks for due timers to fire. A claimed timer is this replica's to fire until Now+TTL: another replica
// sharing the database skips it meanwhile, so each due timer fires once across replicas, and a replica that dies
// with a claim only delays that timer by TTL. SetTimer (moving the deadline) and DeleteTimer end a claim.
type TimerClaim struct {
	Owner string
	// Kinds limits the claim to timers this replica has handlers for; kinds it does not know stay in place for
	// replicas that do (a rolling upgrade runs old and new side by side).
	Kinds []string
	// Skip names requests not to claim timers of (a handler for them is already running here).
	Skip  []string
	Now   time.Time
	TTL   time.Duration
	Limit int // at most this many (must be positive)
}

// CheckEventsOf reports an event that names a request other than id (an empty RequestID is id's).
func CheckEventsOf(id string, events []Event) error {
	for _, ev := range events {
		if ev.RequestID != "" && ev.RequestID != id {
			return fmt.Errorf("%q event belongs to request %s", ev.Type, ev.RequestID)
		}
	}
	return nil
}

// CheckTimerClaim reports a claim no backend can serve: it would claim timers for nobody, or for no time.
func CheckTimerClaim(c TimerClaim) error {
	switch {
	case c.Owner == "":
		return errors.New("claim timers: empty owner")
	case c.TTL <= 0:
		return fmt.Errorf("claim timers: ttl %v must be positive", c.TTL)
	case c.Limit <= 0:
		return fmt.Errorf("claim timers: limit %d must be positive", c.Limit)
	case len(c.Kinds) == 0:
		return errors.New("claim timers: no kinds")
	}
	return nil
}

// Filter selects requests.
type Filter struct {
	Statuses []RequestStatus // empty: any
	// FinishedSince, when set, keeps only requests that finished (FinishedAt) at or after it.
	FinishedSince time.Time
	Limit         int // 0: no limit
}

// Store is what every backend provides. Implementations must be safe for concurrent use; storetest holds the
// contract suite each backend must pass.
type Store interface {
	// CreateRequest stores a new request with its targets and events (usually its EventRequested; an event with
	// no RequestID is r's, one naming another request is an error) in one transaction. dedupKey (may be empty)
	// makes a re-delivered command harmless: a second create with the same key returns the first request and
	// ErrDuplicate, and stores nothing.
	CreateRequest(ctx context.Context, r Request, targets []Target, dedupKey string, events ...Event) (Request, error)
	GetRequest(ctx context.Context, id string) (Request, error)
	ListRequests(ctx context.Context, f Filter) ([]Request, error)
	// UpdateRequest writes r if its stored Version still equals r.Version (else ErrConflict), bumping Version,
	// and appends events in the same transaction. It returns the stored request.
	UpdateRequest(ctx context.Context, r Request, events ...Event) (Request, error)
	// AddApproval records one admin's approval (ErrDuplicate if that admin already approved) with its event.
	AddApproval(ctx context.Context, requestID string, a Approval, ev Event) error

	// Targets returns every target of a request, ordered by Seq. Fine for small scopes; anything that may meet
	// a 100,000-user scope reads TargetsPage and TargetSummary instead, so memory stays bounded.
	Targets(ctx context.Context, requestID string) ([]Target, error)
	// TargetsPage returns at most limit targets of a request with Seq > afterSeq, ordered by Seq; only those in
	// one of statuses when any are given. Start with afterSeq -1 and pass the last Seq of each page to read the
	// next; a short page is the last. Paging relies on Seq being unique within a request, as every caller
	// assigns it (CreateRequest, AddTargets).
	TargetsPage(ctx context.Context, requestID string, afterSeq, limit int, statuses ...TargetStatus) ([]Target, error)
	// TargetSummary counts a request's targets by status without reading them (cards, thread digests, the
	// runner's end of a run). An unknown request has an empty summary.
	TargetSummary(ctx context.Context, requestID string) (TargetSummary, error)
	// TargetsOf returns the targets of a request that are among userIDs (exact ids), ordered by Seq; ids that
	// are not in its scope are left out. For what names a few users at a time (a page of audit events).
	TargetsOf(ctx context.Context, requestID string, userIDs []string) ([]Target, error)
	// AddTargets appends targets to a stored request, for scopes streamed into the store page by page. A user
	// already among the request's targets is skipped (transitive group membership repeats users across pages),
	// so a page may be added twice harmlessly; it returns how many were added. Seq must be unique within the
	// request. An unknown request is ErrNotFound.
	AddTargets(ctx context.Context, requestID string, targets []Target) (int, error)
	// UpdateTargets writes the given targets (matched by RequestID+UserID) and their events in one transaction.
	UpdateTargets(ctx context.Context, targets []Target, events ...Event) error
	// LatestTarget is the most recent target row for a user (by UserID or UPN) across requests, with its request.
	LatestTarget(ctx context.Context, user string) (Target, Request, error)
	// UserHistory lists a user's target rows (by UserID or UPN, any case) across requests, with their requests,
	// most recent request first, at most limit of them (0: no limit).
	UserHistory(ctx context.Context, user string, limit int) ([]UserTarget, error)
	// ActiveRequestsFor says which of the given users are in scope (not excluded) of a request other than except
	// that is pending, approved or running: user id → the newest such request's id. Users in none are absent.
	ActiveRequestsFor(ctx context.Context, except string, userIDs []string) (map[string]string, error)

	AppendEvent(ctx context.Context, ev Event) error
	Events(ctx context.Context, requestID string) ([]Event, error) // requestID "" lists all
	// EventsAfter lists one request's events with Seq > after, in order, at most limit of them (0: no limit).
	EventsAfter(ctx context.Context, requestID string, after int64, limit int) ([]Event, error)

	// Cursor is a named position in the audit log, 0 if never set. An outbox (e.g. a request's thread replies)
	// keeps one: everything up to it has been acted on, so a restart carries on after it.
	Cursor(ctx context.Context, name string) (int64, error)
	// AdvanceCursor moves a cursor forward to seq; moving it backwards is a no-op, so a slow writer cannot
	// undo a faster one's progress. Cursors rely on Seq growing in commit order: an event that becomes visible
	// must never have a smaller Seq than one already visible (SQLite's serialised writes give that; a backend
	// with concurrent writers must assign Seq under a lock or commit-ordered sequence).
	AdvanceCursor(ctx context.Context, name string, seq int64) error

	// SeenDelivery records a platform delivery id; it reports true the first time a key is seen.
	SeenDelivery(ctx context.Context, key string, at time.Time) (first bool, err error)

	SetTimer(ctx context.Context, t Timer) error
	DeleteTimer(ctx context.Context, kind, requestID string) error
	DueTimers(ctx context.Context, now time.Time) ([]Timer, error)
	NextTimer(ctx context.Context) (Timer, bool, error)
	// ClaimTimers takes up to c.Limit due timers of c.Kinds that no live claim holds, earliest first, for c.Owner
	// until c.Now+c.TTL (see TimerClaim). Two replicas claiming at once never get the same timer.
	ClaimTimers(ctx context.Context, c TimerClaim) ([]Timer, error)
	// UnclaimTimer ends owner's claim on a timer, if it still has it, so that the timer can fire again at once (a
	// replica shutting down hands back the timers whose handlers it interrupted).
	UnclaimTimer(ctx context.Context, kind, requestID, owner string) error

	// Claim takes a named lease for owner until now+ttl; it succeeds if the lease is free, expired or already
	// owner's (claiming again renews it). Release frees it if owner still holds it.
	Claim(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	Release(ctx context.Context, name, owner string) error

	// Secret is the secret stored under name, storing fresh there first when there is none, so that every
	// replica sharing the database uses the one stored first (e.g. the key that signs download links).
	Secret(ctx context.Context, name string, fresh []byte) ([]byte, error)

	Close() error
}
