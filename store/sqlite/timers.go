package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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
			ON CONFLICT (kind, request_id) DO UPDATE SET due = excluded.due, claimed_by = '', claimed_until = NULL`,
			t.Kind, t.RequestID, fmtTime(t.Due))
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
	out, err := readTimers(rows, err)
	if err != nil {
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

// readTimers reads every timer a query returns (its error, if any, passed on).
func readTimers(rows *sql.Rows, err error) ([]store.Timer, error) {
	if err != nil {
		return nil, err
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
	return out, rows.Err()
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

// ClaimTimers takes due, unclaimed timers of the given kinds for c.Owner. SQLite serialises writers, so selecting
// and marking them in one write transaction is enough for two processes on one file never to take the same one.
func (d *DB) ClaimTimers(ctx context.Context, c store.TimerClaim) ([]store.Timer, error) {
	if err := store.CheckTimerClaim(c); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var out []store.Timer
	err := d.write(ctx, func(tx *sql.Tx) error {
		out = nil
		now := fmtTime(c.Now)
		args := []any{now, now}
		q := `SELECT kind, request_id, due FROM timers WHERE due <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
			AND kind IN (` + placeholders(len(c.Kinds)) + `)`
		for _, k := range c.Kinds {
			args = append(args, k)
		}
		if len(c.Skip) > 0 {
			q += ` AND request_id NOT IN (` + placeholders(len(c.Skip)) + `)`
			for _, id := range c.Skip {
				args = append(args, id)
			}
		}
		q += ` ORDER BY due, kind, request_id LIMIT ?`
		args = append(args, c.Limit)
		var err error
		if out, err = readTimers(tx.QueryContext(ctx, q, args...)); err != nil {
			return fmt.Errorf("sqlite: claim timers: %w", err)
		}
		until := fmtTime(c.Now.Add(c.TTL))
		for _, t := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE timers SET claimed_by = ?, claimed_until = ? WHERE kind = ? AND request_id = ?`,
				c.Owner, until, t.Kind, t.RequestID); err != nil {
				return fmt.Errorf("sqlite: claim timer %s/%s: %w", t.Kind, t.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UnclaimTimer ends owner's claim on a timer, if it still has it.
func (d *DB) UnclaimTimer(ctx context.Context, kind, requestID, owner string) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE timers SET claimed_by = '', claimed_until = NULL
			WHERE kind = ? AND request_id = ? AND claimed_by = ?`, kind, requestID, owner); err != nil {
			return fmt.Errorf("sqlite: unclaim timer %s/%s: %w", kind, requestID, err)
		}
		return nil
	})
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
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
