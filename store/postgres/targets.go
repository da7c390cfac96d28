package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
)

const targetCols = `t.request_id, t.seq, t.user_id, t.upn, t.display_name, t.guest, t.status, t.detail, t.attempts,
	t.revoked_at, t.sessions_valid_from, t.confirmed_at, t.updated_at, t.disabled, t.external, t.graph_revoked_at,
	t.verify_passes`

// targetRow holds targetCols until decoded.
type targetRow struct {
	t                                                    store.Target
	status                                               string
	revokedAt, sessionsValidFrom, confirmedAt, updatedAt *int64
	graphRevokedAt                                       *int64
}

func (w *targetRow) dest() []any {
	return []any{&w.t.RequestID, &w.t.Seq, &w.t.UserID, &w.t.UPN, &w.t.DisplayName, &w.t.Guest, &w.status,
		&w.t.Detail, &w.t.Attempts, &w.revokedAt, &w.sessionsValidFrom, &w.confirmedAt, &w.updatedAt, &w.t.Disabled,
		&w.t.External, &w.graphRevokedAt, &w.t.VerifyPasses}
}

func (w *targetRow) target() store.Target {
	t := w.t
	t.Status = store.TargetStatus(w.status)
	t.RevokedAt, t.SessionsValidFrom = fromNanos(w.revokedAt), fromNanos(w.sessionsValidFrom)
	t.ConfirmedAt, t.UpdatedAt = fromNanos(w.confirmedAt), fromNanos(w.updatedAt)
	t.GraphRevokedAt = fromNanos(w.graphRevokedAt)
	return t
}

// targetCopyCols are the columns insertTargets fills, in targetCopyRow's order.
var targetCopyCols = []string{"request_id", "seq", "user_id", "upn", "display_name", "guest", "status", "detail",
	"attempts", "revoked_at", "sessions_valid_from", "confirmed_at", "updated_at", "disabled", "external",
	"graph_revoked_at", "verify_passes"}

// insertTargets adds a new request's targets with COPY: a scope can hold 100,000 users, and one INSERT (even
// prepared) per user costs a round trip each.
func insertTargets(ctx context.Context, tx pgx.Tx, requestID string, targets []store.Target) error {
	if len(targets) == 0 {
		return nil
	}
	var e encoder
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"targets"}, targetCopyCols, pgx.CopyFromSlice(len(targets), func(i int) ([]any, error) {
		t := targets[i]
		row := []any{requestID, t.Seq, t.UserID, t.UPN, t.DisplayName, t.Guest, string(t.Status), t.Detail, t.Attempts,
			e.nullTime(t.RevokedAt), e.nullTime(t.SessionsValidFrom), e.nullTime(t.ConfirmedAt), e.nullTime(t.UpdatedAt),
			t.Disabled, t.External, e.nullTime(t.GraphRevokedAt), t.VerifyPasses}
		if e.err != nil {
			return nil, fmt.Errorf("target %s: %w", t.UserID, e.err)
		}
		return row, nil
	}))
	if err != nil {
		// A user listed twice is a caller bug, not a duplicate request: it stays a plain error, never ErrDuplicate.
		return fmt.Errorf("postgres: insert targets of request %s: %w", requestID, err)
	}
	return nil
}

// Targets returns a request's targets ordered by Seq (then UserID, should a caller reuse a Seq). An unknown
// request has no targets: the result is empty, not an error.
func (d *DB) Targets(ctx context.Context, requestID string) ([]store.Target, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+targetCols+` FROM targets t WHERE t.request_id = $1
		ORDER BY t.seq, t.user_id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("postgres: targets of %s: %w", requestID, err)
	}
	defer rows.Close()
	var out []store.Target
	for rows.Next() {
		var w targetRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("postgres: targets of %s: %w", requestID, err)
		}
		out = append(out, w.target())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: targets of %s: %w", requestID, err)
	}
	return out, nil
}

// TargetsPage returns up to limit targets with Seq > afterSeq in Seq order, optionally of some statuses only
// (see store.Store). The targets_seq index serves both the filter on request and the order.
func (d *DB) TargetsPage(ctx context.Context, requestID string, afterSeq, limit int, statuses ...store.TargetStatus) ([]store.Target, error) {
	q := `SELECT ` + targetCols + ` FROM targets t WHERE t.request_id = $1 AND t.seq > $2`
	args := []any{requestID, afterSeq}
	if len(statuses) > 0 {
		names := make([]string, len(statuses))
		for i, st := range statuses {
			names[i] = string(st)
		}
		args = append(args, names)
		q += fmt.Sprintf(` AND t.status = ANY($%d)`, len(args))
	}
	q += ` ORDER BY t.seq, t.user_id`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: targets of %s after %d: %w", requestID, afterSeq, err)
	}
	defer rows.Close()
	var out []store.Target
	for rows.Next() {
		var w targetRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("postgres: targets of %s after %d: %w", requestID, afterSeq, err)
		}
		out = append(out, w.target())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: targets of %s after %d: %w", requestID, afterSeq, err)
	}
	return out, nil
}

// TargetsOf reads the given users' targets in one query.
func (d *DB) TargetsOf(ctx context.Context, requestID string, userIDs []string) ([]store.Target, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT `+targetCols+` FROM targets t WHERE t.request_id = $1 AND t.user_id = ANY($2)
		ORDER BY t.seq, t.user_id`, requestID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: targets of %s by user: %w", requestID, err)
	}
	defer rows.Close()
	var out []store.Target
	for rows.Next() {
		var w targetRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("postgres: targets of %s by user: %w", requestID, err)
		}
		out = append(out, w.target())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: targets of %s by user: %w", requestID, err)
	}
	return out, nil
}

