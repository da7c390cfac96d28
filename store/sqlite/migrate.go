package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; migrations[i] brings the schema to version i+1. Never edit one that has
// shipped: append a new one.
//
// Times are TEXT in a fixed-width UTC form (see codec.go) so they sort and compare as text; NULL means the zero
// time. Durations are INTEGER nanoseconds. Actors and message references on requests are JSON text.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE requests (
	id                 TEXT PRIMARY KEY,
	status             TEXT NOT NULL,
	version            INTEGER NOT NULL,
	requester          TEXT NOT NULL,
	reason             TEXT NOT NULL,
	scope_kind         TEXT NOT NULL,
	scope_text         TEXT NOT NULL,
	command            TEXT NOT NULL,
	required_approvals INTEGER NOT NULL,
	created_at         TEXT NOT NULL,
	not_before         TEXT,
	expires_at         TEXT,
	decided_at         TEXT,
	decided_by         TEXT NOT NULL,
	started_at         TEXT,
	finished_at        TEXT,
	message            TEXT NOT NULL,
	conversation       TEXT NOT NULL,
	token_lifetime     INTEGER NOT NULL,
	lifetime_source    TEXT NOT NULL,
	tokens_expire_at   TEXT,
	-- NULL when the command carried no dedup key; UNIQUE allows any number of NULLs.
	dedup_key          TEXT UNIQUE
);
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_status_created ON requests(status, created_at);

CREATE TABLE approvals (
	request_id     TEXT NOT NULL REFERENCES requests(id),
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	at             TEXT NOT NULL,
	UNIQUE (request_id, actor_platform, actor_id)
);

CREATE TABLE targets (
	request_id          TEXT NOT NULL REFERENCES requests(id),
	seq                 INTEGER NOT NULL,
	user_id             TEXT NOT NULL,
	upn                 TEXT NOT NULL,
	display_name        TEXT NOT NULL,
	guest               INTEGER NOT NULL,
	status              TEXT NOT NULL,
	detail              TEXT NOT NULL,
	attempts            INTEGER NOT NULL,
	revoked_at          TEXT,
	sessions_valid_from TEXT,
	confirmed_at        TEXT,
	updated_at          TEXT,
	PRIMARY KEY (request_id, user_id)
) WITHOUT ROWID;
CREATE INDEX targets_seq ON targets(request_id, seq);
-- LatestTarget looks users up case-insensitively (Entra object ids and UPNs are ASCII, so NOCASE suffices).
CREATE INDEX targets_user_id ON targets(user_id COLLATE NOCASE);
CREATE INDEX targets_upn ON targets(upn COLLATE NOCASE);

CREATE TABLE events (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	at             TEXT NOT NULL,
	request_id     TEXT NOT NULL,
	actor_platform TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_name     TEXT NOT NULL,
	type           TEXT NOT NULL,
	detail         TEXT NOT NULL,
	data           TEXT NOT NULL
);
CREATE INDEX events_request ON events(request_id, seq);
-- The audit log is append-only, enforced by the database itself and not just by this package's API.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE deliveries (
	key TEXT PRIMARY KEY,
	at  TEXT NOT NULL
);
CREATE INDEX deliveries_at ON deliveries(at);

CREATE TABLE timers (
	kind       TEXT NOT NULL,
	request_id TEXT NOT NULL,
	due        TEXT NOT NULL,
	PRIMARY KEY (kind, request_id)
);
CREATE INDEX timers_due ON timers(due);

CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
`,
	// 2: outbox cursors (e.g. how far into the audit log a request's thread replies have been posted).
	`
CREATE TABLE cursors (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
);
`,
	// 3: evidence on Graph's clock, verification passes, disabled and external users, failed requests, and
	// approvers bound to Entra users (one person with two chat accounts is still one approver).
	`
ALTER TABLE targets ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE targets ADD COLUMN external INTEGER NOT NULL DEFAULT 0;
ALTER TABLE targets ADD COLUMN graph_revoked_at TEXT;
ALTER TABLE targets ADD COLUMN verify_passes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN failure TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN actor_entra TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX approvals_entra ON approvals(request_id, actor_entra) WHERE actor_entra <> '';
ALTER TABLE events ADD COLUMN actor_entra TEXT NOT NULL DEFAULT '';
`,
	// 4: the reason given with a deny or cancel.
	`
ALTER TABLE requests ADD COLUMN decision_note TEXT NOT NULL DEFAULT '';
`,
	// 5: scheduled sign-outs and token lifetime policy changes.
	`
ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN scope_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN data TEXT NOT NULL DEFAULT '';
`,
	// 6: timer claims, so that each due timer fires once across replicas.
	`
ALTER TABLE timers ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE timers ADD COLUMN claimed_until TEXT;
`,
	// 7: secrets every replica must share (the key that signs download links).
	`
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`,
}

// migrate creates the bookkeeping table and applies every step not yet recorded, each in its own
// transaction so a failure leaves the database at the last good version.
func (d *DB) migrate(ctx context.Context, steps []string) error {
	var current int
	err := d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("sqlite: create schema_migrations: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("sqlite: read schema version: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A newer binary has written this file; running old code on it could corrupt what it expects.
	if current > len(steps) {
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary knows (%d); upgrade signoutbot",
			current, len(steps))
	}
	for i, m := range steps {
		version := i + 1
		if version <= current {
			continue
		}
		err := d.write(ctx, func(tx *sql.Tx) error {
			// Re-check inside the write lock: another process may have migrated since we looked.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return fmt.Errorf("sqlite: check migration %d: %w", version, err)
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return fmt.Errorf("sqlite: apply migration %d: %w", version, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`,
				version, fmtTime(d.now())); err != nil {
				return fmt.Errorf("sqlite: record migration %d: %w", version, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
