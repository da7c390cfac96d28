package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are applied in order; migrations[i] brings the schema to version i+1. Never edit one that has
// shipped: append a new one. Version 1 is SQLite's schema after its fifth migration, in PostgreSQL's terms.
//
// Times are bigint nanoseconds since the epoch, NULL for the zero time (see db.go). Columns that are sorted
// or folded (target user ids and UPNs, timer keys) use the "C" collation, so ordering and lower() behave like
// SQLite's BINARY and NOCASE (ASCII only) whatever locale the database was created with.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE requests (
	id                 text PRIMARY KEY,
	-- Insertion order, to break ties between requests created in the same nanosecond (SQLite's rowid).
	row_id             bigint GENERATED ALWAYS AS IDENTITY,
	status             text NOT NULL,
	version            integer NOT NULL,
	requester          text NOT NULL,
	reason             text NOT NULL,
	scope_kind         text NOT NULL,
	scope_text         text NOT NULL,
	command            text NOT NULL,
	required_approvals integer NOT NULL,
	created_at         bigint NOT NULL,
	not_before         bigint,
	expires_at         bigint,
	decided_at         bigint,
	decided_by         text NOT NULL,
	started_at         bigint,
	finished_at        bigint,
	message            text NOT NULL,
	conversation       text NOT NULL,
	token_lifetime     bigint NOT NULL,
	lifetime_source    text NOT NULL,
	tokens_expire_at   bigint,
	failure            text NOT NULL DEFAULT '',
	decision_note      text NOT NULL DEFAULT '',
	kind               text NOT NULL DEFAULT '',
	scope_ref          text NOT NULL DEFAULT '',
	data               text NOT NULL DEFAULT '',
	-- NULL when the command carried no dedup key; UNIQUE allows any number of NULLs.
	dedup_key          text UNIQUE
);
CREATE INDEX requests_created ON requests (created_at, row_id);
CREATE INDEX requests_status_created ON requests (status, created_at, row_id);

CREATE TABLE approvals (
	-- Insertion order, the tie-breaker for approvals at the same instant.
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	request_id     text NOT NULL REFERENCES requests (id),
	actor_platform text NOT NULL,
	actor_id       text NOT NULL,
	actor_name     text NOT NULL,
	actor_entra    text NOT NULL DEFAULT '',
	at             bigint NOT NULL,
	UNIQUE (request_id, actor_platform, actor_id)
);
-- One person with two chat accounts is still one approver.
CREATE UNIQUE INDEX approvals_entra ON approvals (request_id, actor_entra) WHERE actor_entra <> '';

CREATE TABLE targets (
	request_id          text NOT NULL REFERENCES requests (id),
	seq                 integer NOT NULL,
	user_id             text COLLATE "C" NOT NULL,
	upn                 text COLLATE "C" NOT NULL,
	display_name        text NOT NULL,
	guest               boolean NOT NULL,
	external            boolean NOT NULL DEFAULT false,
	disabled            boolean NOT NULL DEFAULT false,
	status              text NOT NULL,
	detail              text NOT NULL,
	attempts            integer NOT NULL,
	revoked_at          bigint,
	graph_revoked_at    bigint,
	sessions_valid_from bigint,
	confirmed_at        bigint,
	updated_at          bigint,
	verify_passes       integer NOT NULL DEFAULT 0,
	PRIMARY KEY (request_id, user_id)
);
CREATE INDEX targets_seq ON targets (request_id, seq);
-- LatestTarget and UserHistory look users up case-insensitively by id or UPN.
CREATE INDEX targets_user_id_lower ON targets (lower(user_id));
CREATE INDEX targets_upn_lower ON targets (lower(upn));

-- The audit log's Seq counter: one row, updated by every transaction that appends events. The row lock that
-- UPDATE takes is held until COMMIT, so Seq values are handed out in commit order (see events.go).
CREATE TABLE event_seq (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	last bigint NOT NULL
);
INSERT INTO event_seq (one, last) VALUES (true, 0);

CREATE TABLE events (
	seq            bigint PRIMARY KEY,
	at             bigint NOT NULL,
	request_id     text NOT NULL,
	actor_platform text NOT NULL,
	actor_id       text NOT NULL,
	actor_name     text NOT NULL,
	actor_entra    text NOT NULL DEFAULT '',
	type           text NOT NULL,
	detail         text NOT NULL,
	data           text NOT NULL
);
CREATE INDEX events_request ON events (request_id, seq);
-- The audit log is append-only, enforced by the database itself and not just by this package's API.
-- Statement-level, so even a statement that matches no row is refused.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

CREATE TABLE cursors (
	name text PRIMARY KEY,
	seq  bigint NOT NULL
);

CREATE TABLE deliveries (
	key text PRIMARY KEY,
	at  bigint NOT NULL
);
CREATE INDEX deliveries_at ON deliveries (at);

CREATE TABLE timers (
	kind       text COLLATE "C" NOT NULL,
	request_id text COLLATE "C" NOT NULL,
	due        bigint NOT NULL,
	PRIMARY KEY (kind, request_id)
);
CREATE INDEX timers_due ON timers (due, kind, request_id);

CREATE TABLE leases (
	name       text PRIMARY KEY,
	owner      text NOT NULL,
	expires_at bigint NOT NULL
);
`,
	// 2: timer claims, so that each due timer fires once across replicas.
	`
ALTER TABLE timers ADD COLUMN claimed_by text NOT NULL DEFAULT '';
ALTER TABLE timers ADD COLUMN claimed_until bigint;
`,
	// 3: secrets every replica must share (the key that signs download links).
	`
CREATE TABLE secrets (
	name  text PRIMARY KEY,
	value bytea NOT NULL
);
`,
}

// migrateLockSQL serialises migrations across processes: two replicas starting at once must not both apply a
// step. The transaction-scoped advisory lock is released by COMMIT or ROLLBACK, so a crashed migrator cannot
// leave it held. The key includes the schema, so stores in different schemas of one database do not wait for
// each other (a hash collision would only make them wait).
const migrateLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('signoutbot store migrations: ' || coalesce(current_schema(), ''), 0))`

// migrate applies every step not yet recorded in schema_migrations, each in its own transaction (DDL is
// transactional in PostgreSQL) so a failure leaves the database at the last good version.
func (d *DB) migrate(ctx context.Context, steps []string) error {
	for {
		done := false
		err := d.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrateLockSQL); err != nil {
				return fmt.Errorf("postgres: lock for migration: %w", err)
			}
			// Under the lock, so a concurrent first start cannot race on creating it.
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return fmt.Errorf("postgres: create schema_migrations: %w", err)
			}
			var current int
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("postgres: read schema version: %w", err)
			}
			// A newer binary has migrated this database; running old code on it could corrupt what it expects.
			if current > len(steps) {
				return fmt.Errorf("postgres: database schema version %d is newer than this binary knows (%d); upgrade signoutbot",
					current, len(steps))
			}
			if current == len(steps) {
				done = true
				return nil
			}
			version := current + 1
			// No arguments: pgx sends it as a simple query, which may hold several statements.
			if _, err := tx.Exec(ctx, steps[current]); err != nil {
				return fmt.Errorf("postgres: apply migration %d: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
				return fmt.Errorf("postgres: record migration %d: %w", version, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
