package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
)

// insertEvents appends events inside tx. An empty RequestID becomes requestID (the row the events describe)
// and a zero At becomes now.
//
// Seq comes from the one-row event_seq counter, not a sequence. A sequence hands out numbers at INSERT time,
// and concurrent transactions can commit in another order: a reader could see Seq 11 before Seq 10 commits,
// advance its cursor past 10 and never see it. The UPDATE below locks the counter row until this transaction
// commits or rolls back; the next writer's UPDATE waits, then reads the committed value. So Seq is handed out
// in commit order, without gaps (a rollback returns its numbers). Every caller appends its events as the last
// write of its transaction, so the lock is held only from here to COMMIT, and no transaction waits for any
// other lock while holding it (no deadlocks).
func (d *DB) insertEvents(ctx context.Context, tx pgx.Tx, requestID string, events ...store.Event) error {
	if len(events) == 0 {
		return nil
	}
	now := d.now()
	var (
		e     encoder
		batch pgx.Batch
		last  int64
	)
	if err := tx.QueryRow(ctx, `UPDATE event_seq SET last = last + $1 RETURNING last`, len(events)).Scan(&last); err != nil {
		return fmt.Errorf("postgres: allocate event seq: %w", err)
	}
	seq := last - int64(len(events))
	for _, ev := range events {
		seq++
		if ev.RequestID == "" {
			ev.RequestID = requestID
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		batch.Queue(`INSERT INTO events (seq, at, request_id, actor_platform, actor_id, actor_name, actor_entra, type,
			detail, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, seq, e.time(ev.At), ev.RequestID,
			ev.Actor.Platform, ev.Actor.ID, ev.Actor.Name, ev.Actor.Entra, ev.Type, ev.Detail, ev.Data)
	}
	if e.err != nil {
		return fmt.Errorf("postgres: append events: %w", e.err)
	}
	// One round trip for all of them, while the counter is locked.
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("postgres: append events for %q: %w", requestID, err)
	}
	return nil
}

// AppendEvent adds one audit event; a zero At becomes now.
func (d *DB) AppendEvent(ctx context.Context, ev store.Event) error {
	return d.inTx(ctx, func(tx pgx.Tx) error {
		return d.insertEvents(ctx, tx, "", ev)
	})
}

const eventCols = `seq, at, request_id, actor_platform, actor_id, actor_name, actor_entra, type, detail, data`

// Events lists the audit log in order, for one request or (requestID "") all of it.
func (d *DB) Events(ctx context.Context, requestID string) ([]store.Event, error) {
	if requestID == "" {
		return d.queryEvents(ctx, requestID, `SELECT `+eventCols+` FROM events ORDER BY seq`)
	}
	return d.queryEvents(ctx, requestID, `SELECT `+eventCols+` FROM events WHERE request_id = $1 ORDER BY seq`, requestID)
}

// EventsAfter lists requestID's events with seq > after, at most limit (0: all).
func (d *DB) EventsAfter(ctx context.Context, requestID string, after int64, limit int) ([]store.Event, error) {
	return d.queryEvents(ctx, requestID, `SELECT `+eventCols+` FROM events WHERE request_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, requestID, after, limitArg(limit))
}

func (d *DB) queryEvents(ctx context.Context, requestID, q string, args ...any) ([]store.Event, error) {
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of %q: %w", requestID, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			ev store.Event
			at int64
		)
		if err := rows.Scan(&ev.Seq, &at, &ev.RequestID, &ev.Actor.Platform, &ev.Actor.ID, &ev.Actor.Name,
			&ev.Actor.Entra, &ev.Type, &ev.Detail, &ev.Data); err != nil {
			return nil, fmt.Errorf("postgres: events of %q: %w", requestID, err)
		}
		ev.At = fromNanos(&at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: events of %q: %w", requestID, err)
	}
	return out, nil
}

// Cursor reads a named outbox position; 0 if it was never advanced.
func (d *DB) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := d.pool.QueryRow(ctx, `SELECT seq FROM cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: cursor %q: %w", name, err)
	}
	return seq, nil
}

// AdvanceCursor moves a named position forward (never back). One upsert statement: concurrent first advances
// of a new name wait on each other's insert instead of failing, and GREATEST keeps the furthest.
func (d *DB) AdvanceCursor(ctx context.Context, name string, seq int64) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO cursors (name, seq) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET seq = GREATEST(cursors.seq, excluded.seq)`, name, seq)
	if err != nil {
		return fmt.Errorf("postgres: advance cursor %q to %d: %w", name, seq, err)
	}
	return nil
}

// SeenDelivery records key and reports whether this is its first sighting. Every pruneEvery calls (and the
// first after Open) it also forgets keys older than deliveryKeep before at, in the same transaction, so a
// pruning failure cannot leave a key recorded while the caller, seeing an error, drops the delivery. Two
// replicas recording one key at once: the second INSERT waits for the first and then does nothing.
func (d *DB) SeenDelivery(ctx context.Context, key string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = d.now()
	}
	var e encoder
	atN, cutoff := e.time(at), bound(at.Add(-deliveryKeep))
	if e.err != nil {
		return false, fmt.Errorf("postgres: record delivery %q: %w", key, e.err)
	}
	var first bool
	err := d.inTx(ctx, func(tx pgx.Tx) error {
		if n := d.deliveries.Add(1); d.pruneEvery <= 1 || n%d.pruneEvery == 1 {
			if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE at < $1`, cutoff); err != nil {
				return fmt.Errorf("postgres: prune deliveries: %w", err)
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, atN)
		if err != nil {
			return fmt.Errorf("postgres: record delivery %q: %w", key, err)
		}
		first = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, err
	}
	return first, nil
}
