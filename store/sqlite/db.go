// Package sqlite is the SQLite backend of store.Store: one file, WAL journal, every state change in a
// transaction so a crash never leaves half a decision on disk.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/signoutbot/signoutbot/store"
)

// DB is a store.Store backed by one SQLite database file.
type DB struct {
	db *sql.DB
	// writeGate serialises this process's write transactions in Go. SQLite allows one writer anyway; queueing
	// here (context-aware) avoids the busy handler's sleep-and-retry loop between our own goroutines, and
	// busy_timeout still covers other processes that open the same file.
	writeGate chan struct{}
	now       func() time.Time
	// deliveries counts SeenDelivery calls so old keys are pruned now and then rather than on every call.
	deliveries atomic.Uint64
	pruneEvery uint64
}

var _ store.Store = (*DB)(nil)

// deliveryKeep is how long a delivery id is remembered. Chat platforms retry within minutes; a day is ample.
const deliveryKeep = 24 * time.Hour

// Open opens (creating if needed) the database at path and brings its schema up to date. path ":memory:" gives
// a private in-memory database, useful in tests; it is held on a single connection so it is not lost.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn, memory, err := dataSource(path)
	if err != nil {
		return nil, err
	}
	sqldb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		// Each connection to :memory: is its own empty database.
		sqldb.SetMaxOpenConns(1)
	} else {
		// Keep connections open: each new one re-runs the DSN pragmas and re-reads the schema.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
	}
	d := &DB{
		db:         sqldb,
		writeGate:  make(chan struct{}, 1),
		now:        func() time.Time { return time.Now().UTC() },
		pruneEvery: 500,
	}
	if err := d.migrate(ctx, migrations); err != nil {
		_ = sqldb.Close()
		return nil, err
	}
	return d, nil
}

// dataSource builds the go-sqlite3 DSN. The file: URI form is used so the query parameters reach the driver
// while the path itself is passed through verbatim (escaped).
func dataSource(path string) (dsn string, memory bool, err error) {
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_busy_timeout", "5000")
	params.Set("_foreign_keys", "on")
	params.Set("_synchronous", "NORMAL")
	// 1 MiB of page cache per connection (SQLite's default is 2 MiB) keeps the 8 connections' caches to 8 MiB of
	// the process; the operating system caches the file anyway, and paged reads of a large scope touch each page
	// once.
	params.Set("_cache_size", "-1024")
	// BEGIN IMMEDIATE: a transaction takes the write lock up front, so two read-then-write transactions never
	// both hold read locks and deadlock when upgrading (which SQLite reports as SQLITE_BUSY without waiting).
	params.Set("_txlock", "immediate")
	if path == "" {
		return "", false, errors.New("sqlite: empty database path")
	}
	if path == ":memory:" {
		return "file::memory:?" + params.Encode(), true, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, fmt.Errorf("sqlite: database path %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", false, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
	}
	// In a file: URI, '%' escapes and '?' / '#' end the path; nothing else needs quoting.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs)
	return "file:" + esc + "?" + params.Encode(), false, nil
}

// Close closes the database.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// write runs fn in one write transaction, committing if fn returns nil. fn's error is returned unwrapped so
// sentinel errors (and a result alongside ErrDuplicate) pass through.
func (d *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	select {
	case d.writeGate <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: waiting to write: %w", ctx.Err())
	}
	defer func() { <-d.writeGate }()

	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

// querier is what both *sql.DB and *sql.Tx offer, so reads can run inside or outside a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
