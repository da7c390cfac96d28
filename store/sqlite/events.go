package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// insertEvents appends events inside tx. An empty RequestID becomes requestID (the row the events describe)
// and a zero At becomes now; Seq is always assigned by the database.
func (d *DB) insertEvents(ctx context.Context, tx *sql.Tx, requestID string, events ...store.Event) error {
	now := d.now()
	for _, ev := range events {
		if ev.RequestID == "" {
			ev.RequestID = requestID
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO events (at, request_id, actor_platform, actor_id, actor_name,
			actor_entra, type, detail, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, fmtTime(ev.At), ev.RequestID,
			ev.Actor.Platform, ev.Actor.ID, ev.Actor.Name, ev.Actor.Entra, ev.Type, ev.Detail, ev.Data)
		if err != nil {
			return fmt.Errorf("sqlite: append %q event for %q: %w", ev.Type, ev.RequestID, err)
		}
	}
	return nil
}

// AppendEvent adds one audit event; a zero At becomes now.
func (d *DB) AppendEvent(ctx context.Context, ev store.Event) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		return d.insertEvents(ctx, tx, "", ev)
	})
}

// Events lists the audit log in order, for one request or (requestID "") all of it.
func (d *DB) Events(ctx context.Context, requestID string) ([]store.Event, error) {
	q := `SELECT seq, at, request_id, actor_platform, actor_id, actor_name, actor_entra, type, detail, data FROM events`
	var args []any
	if requestID != "" {
		q += ` WHERE request_id = ?`
		args = append(args, requestID)
	}
	return d.queryEvents(ctx, requestID, q+` ORDER BY seq`, args...)
}

// EventsAfter lists requestID's events with seq > after, at most limit (0: all).
func (d *DB) EventsAfter(ctx context.Context, requestID string, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return d.queryEvents(ctx, requestID, `SELECT seq, at, request_id, actor_platform, actor_id, actor_name,
		actor_entra, type, detail, data FROM events WHERE request_id = ? AND seq > ? ORDER BY seq LIMIT ?`, requestID, after, limit)
}

func (d *DB) queryEvents(ctx context.Context, requestID, q string, args ...any) ([]store.Event, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of %q: %w", requestID, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			ev store.Event
			at sql.NullString
		)
		if err := rows.Scan(&ev.Seq, &at, &ev.RequestID, &ev.Actor.Platform, &ev.Actor.ID, &ev.Actor.Name,
			&ev.Actor.Entra, &ev.Type, &ev.Detail, &ev.Data); err != nil {
			return nil, fmt.Errorf("sqlite: events of %q: %w", requestID, err)
		}
		if ev.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: event %d: %w", ev.Seq, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events of %q: %w", requestID, err)
	}
	return out, nil
}

// Cursor reads a named outbox position; 0 if it was never advanced.
func (d *DB) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := d.db.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: cursor %q: %w", name, err)
	}
	return seq, nil
}

// AdvanceCursor moves a named position forward (never back).
func (d *DB) AdvanceCursor(ctx context.Context, name string, seq int64) error {
	return d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cursors (name, seq) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`, name, seq)
		if err != nil {
			return fmt.Errorf("sqlite: advance cursor %q to %d: %w", name, seq, err)
		}
		return nil
	})
}

// SeenDelivery records key and reports whether this is its first sighting. Every pruneEvery calls (and the
// first after Open) it also forgets keys older than deliveryKeep before at, in the same transaction, so a
// pruning failure cannot leave a key recorded while the caller, seeing an error, drops the delivery.
func (d *DB) SeenDelivery(ctx context.Context, key string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = d.now()
	}
	var first bool
	err := d.write(ctx, func(tx *sql.Tx) error {
		if n := d.deliveries.Add(1); d.pruneEvery <= 1 || n%d.pruneEvery == 1 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE at < ?`, fmtTime(at.Add(-deliveryKeep))); err != nil {
				return fmt.Errorf("sqlite: prune deliveries: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key, fmtTime(at))
		if err != nil {
			return fmt.Errorf("sqlite: record delivery %q: %w", key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: record delivery %q: %w", key, err)
		}
		first = n == 1
		return nil
	})
	if err != nil {
		return false, err
	}
	return first, nil
}
