package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
)

// SetTimer schedules t, moving the deadline if (Kind, RequestID) is already scheduled.
func (d *DB) SetTimer(ctx context.Context, t store.Timer) error {
	// A zero Due would fire at once and is almost certainly a caller bug.
	if t.Due.IsZero() {
		return fmt.Errorf("postgres: timer %s/%s has no due time", t.Kind, t.RequestID)
	}
	var e encoder
	due := e.time(t.Due)
	if e.err != nil {
		return fmt.Errorf("postgres: set timer %s/%s: %w", t.Kind, t.RequestID, e.err)
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO timers (kind, request_id, due) VALUES ($1, $2, $3)
		ON CONFLICT (kind, request_id) DO UPDATE SET due = excluded.due, claimed_by = '', claimed_until = NULL`, t.Kind, t.RequestID, due)
	if err != nil {
		return fmt.Errorf("postgres: set timer %s/%s: %w", t.Kind, t.RequestID, err)
	}
	return nil
}

// DeleteTimer removes a timer; removing one that is not there is not an error.
func (d *DB) DeleteTimer(ctx context.Context, kind, requestID string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM timers WHERE kind = $1 AND request_id = $2`, kind, requestID); err != nil {
		return fmt.Errorf("postgres: delete timer %s/%s: %w", kind, requestID, err)
	}
	return nil
}

// DueTimers lists timers due at or before now, earliest first.
func (d *DB) DueTimers(ctx context.Context, now time.Time) ([]store.Timer, error) {
	rows, err := d.pool.Query(ctx, `SELECT kind, request_id, due FROM timers WHERE due <= $1
		ORDER BY due, kind, request_id`, bound(now))
	out, err := readTimers(rows, err)
	if err != nil {
		return nil, fmt.Errorf("postgres: due timers: %w", err)
	}
	return out, nil
}

// NextTimer returns the earliest timer, if any, so the scheduler knows how long to sleep.
func (d *DB) NextTimer(ctx context.Context) (store.Timer, bool, error) {
	t, err := scanTimer(d.pool.QueryRow(ctx, `SELECT kind, request_id, due FROM timers
		ORDER BY due, kind, request_id LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Timer{}, false, nil
	}
	if err != nil {
		return store.Timer{}, false, err
	}
	return t, true, nil
}

// readTimers reads every timer a query returns (its error, if any, passed on).
func readTimers(rows pgx.Rows, err error) ([]store.Timer, error) {
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

func scanTimer(s pgx.Row) (store.Timer, error) {
	var (
		t   store.Timer
		due int64
	)
	if err := s.Scan(&t.Kind, &t.RequestID, &due); err != nil {
		return store.Timer{}, fmt.Errorf("postgres: read timer: %w", err)
	}
	t.Due = fromNanos(&due)
	return t, nil
}

// claimTimersSQL marks due, unclaimed timers as owner's. FOR UPDATE SKIP LOCKED lets replicas claim side by side
// without waiting on each other: a row another claimant has locked is skipped, and a row whose claim committed
// while this statement waited is re-checked against the WHERE clause (READ COMMITTED) and left out.
const claimTimersSQL = `UPDATE timers t SET claimed_by = $1, claimed_until = $2
	FROM (SELECT kind, request_id FROM timers
		WHERE due <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
			AND kind = ANY($4) AND NOT (request_id = ANY($5))
		ORDER BY due, kind, request_id LIMIT $6
		FOR UPDATE SKIP LOCKED) c
	WHERE t.kind = c.kind AND t.request_id = c.request_id
	RETURNING t.kind, t.request_id, t.due`

// ClaimTimers takes due, unclaimed timers of the given kinds for c.Owner (see claimTimersSQL).
func (d *DB) ClaimTimers(ctx context.Context, c store.TimerClaim) ([]store.Timer, error) {
	if err := store.CheckTimerClaim(c); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var e encoder
	until := e.time(c.Now.Add(c.TTL))
	if e.err != nil {
		return nil, fmt.Errorf("postgres: claim timers: %w", e.err)
	}
	skip := c.Skip
	if skip == nil {
		skip = []string{}
	}
	out, err := readTimers(d.pool.Query(ctx, claimTimersSQL, c.Owner, until, bound(c.Now), c.Kinds, skip, c.Limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim timers: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b store.Timer) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.RequestID, b.RequestID))
	})
	return out, nil
}

// UnclaimTimer ends owner's claim on a timer, if it still has it.
func (d *DB) UnclaimTimer(ctx context.Context, kind, requestID, owner string) error {
	if _, err := d.pool.Exec(ctx, `UPDATE timers SET claimed_by = '', claimed_until = NULL
		WHERE kind = $1 AND request_id = $2 AND claimed_by = $3`, kind, requestID, owner); err != nil {
		return fmt.Errorf("postgres: unclaim timer %s/%s: %w", kind, requestID, err)
	}
	return nil
}

// claimSQL takes or renews a lease in one statement. ON CONFLICT locks the existing row and re-evaluates the
// WHERE against its latest committed version, and a concurrent first claim waits on the other's insert, so
// two claimants can never both see the lease as free: the row is written only if it is absent, expired or
// already owner's, and the affected-row count says whether that happened.
const claimSQL = `INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3)
	ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
	WHERE leases.owner = excluded.owner OR leases.expires_at <= $4`

// Claim takes or renews the lease name for owner until now+ttl. Expiry is judged by the caller's now, not the
// server's clock, as in SQLite: the replicas' clocks are what the leases protect.
func (d *DB) Claim(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("postgres: claim %s: empty owner", name)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("postgres: claim %s: ttl %v must be positive", name, ttl)
	}
	var e encoder
	until := e.time(now.Add(ttl))
	if e.err != nil {
		return false, fmt.Errorf("postgres: claim %s for %s: %w", name, owner, e.err)
	}
	tag, err := d.pool.Exec(ctx, claimSQL, name, owner, until, bound(now))
	if err != nil {
		return false, fmt.Errorf("postgres: claim %s for %s: %w", name, owner, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release frees the lease if owner still holds it; otherwise it does nothing (someone else took it over).
func (d *DB) Release(ctx context.Context, name, owner string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("postgres: release %s by %s: %w", name, owner, err)
	}
	return nil
}
