package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// requestCols selects a request (aliased r) together with its approvals as one JSON array. One statement reads
// one snapshot, so a request and its approvals are always consistent without holding a transaction.
const requestCols = `r.id, r.status, r.version, r.requester, r.reason, r.scope_kind, r.scope_text, r.command,
	r.required_approvals, r.created_at, r.not_before, r.expires_at, r.decided_at, r.decided_by, r.started_at,
	r.finished_at, r.message, r.conversation, r.token_lifetime, r.lifetime_source, r.tokens_expire_at, r.failure, r.decision_note, r.kind, r.scope_ref, r.data,
	(SELECT json_group_array(json_object('platform', a.actor_platform, 'id', a.actor_id, 'name', a.actor_name,
	                                     'entra', a.actor_entra, 'at', a.at))
	   FROM (SELECT * FROM approvals WHERE request_id = r.id ORDER BY at, rowid) a)`

// requestRow holds the raw columns of requestCols until they are decoded.
type requestRow struct {
	r                                                      store.Request
	status                                                 string
	requester, decidedBy, message, conversation, approvals string
	createdAt, notBefore, expiresAt, decidedAt             sql.NullString
	startedAt, finishedAt, tokensExpireAt                  sql.NullString
	tokenLifetime                                          int64
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
	if err := parseTimes(
		timeDest{w.createdAt, &r.CreatedAt}, timeDest{w.notBefore, &r.NotBefore}, timeDest{w.expiresAt, &r.ExpiresAt},
		timeDest{w.decidedAt, &r.DecidedAt}, timeDest{w.startedAt, &r.StartedAt}, timeDest{w.finishedAt, &r.FinishedAt},
		timeDest{w.tokensExpireAt, &r.TokensExpireAt},
	); err != nil {
		return store.Request{}, fmt.Errorf("request %s: %w", r.ID, err)
	}
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

// decodeApprovals turns the json_group_array of requestCols into Approvals ordered by time. nil when none, so
// a fresh request compares equal to one that never had approvals.
func decodeApprovals(s string) ([]store.Approval, error) {
	var raw []struct {
		Platform string `json:"platform"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Entra    string `json:"entra"`
		At       string `json:"at"`
	}
	if err := fromJSON(s, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]store.Approval, 0, len(raw))
	for _, a := range raw {
		at, err := parseTime(sql.NullString{String: a.At, Valid: true})
		if err != nil {
			return nil, err
		}
		out = append(out, store.Approval{Actor: store.Actor{Platform: a.Platform, ID: a.ID, Name: a.Name, Entra: a.Entra}, At: at})
	}
	// The subquery is ordered, but SQL does not promise aggregates keep that order; a stable sort makes it so.
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// requestArgs are the mutable request columns in the order used by insertRequest and updateRequest.
func requestArgs(r store.Request) ([]any, error) {
	var js [4]string
	for i, v := range []any{r.Requester, r.DecidedBy, r.Message, r.Conversation} {
		s, err := toJSON(v)
		if err != nil {
			return nil, err
		}
		js[i] = s
	}
	return []any{string(r.Status), js[0], r.Reason, r.ScopeKind, r.ScopeText, r.Command, r.RequiredApprovals,
		nullTime(r.NotBefore), nullTime(r.ExpiresAt), nullTime(r.DecidedAt), js[1], nullTime(r.StartedAt),
		nullTime(r.FinishedAt), js[2], js[3], int64(r.TokenLifetime), r.LifetimeSource, nullTime(r.TokensExpireAt),
		r.Failure, r.DecisionNote, r.Kind, r.ScopeRef, r.Data}, nil
}

// The column lists below must stay in requestArgs order.
const insertRequestSQL = `INSERT INTO requests (status, requester, reason, scope_kind, scope_text, command,
	required_approvals, not_before, expires_at, decided_at, decided_by, started_at, finished_at, message,
	conversation, token_lifetime, lifetime_source, tokens_expire_at, failure, decision_note, kind, scope_ref, data, id,
	version, created_at, dedup_key)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// updateRequestSQL is the compare-and-swap: it only matches the row while its version is unchanged. ID,
// CreatedAt and the dedup key are identity, not state, and are never rewritten.
const updateRequestSQL = `UPDATE requests SET status = ?, requester = ?, reason = ?, scope_kind = ?,
	scope_text = ?, command = ?, required_approvals = ?, not_before = ?, expires_at = ?, decided_at = ?,
	decided_by = ?, started_at = ?, finished_at = ?, message = ?, conversation = ?, token_lifetime = ?,
	lifetime_source = ?, tokens_expire_at = ?, failure = ?, decision_note = ?, kind = ?, scope_ref = ?, data = ?,
	version = version + 1
	WHERE id = ? AND version = ?`

// getRequest reads one request through q (a transaction or the pool).
func getRequest(ctx context.Context, q querier, id string) (store.Request, error) {
	var w requestRow
	err := q.QueryRowContext(ctx, `SELECT `+requestCols+` FROM requests r WHERE r.id = ?`, id).Scan(w.dest()...)
	if err == sql.ErrNoRows {
		return store.Request{}, fmt.Errorf("sqlite: request %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Request{}, fmt.Errorf("sqlite: get request %q: %w", id, err)
	}
	r, err := w.request()
	if err != nil {
		return store.Request{}, fmt.Errorf("sqlite: %w", err)
	}
	return r, nil
}
