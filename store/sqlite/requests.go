package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/signoutbot/signoutbot/store"
)

// CreateRequest stores r (Version 1, no approvals), its targets and events in one transaction.
// A zero CreatedAt is set to now, since listing and LatestTarget order by it. A reused dedupKey returns the
// stored request and store.ErrDuplicate. An ID already in use is store.ErrConflict, not ErrDuplicate: the
// caller should pick a new ID, not treat someone else's request as its own.
func (d *DB) CreateRequest(ctx context.Context, r store.Request, targets []store.Target, dedupKey string, events ...store.Event) (store.Request, error) {
	if r.ID == "" {
		return store.Request{}, errors.New("sqlite: create request: empty ID")
	}
	r.Version = 1
	r.Approvals = nil
	if r.CreatedAt.IsZero() {
		r.CreatedAt = d.now()
	}
	for i := range targets {
		if targets[i].RequestID != "" && targets[i].RequestID != r.ID {
			return store.Request{}, fmt.Errorf("sqlite: create request %s: target %s belongs to request %s",
				r.ID, targets[i].UserID, targets[i].RequestID)
		}
	}
	if err := store.CheckEventsOf(r.ID, events); err != nil {
		return store.Request{}, fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	args, err := requestArgs(r)
	if err != nil {
		return store.Request{}, fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	var dedup any
	if dedupKey != "" {
		dedup = dedupKey
	}
	args = append(args, r.ID, r.Version, fmtTime(r.CreatedAt), dedup)

	var existing, stored store.Request
	err = d.write(ctx, func(tx *sql.Tx) error {
		if dedupKey != "" {
			var id string
			err := tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE dedup_key = ?`, dedupKey).Scan(&id)
			if err == nil {
				if existing, err = getRequest(ctx, tx, id); err != nil {
					return err
				}
				return fmt.Errorf("sqlite: dedup key %q already used by request %s: %w", dedupKey, id, store.ErrDuplicate)
			}
			if err != sql.ErrNoRows {
				return fmt.Errorf("sqlite: look up dedup key: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, insertRequestSQL, args...); err != nil {
			if isUnique(err) {
				return fmt.Errorf("sqlite: request id %s already exists: %w", r.ID, store.ErrConflict)
			}
			return fmt.Errorf("sqlite: insert request %s: %w", r.ID, err)
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
	if errors.Is(err, store.ErrDuplicate) {
		return existing, err
	}
	if err != nil {
		return store.Request{}, err
	}
	return stored, nil
}

// GetRequest returns the request with its approvals ordered by time.
func (d *DB) GetRequest(ctx context.Context, id string) (store.Request, error) {
	return getRequest(ctx, d.db, id)
}

// ListRequests returns requests with any of f.Statuses (all when empty), newest first, at most f.Limit.
func (d *DB) ListRequests(ctx context.Context, f store.Filter) ([]store.Request, error) {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT ` + requestCols + ` FROM requests r WHERE 1 = 1`)
	if len(f.Statuses) > 0 {
		q.WriteString(` AND r.status IN (?` + strings.Repeat(`, ?`, len(f.Statuses)-1) + `)`)
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	if !f.FinishedSince.IsZero() {
		// Fixed-width UTC text compares as time; NULL (never finished) matches nothing.
		q.WriteString(` AND r.finished_at >= ?`)
		args = append(args, fmtTime(f.FinishedSince))
	}
	// rowid breaks ties between requests created in the same nanosecond: later insert first.
	q.WriteString(` ORDER BY r.created_at DESC, r.rowid DESC`)
	if f.Limit > 0 {
		q.WriteString(` LIMIT ?`)
		args = append(args, f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list requests: %w", err)
	}
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		var w requestRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("sqlite: list requests: %w", err)
		}
		r, err := w.request()
		if err != nil {
			return nil, fmt.Errorf("sqlite: list requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list requests: %w", err)
	}
	return out, nil
}

// UpdateRequest writes r if the stored version is still r.Version, bumps the version and appends events
// (RequestID defaults to r.ID) in the same transaction. Approvals in r are ignored: AddApproval owns them.
func (d *DB) UpdateRequest(ctx context.Context, r store.Request, events ...store.Event) (store.Request, error) {
	args, err := requestArgs(r)
	if err != nil {
		return store.Request{}, fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
	}
	args = append(args, r.ID, r.Version)
	var stored store.Request
	err = d.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updateRequestSQL, args...)
		if err != nil {
			return fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
		}
		if n == 0 {
			// Either the row is gone or its version moved on; tell the caller which.
			var v int
			err := tx.QueryRowContext(ctx, `SELECT version FROM requests WHERE id = ?`, r.ID).Scan(&v)
			if err == sql.ErrNoRows {
				return fmt.Errorf("sqlite: update request %q: %w", r.ID, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
			}
			return fmt.Errorf("sqlite: update request %s: version %d, stored %d: %w", r.ID, r.Version, v, store.ErrConflict)
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
// caller's subsequent UpdateRequest (to approved) must not lose its CAS because of them.
func (d *DB) AddApproval(ctx context.Context, requestID string, a store.Approval, ev store.Event) error {
	if a.At.IsZero() {
		a.At = d.now()
	}
	if ev.At.IsZero() {
		ev.At = a.At
	}
	return d.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM requests WHERE id = ?`, requestID).Scan(&one)
		if err == sql.ErrNoRows {
			return fmt.Errorf("sqlite: approve request %q: %w", requestID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: approve request %s: %w", requestID, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO approvals (request_id, actor_platform, actor_id, actor_name, actor_entra, at)
			VALUES (?, ?, ?, ?, ?, ?)`, requestID, a.Actor.Platform, a.Actor.ID, a.Actor.Name, a.Actor.Entra, fmtTime(a.At))
		if isUnique(err) {
			return fmt.Errorf("sqlite: %s:%s (Entra user %q) already approved request %s: %w",
				a.Actor.Platform, a.Actor.ID, a.Actor.Entra, requestID, store.ErrDuplicate)
		}
		if err != nil {
			return fmt.Errorf("sqlite: approve request %s: %w", requestID, err)
		}
		return d.insertEvents(ctx, tx, requestID, ev)
	})
}
