package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
)

// errDedupHit ends CreateRequest's transaction when the dedup key was already stored; it never leaves the package.
var errDedupHit = errors.New("dedup key already used")

// CreateRequest stores r (Version 1, no approvals), its targets and events in one transaction.
// A zero CreatedAt is set to now, since listing and LatestTarget order by it. A reused dedupKey returns the
// stored request and store.ErrDuplicate. An ID already in use is store.ErrConflict, not ErrDuplicate: the
// caller should pick a new ID, not treat someone else's request as its own.
func (d *DB) CreateRequest(ctx context.Context, r store.Request, targets []store.Target, dedupKey string, events ...store.Event) (store.Request, error) {
	if r.ID == "" {
		return store.Request{}, errors.New("postgres: create request: empty ID")
	}
	r.Version = 1
	r.Approvals = nil
	if r.CreatedAt.IsZero() {
		r.CreatedAt = d.now()
	}
	for i := range targets {
		if targets[i].RequestID != "" && targets[i].RequestID != r.ID {
			return store.Request{}, fmt.Errorf("postgres: create request %s: target %s belongs to request %s",
				r.ID, targets[i].UserID, targets[i].RequestID)
		}
	}
	args, err := requestArgs(r)
	if err != nil {
		return store.Request{}, fmt.Errorf("postgres: create request %s: %w", r.ID, err)
	}
	var (
		e     encoder
		dedup *string
	)
	if dedupKey != "" {
		dedup = &dedupKey
	}
	args = append(args, r.ID, r.Version, e.time(r.CreatedAt), dedup)
	if e.err != nil {
		return store.Request{}, fmt.Errorf("postgres: create request %s: %w", r.ID, e.err)
	}
	if err := store.CheckEventsOf(r.ID, events); err != nil {
		return store.Request{}, fmt.Errorf("postgres: create request %s: %w", r.ID, err)
	}

	var existing, stored store.Request
	err = d.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertRequestSQL, args...)
		if _, unique := uniqueViolation(err); unique {
			// The dedup key cannot be the cause (ON CONFLICT absorbs it): this is the primary key.
			return fmt.Errorf("postgres: request id %s already exists: %w", r.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: insert request %s: %w", r.ID, err)
		}
		if tag.RowsAffected() == 0 {
			// This statement's snapshot is newer than the INSERT's wait, so it sees the committed winner.
			var id string
			if err := tx.QueryRow(ctx, `SELECT id FROM requests WHERE dedup_key = $1`, dedupKey).Scan(&id); err != nil {
				return fmt.Errorf("postgres: look up dedup key %q: %w", dedupKey, err)
			}
			if existing, err = getRequest(ctx, tx, id); err != nil {
				return err
			}
			return errDedupHit
		}
		if err := insertTargets(ctx, tx, r.ID, targets); err != nil {
			return err
		}
		if err := d.insertEvents(ctx, tx, r.ID, events...); err != nil {
			return err
		}
		stored, err = getRequest(ctx, tx, r.ID)
		return err
	})
	if errors.Is(err, errDedupHit) {
		return existing, fmt.Errorf("postgres: dedup key %q already used by request %s: %w", dedupKey, existing.ID, store.ErrDuplicate)
	}
	if err != nil {
		return store.Request{}, err
	}
	return stored, nil
}

// GetRequest returns the request with its approvals ordered by time.
func (d *DB) GetRequest(ctx context.Context, id string) (store.Request, error) {
	return getRequest(ctx, d.pool, id)
}

// ListRequests returns requests with any of f.Statuses (all when empty), newest first, at most f.Limit.
func (d *DB) ListRequests(ctx context.Context, f store.Filter) ([]store.Request, error) {
	var (
		q    strings.Builder
		args []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT ` + requestCols + ` FROM requests r WHERE true`)
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		q.WriteString(` AND r.status = ANY(` + arg(statuses) + `)`)
	}
	if !f.FinishedSince.IsZero() {
		// NULL (never finished) matches nothing.
		q.WriteString(` AND r.finished_at >= ` + arg(bound(f.FinishedSince)))
	}
	// row_id breaks ties between requests created in the same nanosecond: later insert first.
	q.WriteString(` ORDER BY r.created_at DESC, r.row_id DESC`)
	if f.Limit > 0 {
		q.WriteString(` LIMIT ` + arg(f.Limit))
	}
	rows, err := d.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list requests: %w", err)
	}
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		var w requestRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("postgres: list requests: %w", err)
		}
		r, err := w.request()
		if err != nil {
			return nil, fmt.Errorf("postgres: list requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list requests: %w", err)
	}
	return out, nil
}

// UpdateRequest writes r if the stored version is still r.Version, bumps the version and appends events
// (RequestID defaults to r.ID) in the same transaction. Approvals in r are ignored: AddApproval owns them.
func (d *DB) UpdateRequest(ctx context.Context, r store.Request, events ...store.Event) (store.Request, error) {
	args, err := requestArgs(r)
	if err != nil {
		return store.Request{}, fmt.Errorf("postgres: update request %s: %w", r.ID, err)
	}
	args = append(args, r.ID, r.Version)
	var stored store.Request
	err = d.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, updateRequestSQL, args...)
		if err != nil {
			return fmt.Errorf("postgres: update request %s: %w", r.ID, err)
		}
		if tag.RowsAffected() == 0 {
			// Either the row is gone or its version moved on; tell the caller which.
			var v int
			err := tx.QueryRow(ctx, `SELECT version FROM requests WHERE id = $1`, r.ID).Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("postgres: update request %q: %w", r.ID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("postgres: update request %s: %w", r.ID, err)
			}
			return fmt.Errorf("postgres: update request %s: version %d, stored %d: %w", r.ID, r.Version, v, store.ErrConflict)
		}
		if err := d.insertEvents(ctx, tx, r.ID, events...); err != nil {
			return err
		}
		stored, err = getRequest(ctx, tx, r.ID)
		return err
	})
	if err != nil {
		return store.Request{}, err
	}
	return stored, nil
}

// AddApproval records a's approval of the request and its event (RequestID defaulting to requestID, At to
// a.At) in one transaction. It does not bump the request's version: approvals are their own rows, and the
// caller's subsequent UpdateRequest (to approved) must not lose its CAS because of them. Two concurrent
// approvals by one admin meet on the unique indexes: the second waits for the first and then fails with 23505.
func (d *DB) AddApproval(ctx context.Context, requestID string, a store.Approval, ev store.Event) error {
	if a.At.IsZero() {
		a.At = d.now()
	}
	if ev.At.IsZero() {
		ev.At = a.At
	}
	var e encoder
	at := e.time(a.At)
	if e.err != nil {
		return fmt.Errorf("postgres: approve request %s: %w", requestID, e.err)
	}
	return d.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM requests WHERE id = $1`, requestID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: approve request %q: %w", requestID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: approve request %s: %w", requestID, err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO approvals (request_id, actor_platform, actor_id, actor_name, actor_entra, at)
			VALUES ($1, $2, $3, $4, $5, $6)`, requestID, a.Actor.Platform, a.Actor.ID, a.Actor.Name, a.Actor.Entra, at)
		if _, unique := uniqueViolation(err); unique {
			return fmt.Errorf("postgres: %s:%s (Entra user %q) already approved request %s: %w",
				a.Actor.Platform, a.Actor.ID, a.Actor.Entra, requestID, store.ErrDuplicate)
		}
		if err != nil {
			return fmt.Errorf("postgres: approve request %s: %w", requestID, err)
		}
		return d.insertEvents(ctx, tx, requestID, ev)
	})
}
