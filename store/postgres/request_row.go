package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
)

// requestCols selects a request (aliased r) together with its approvals as one JSON array. One statement reads
// one snapshot, so a request and its approvals are always consistent without holding a transaction.
const requestCols = `r.id, r.status, r.version, r.requester, r.reason, r.scope_kind, r.scope_text, r.command,
	r.required_approvals, r.created_at, r.not_before, r.expires_at, r.decided_at, r.decided_by, r.started_at,
	r.finished_at, r.message, r.conversation, r.token_lifetime, r.lifetime_source, r.tokens_expire_at, r.failure,
	r.decision_note, r.kind, r.scope_ref, r.data,
	(SELECT json_agg(json_build_object('platform', a.actor_platform, 'id', a.actor_id, 'name', a.actor_name,
	                                   'entra', a.actor_entra, 'at', a.at) ORDER BY a.at, a.id)::text
	   FROM approvals a WHERE a.request_id = r.id)`

// requestRow holds the raw columns of requestCols until they are decoded.
type requestRow struct {
	r                                           store.Request
	status                                      string
	requester, decidedBy, message, conversation string
	approvals                                   *string
	createdAt                                   int64
	notBefore, expiresAt, decidedAt             *int64
	startedAt, finishedAt, tokensExpireAt       *int64
	tokenLifetime                               int64
}

// dest returns scan destinations in requestCols order.
func (w *requestRow) dest() []any {
	return []any{&w.r.ID, &w.status, &w.r.Version, &w.requester, &w.r.Reason, &w.r.ScopeKind, &w.r.ScopeText,
		&w.r.Command, &w.r.RequiredApprovals, &w.createdAt, &w.notBefore, &w.expiresAt, &w.decidedAt, &w.decidedBy,
		&w.startedAt, &w.finishedAt, &w.message, &w.conversation, &w.tokenLifetime, &w.r.LifetimeSource,
		&w.tokensExpireAt, &w.r.Failure, &w.r.DecisionNote, &w.r.Kind, &w.r.ScopeRef, &w.r.Data, &w.approvals}
}

// request decodes the scanned columns.
func (w *requestRow) request() (store.Request, error) {
	r := w.r
	r.Status = store.RequestStatus(w.status)
	r.TokenLifetime = time.Duration(w.tokenLifetime)
	r.CreatedAt = fromNanos(&w.createdAt)
	r.NotBefore, r.ExpiresAt, r.DecidedAt = fromNanos(w.notBefore), fromNanos(w.expiresAt), fromNanos(w.decidedAt)
	r.StartedAt, r.FinishedAt = fromNanos(w.startedAt), fromNanos(w.finishedAt)
	r.TokensExpireAt = fromNanos(w.tokensExpireAt)
	for _, c := range []struct {
		s string
		v any
	}{{w.requester, &r.Requester}, {w.decidedBy, &r.DecidedBy}, {w.message, &r.Message}, {w.conversation, &r.Conversation}} {
		if err := fromJSON(c.s, c.v); err != nil {
			return store.Request{}, fmt.Errorf("request %s: %w", r.ID, err)
		}
	}
	approvals, err := decodeApprovals(w.approvals)
	if err != nil {
		return store.Request{}, fmt.Errorf("request %s: %w", r.ID, err)
	}
	r.Approvals = approvals
	return r, nil
}

// decodeApprovals turns the json_agg of requestCols into Approvals ordered by time. nil when none (json_agg
// of no rows is NULL), so a fresh request compares equal to one that never had approvals.
func decodeApprovals(s *string) ([]store.Approval, error) {
	if s == nil {
		return nil, nil
	}
	var raw []struct {
		Platform string `json:"platform"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Entra    string `json:"entra"`
		At       int64  `json:"at"`
	}
	if err := fromJSON(*s, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]store.Approval, 0, len(raw))
	for _, a := range raw {
		out = append(out, store.Approval{Actor: store.Actor{Platform: a.Platform, ID: a.ID, Name: a.Name, Entra: a.Entra},
			At: fromNanos(&a.At)})
	}
	// json_agg's ORDER BY already sorts; the stable sort keeps that promise local to this function.
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// requestArgs are the mutable request columns, $1 to $23 of insertRequestSQL and updateRequestSQL.
func requestArgs(r store.Request) ([]any, error) {
	var e encoder
	args := []any{string(r.Status), e.json(r.Requester), r.Reason, r.ScopeKind, r.ScopeText, r.Command,
		r.RequiredApprovals, e.nullTime(r.NotBefore), e.nullTime(r.ExpiresAt), e.nullTime(r.DecidedAt),
		e.json(r.DecidedBy), e.nullTime(r.StartedAt), e.nullTime(r.FinishedAt), e.json(r.Message),
		e.json(r.Conversation), int64(r.TokenLifetime), r.LifetimeSource, e.nullTime(r.TokensExpireAt), r.Failure,
		r.DecisionNote, r.Kind, r.ScopeRef, r.Data}
	return args, e.err
}

// insertRequestSQL takes requestArgs then id, version, created_at and dedup_key ($24 to $27). A dedup key that
// is already stored inserts nothing (and waits for a concurrent insert of the same key to commit or roll back
// first), so the caller can tell a re-delivered command from a fault.
const insertRequestSQL = `INSERT INTO requests (status, requester, reason, scope_kind, scope_text, command,
	required_approvals, not_before, expires_at, decided_at, decided_by, started_at, finished_at, message,
	conversation, token_lifetime, lifetime_source, tokens_expire_at, failure, decision_note, kind, scope_ref, data, id,
	version, created_at, dedup_key)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
	        $24, $25, $26, $27)
	ON CONFLICT (dedup_key) DO NOTHING`

// updateRequestSQL is the compare-and-swap: it only matches the row while its version is unchanged ($24 id,
// $25 version). Under READ COMMITTED a concurrent writer's UPDATE waits for the first to commit and then
// re-checks the version, so exactly one wins. ID, CreatedAt and the dedup key are identity, not state, and are
// never rewritten.
const updateRequestSQL = `UPDATE requests SET status = $1, requester = $2, reason = $3, scope_kind = $4,
	scope_text = $5, command = $6, required_approvals = $7, not_before = $8, expires_at = $9, decided_at = $10,
	decided_by = $11, started_at = $12, finished_at = $13, message = $14, conversation = $15, token_lifetime = $16,
	lifetime_source = $17, tokens_expire_at = $18, failure = $19, decision_note = $20, kind = $21, scope_ref = $22,
	data = $23, version = version + 1
	WHERE id = $24 AND version = $25`

// getRequest reads one request through q (a transaction or the pool).
func getRequest(ctx context.Context, q querier, id string) (store.Request, error) {
	var w requestRow
	err := q.QueryRow(ctx, `SELECT `+requestCols+` FROM requests r WHERE r.id = $1`, id).Scan(w.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Request{}, fmt.Errorf("postgres: request %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Request{}, fmt.Errorf("postgres: get request %q: %w", id, err)
	}
	r, err := w.request()
	if err != nil {
		return store.Request{}, fmt.Errorf("postgres: %w", err)
	}
	return r, nil
}
