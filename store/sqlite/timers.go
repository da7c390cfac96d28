package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// SetTimer schedules t, moving the deadline if (Kind, RequestID) is already scheduled.
func (d *DB) SetTimer(ctx context.Context, t store.Timer) error {
	// A zero Due would fire at once and is almost certainly a caller bug.
	if t.Due.IsZero() {
		return fmt.Errorf("sqlite: timer %s/%s has no due time", t.Kind, t.RequestID)
	}
	return d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO timers (kind, request_id, due) VALUES (?, ?, ?)
			ON CONFLICT (kind, request_id) DO UPDATE SET due = excluded.due`, t.Kind, t.RequestID, fmtTime(t.Due))
		if err != nil {
			return fmt.Errorf("sqlite: set timer %s/%s: %w", t.Kind, t.RequestID, err)
		}
		return nil
	})
}

// DeleteTimer removes a timer; removing one that is not there is not an error.
func (d *DB) DeleteTimer(ctx context.Context, kind, requestID string) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM timers WHERE kind = ? AND request_id = ?`, kind, requestID); err != nil {
			return fmt.Errorf("sqlite: delete timer %s/%s: %w", kind, requestID, err)
		}
		return nil
	})
}

// DueTimers lists timers due at or before now, earliest first.
func (d *DB) DueTimers(ctx context.Context, now time.Time) ([]store.Timer, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT kind, request_id, due FROM timers WHERE due <= ?
		ORDER BY due, kind, request_id`, fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due timers: %w", err)
	}
	defer rows.Close()
	var out []store.Timer
	for rows.Next() {
		t, err := scanTimer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due timers: %w", err)
	}
	return out, nil
}

// NextTimer returns the earliest timer, if any, so the scheduler knows how long to sleep.
func (d *DB) NextTimer(ctx context.Context) (store.Timer, bool, error) {
	t, err := scanTimer(d.db.QueryRowContext(ctx, `SELECT kind, request_id, due FROM timers
		ORDER BY due, kind, request_id LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Timer{}, false, nil
	}
	if err != nil {
		return store.Timer{}, false, err
	}
	return t, true, nil
}

func scanTimer(s interface{ Scan(...any) error }) (store.Timer, error) {
	var (
		t   store.Timer
		due sql.NullString
	)
	if err := s.Scan(&t.Kind, &t.RequestID, &due); err != nil {
		return store.Timer{}, fmt.Errorf("sqlite: read timer: %w", err)
	}
	var err error
	if t.Due, err = parseTime(due); err != nil {
		return store.Timer{}, fmt.Errorf("sqlite: timer %s/%s: %w", t.Kind, t.RequestID, err)
	}
	return t, nil
}

// Claim takes or renews the lease name for owner until now+ttl. It is one conditional UPSERT, so two
// claimants can never both see the lease as free: the row is written only if it is absent, expired or
// already owner's, and the affected-row count says whether that happened.
func (d *DB) Claim(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("sqlite: claim %s: empty owner", name)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("sqlite: claim %s: ttl %v must be positive", name, ttl)
	}
	var ok bool
	err := d.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE leases.owner = excluded.owner OR leases.expires_at <= ?`,
			name, owner, fmtTime(now.Add(ttl)), fmtTime(now))
		if err != nil {
			return fmt.Errorf("sqlite: claim %s for %s: %w", name, owner, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: claim %s for %s: %w", name, owner, err)
		}
		ok = n == 1
		return nil
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}

// Release frees the lease if owner still holds it; otherwise it does nothing (someone else took it over).
func (d *DB) Release(ctx context.Context, name, owner string) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner); err != nil {
			return fmt.Errorf("sqlite: release %s by %s: %w", name, owner, err)
		}
		return nil
	})
}
