// Package postgres is the PostgreSQL backend of store.Store, for running several bot replicas on one database.
// It keeps SQLite's semantics exactly (store/storetest proves both): every state change is one transaction,
// compare-and-swap on a request's version, and an append-only audit log whose Seq grows in commit order.
//
// Times are stored as bigint nanoseconds since the Unix epoch (UTC), NULL for the zero time, not as
// timestamptz: the contract compares times to the nanosecond (round trips, a lease that is still held one
// nanosecond before its expiry, FinishedSince one nanosecond later), and timestamptz keeps microseconds.
// In SQL, to_timestamp(col / 1e9) shows one as a time. Durations are bigint nanoseconds; actors and message
// references are JSON text, as in SQLite.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/signoutbot/signoutbot/store"
)

// DB is a store.Store backed by a PostgreSQL database (or one schema of it: the connection's search_path).
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// deliveries counts SeenDelivery calls so old keys are pruned now and then rather than on every call.
	deliveries atomic.Uint64
	pruneEvery uint64
	// beforeCommit, when set (tests only), runs in every write transaction just before COMMIT, after the events'
	// Seq values were taken: it widens the window in which a wrong Seq design would commit out of order.
	beforeCommit func()
}

var _ store.Store = (*DB)(nil)

// deliveryKeep is how long a delivery id is remembered. Chat platforms retry within minutes; a day is ample.
const deliveryKeep = 24 * time.Hour

// Open connects to the database at url (a postgres:// URL or a keyword/value string, as libpq accepts; pgxpool
// settings such as pool_max_conns may be added) and brings its schema up to date. Tables live in the first
// schema of the connection's search_path, so one database can hold several independent stores.
func Open(ctx context.Context, url string) (*DB, error) {
	// The connection string is never echoed in errors: it may carry a password (pgx redacts its own).
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	d := &DB{
		pool:       pool,
		now:        func() time.Time { return time.Now().UTC() },
		pruneEvery: 500,
	}
	if err := d.migrate(ctx, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// Close closes every connection, waiting for those in use to be returned.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// txOptions pins READ COMMITTED whatever the server's default_transaction_isolation says: the designs here
// (the Seq counter row, the version CAS, ON CONFLICT upserts) rely on a blocked statement re-reading the row
// that another transaction just committed, where REPEATABLE READ or SERIALIZABLE would fail with a
// serialization error instead.
var txOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// inTx runs fn in one transaction, committing if fn returns nil. fn's error is returned unwrapped so sentinel
// errors (and a result alongside ErrDuplicate) pass through.
func (d *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := d.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	// After a successful Commit this is a no-op; on any error path it ends the transaction.
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if d.beforeCommit != nil {
		d.beforeCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// uniqueViolation reports whether err is a unique or primary key violation (SQLSTATE 23505), and on which
// constraint or index.
func uniqueViolation(err error) (constraint string, ok bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}

// querier is what both the pool and a transaction offer, so reads can run inside or outside a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// The instants a bigint of nanoseconds can hold (years 1677 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encoder turns values into query arguments, keeping the first error so a long argument list stays readable.
type encoder struct{ err error }

// time renders t as nanoseconds since the epoch; for NOT NULL columns.
func (e *encoder) time(t time.Time) int64 {
	if t.Before(minTime) || t.After(maxTime) {
		// time.UnixNano is undefined out there: refuse rather than store a wrong instant.
		if e.err == nil {
			e.err = fmt.Errorf("time %v is outside the storable range %v to %v", t, minTime.UTC(), maxTime.UTC())
		}
		return 0
	}
	return t.UnixNano()
}

// bound renders t for a comparison only (due <= now, finished_at >= since). Stored values all lie within the
// range, so clamping an argument outside it to the range's edge gives exactly the answer the instant itself
// would: nothing is refused that SQLite would answer.
func bound(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// nullTime renders t, or NULL for the zero time so "not set" stays distinguishable in SQL.
func (e *encoder) nullTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := e.time(t)
	return &n
}

// json encodes a small struct column (Actor, MessageRef).
func (e *encoder) json(v any) string {
	b, err := json.Marshal(v)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("encode %T: %w", v, err)
	}
	return string(b)
}

// fromNanos reads a time column; NULL is the zero time. The result is always in UTC.
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// fromJSON decodes a JSON column; empty text leaves v at its zero value.
func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// limitArg is a LIMIT argument: NULL (no limit) for 0 or less.
func limitArg(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	n := int64(limit)
	return &n
}