// TargetSummary counts a request's targets by status and guest in one grouped scan of its rows.
func (d *DB) TargetSummary(ctx context.Context, requestID string) (store.TargetSummary, error) {
	sum := store.TargetSummary{ByStatus: map[store.TargetStatus]int{}, Guests: map[store.TargetStatus]int{}}
	rows, err := d.pool.Query(ctx, `SELECT status, guest, COUNT(*), COUNT(revoked_at), MAX(revoked_at)
		FROM targets WHERE request_id = $1 GROUP BY status, guest`, requestID)
	if err != nil {
		return sum, fmt.Errorf("postgres: summary of %s: %w", requestID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status        string
			guest         bool
			n, revoked    int
			lastRevokedAt *int64
		)
		if err := rows.Scan(&status, &guest, &n, &revoked, &lastRevokedAt); err != nil {
			return sum, fmt.Errorf("postgres: summary of %s: %w", requestID, err)
		}
		st := store.TargetStatus(status)
		sum.Total += n
		sum.ByStatus[st] += n
		if guest {
			sum.Guests[st] += n
		}
		sum.Revoked += revoked
		if last := fromNanos(lastRevokedAt); last.After(sum.LastRevokedAt) {
			sum.LastRevokedAt = last
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("postgres: summary of %s: %w", requestID, err)
	}
	return sum, nil
}

const addTargetSQL = `INSERT INTO targets (request_id, seq, user_id, upn, display_name, guest, status, detail, attempts,
	revoked_at, sessions_valid_from, confirmed_at, updated_at, disabled, external, graph_revoked_at, verify_passes)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	ON CONFLICT (request_id, user_id) DO NOTHING`

// AddTargets appends a page of a request's scope in one round trip; users it already has are skipped (ON
// CONFLICT DO NOTHING on the primary key), so a page stored twice changes nothing. COPY, which CreateRequest
// uses, cannot skip them.
func (d *DB) AddTargets(ctx context.Context, requestID string, targets []store.Target) (int, error) {
	var (
		e     encoder
		batch pgx.Batch
	)
	for _, t := range targets {
		batch.Queue(addTargetSQL, requestID, t.Seq, t.UserID, t.UPN, t.DisplayName, t.Guest, string(t.Status), t.Detail,
			t.Attempts, e.nullTime(t.RevokedAt), e.nullTime(t.SessionsValidFrom), e.nullTime(t.ConfirmedAt),
			e.nullTime(t.UpdatedAt), t.Disabled, t.External, e.nullTime(t.GraphRevokedAt), t.VerifyPasses)
	}
	if e.err != nil {
		return 0, fmt.Errorf("postgres: add targets to %s: %w", requestID, e.err)
	}
	added := 0
	err := d.inTx(ctx, func(tx pgx.Tx) error {
		added = 0
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM requests WHERE id = $1`, requestID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: add targets to %s: %w", requestID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: add targets to %s: %w", requestID, err)
		}
		if batch.Len() == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, &batch)
		for _, t := range targets {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("postgres: add target %s to request %s: %w", t.UserID, requestID, err)
			}
			added += int(tag.RowsAffected())
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("postgres: add targets to %s: %w", requestID, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

const updateTargetSQL = `UPDATE targets SET upn = $1, display_name = $2, guest = $3, status = $4, detail = $5,
	attempts = $6, revoked_at = $7, sessions_valid_from = $8, confirmed_at = $9, updated_at = $10, disabled = $11,
	external = $12, graph_revoked_at = $13, verify_passes = $14
	WHERE request_id = $15 AND user_id = $16`

// UpdateTargets rewrites each target's state (everything but its keys and Seq, which is its fixed place in the
// scope) and appends events, all in one transaction; a target that does not exist rolls everything back with
// store.ErrNotFound. A zero UpdatedAt becomes now.
func (d *DB) UpdateTargets(ctx context.Context, targets []store.Target, events ...store.Event) error {
	now := d.now()
	// Rows are locked in key order, so two concurrent updates of overlapping targets queue behind each other
	// instead of deadlocking (SQLite serialises writers; PostgreSQL locks row by row).
	sorted := slices.Clone(targets)
	slices.SortStableFunc(sorted, func(a, b store.Target) int {
		return cmp.Or(cmp.Compare(a.RequestID, b.RequestID), cmp.Compare(a.UserID, b.UserID))
	})
	var (
		e     encoder
		batch pgx.Batch
	)
	for _, t := range sorted {
		if t.UpdatedAt.IsZero() {
			t.UpdatedAt = now
		}
		batch.Queue(updateTargetSQL, t.UPN, t.DisplayName, t.Guest, string(t.Status), t.Detail, t.Attempts,
			e.nullTime(t.RevokedAt), e.nullTime(t.SessionsValidFrom), e.nullTime(t.ConfirmedAt), e.time(t.UpdatedAt),
			t.Disabled, t.External, e.nullTime(t.GraphRevokedAt), t.VerifyPasses, t.RequestID, t.UserID)
	}
	if e.err != nil {
		return fmt.Errorf("postgres: update targets: %w", e.err)
	}
	return d.inTx(ctx, func(tx pgx.Tx) error {
		if batch.Len() > 0 {
			// One round trip for the lot; results come back in queue order.
			if err := checkTargetUpdates(tx.SendBatch(ctx, &batch), sorted); err != nil {
				return err
			}
		}
		return d.insertEvents(ctx, tx, "", events...)
	})
}

// checkTargetUpdates reads the batch's results: an update that matched no row is a missing target.
func checkTargetUpdates(br pgx.BatchResults, targets []store.Target) (err error) {
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("postgres: update targets: %w", cerr)
		}
	}()
	for _, t := range targets {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("postgres: update target %s/%s: %w", t.RequestID, t.UserID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: update target %s/%s: %w", t.RequestID, t.UserID, store.ErrNotFound)
		}
	}
	return nil
}

// userTargetsSQL finds a user's target rows, newest request first. Both sides of each comparison are folded
// in the "C" collation, like SQLite's ASCII-only NOCASE, which also makes them match the lower(…) indexes; the
// planner ORs the two index scans.
const userTargetsSQL = `SELECT ` + targetCols + `, ` + requestCols + `
	FROM targets t JOIN requests r ON r.id = t.request_id
	WHERE lower(t.user_id) = lower($1 COLLATE "C") OR lower(t.upn) = lower($1 COLLATE "C")
	ORDER BY r.created_at DESC, r.row_id DESC LIMIT $2`

// LatestTarget finds the newest target row (by its request's CreatedAt) whose UserID or UPN equals user,
// ignoring case, and returns it with its request.
func (d *DB) LatestTarget(ctx context.Context, user string) (store.Target, store.Request, error) {
	var (
		tw targetRow
		rw requestRow
	)
	err := d.pool.QueryRow(ctx, userTargetsSQL, user, 1).Scan(append(tw.dest(), rw.dest()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Target{}, store.Request{}, fmt.Errorf("postgres: latest target %q: %w", user, store.ErrNotFound)
	}
	if err != nil {
		return store.Target{}, store.Request{}, fmt.Errorf("postgres: latest target %q: %w", user, err)
	}
	r, err := rw.request()
	if err != nil {
		return store.Target{}, store.Request{}, fmt.Errorf("postgres: %w", err)
	}
	return tw.target(), r, nil
}

// UserHistory lists user's target rows across requests, newest request first (see userTargetsSQL).
func (d *DB) UserHistory(ctx context.Context, user string, limit int) ([]store.UserTarget, error) {
	rows, err := d.pool.Query(ctx, userTargetsSQL, user, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: history of %q: %w", user, err)
	}
	defer rows.Close()
	var out []store.UserTarget
	for rows.Next() {
		var (
			tw targetRow
			rw requestRow
		)
		if err := rows.Scan(append(tw.dest(), rw.dest()...)...); err != nil {
			return nil, fmt.Errorf("postgres: history of %q: %w", user, err)
		}
		r, err := rw.request()
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		out = append(out, store.UserTarget{Target: tw.target(), Request: r})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: history of %q: %w", user, err)
	}
	return out, nil
}

// ActiveRequestsFor finds which of userIDs are in scope of a pending, approved or running request. The ids
// travel as one array parameter, so there is no chunking; matching is exact, as in SQLite. Active requests
// are few, so the plan starts from them and probes targets' primary key.
func (d *DB) ActiveRequestsFor(ctx context.Context, except string, userIDs []string) (map[string]string, error) {
	out := make(map[string]string)
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT t.user_id, r.id FROM requests r JOIN targets t ON t.request_id = r.id
		WHERE r.id <> $1 AND t.user_id = ANY($2) AND t.status <> 'excluded'
		  AND r.status IN ('pending', 'approved', 'running')
		ORDER BY r.created_at, r.row_id`, except, userIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: active requests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var user, req string
		if err := rows.Scan(&user, &req); err != nil {
			return nil, fmt.Errorf("postgres: active requests: %w", err)
		}
		out[user] = req // ordered oldest first: the newest wins
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: active requests: %w", err)
	}
	return out, nil
}
