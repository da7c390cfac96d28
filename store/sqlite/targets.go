package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/signoutbot/signoutbot/store"
)

const targetCols = `t.request_id, t.seq, t.user_id, t.upn, t.display_name, t.guest, t.status, t.detail, t.attempts,
	t.revoked_at, t.sessions_valid_from, t.confirmed_at, t.updated_at, t.disabled, t.external, t.graph_revoked_at,
	t.verify_passes`

// targetRow holds targetCols until decoded.
type targetRow struct {
	t                                                    store.Target
	status                                               string
	revokedAt, sessionsValidFrom, confirmedAt, updatedAt sql.NullString
	graphRevokedAt                                       sql.NullString
}

func (w *targetRow) dest() []any {
	return []any{&w.t.RequestID, &w.t.Seq, &w.t.UserID, &w.t.UPN, &w.t.DisplayName, &w.t.Guest, &w.status,
		&w.t.Detail, &w.t.Attempts, &w.revokedAt, &w.sessionsValidFrom, &w.confirmedAt, &w.updatedAt, &w.t.Disabled,
		&w.t.External, &w.graphRevokedAt, &w.t.VerifyPasses}
}

func (w *targetRow) target() (store.Target, error) {
	t := w.t
	t.Status = store.TargetStatus(w.status)
	if err := parseTimes(timeDest{w.revokedAt, &t.RevokedAt}, timeDest{w.sessionsValidFrom, &t.SessionsValidFrom},
		timeDest{w.confirmedAt, &t.ConfirmedAt}, timeDest{w.updatedAt, &t.UpdatedAt},
		timeDest{w.graphRevokedAt, &t.GraphRevokedAt}); err != nil {
		return store.Target{}, fmt.Errorf("target %s/%s: %w", t.RequestID, t.UserID, err)
	}
	return t, nil
}

// insertTargets adds a new request's targets with one prepared statement: a scope can hold 100,000 users and
// re-parsing the INSERT for each would dominate the transaction.
func insertTargets(ctx context.Context, tx *sql.Tx, requestID string, targets []store.Target) error {
	if len(targets) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO targets (request_id, seq, user_id, upn, display_name, guest,
		status, detail, attempts, revoked_at, sessions_valid_from, confirmed_at, updated_at, disabled, external,
		graph_revoked_at, verify_passes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: prepare target insert: %w", err)
	}
	defer stmt.Close()
	for _, t := range targets {
		_, err := stmt.ExecContext(ctx, requestID, t.Seq, t.UserID, t.UPN, t.DisplayName, t.Guest, string(t.Status),
			t.Detail, t.Attempts, nullTime(t.RevokedAt), nullTime(t.SessionsValidFrom), nullTime(t.ConfirmedAt),
			nullTime(t.UpdatedAt), t.Disabled, t.External, nullTime(t.GraphRevokedAt), t.VerifyPasses)
		if err != nil {
			return fmt.Errorf("sqlite: insert target %s of request %s: %w", t.UserID, requestID, err)
		}
	}
	return nil
}

// Targets returns a request's targets ordered by Seq (then UserID, should a caller reuse a Seq). An unknown
// request has no targets: the result is empty, not an error.
func (d *DB) Targets(ctx context.Context, requestID string) ([]store.Target, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+targetCols+` FROM targets t WHERE t.request_id = ?
		ORDER BY t.seq, t.user_id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: targets of %s: %w", requestID, err)
	}
	defer rows.Close()
	var out []store.Target
	for rows.Next() {
		var w targetRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("sqlite: targets of %s: %w", requestID, err)
		}
		t, err := w.target()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: targets of %s: %w", requestID, err)
	}
	return out, nil
}

// TargetsPage returns up to limit targets with Seq > afterSeq in Seq order, optionally of some statuses only
// (see store.Store). The targets_seq index serves both the filter on request and the order.
func (d *DB) TargetsPage(ctx context.Context, requestID string, afterSeq, limit int, statuses ...store.TargetStatus) ([]store.Target, error) {
	q := `SELECT ` + targetCols + ` FROM targets t WHERE t.request_id = ? AND t.seq > ?`
	args := []any{requestID, afterSeq}
	if len(statuses) > 0 {
		q += ` AND t.status IN (?` + strings.Repeat(",?", len(statuses)-1) + `)`
		for _, st := range statuses {
			args = append(args, string(st))
		}
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	q += ` ORDER BY t.seq, t.user_id LIMIT ?`
	args = append(args, limit)
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: targets of %s after %d: %w", requestID, afterSeq, err)
	}
	defer rows.Close()
	var out []store.Target
	for rows.Next() {
		var w targetRow
		if err := rows.Scan(w.dest()...); err != nil {
			return nil, fmt.Errorf("sqlite: targets of %s after %d: %w", requestID, afterSeq, err)
		}
		t, err := w.target()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: targets of %s after %d: %w", requestID, afterSeq, err)
	}
	return out, nil
}

// TargetsOf reads the given users' targets, activeChunk ids per query (SQLite bounds the parameters of one).
func (d *DB) TargetsOf(ctx context.Context, requestID string, userIDs []string) ([]store.Target, error) {
	var out []store.Target
	for start := 0; start < len(userIDs); start += activeChunk {
		chunk := userIDs[start:min(start+activeChunk, len(userIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, requestID)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := d.db.QueryContext(ctx, `SELECT `+targetCols+` FROM targets t WHERE t.request_id = ?
			AND t.user_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: targets of %s by user: %w", requestID, err)
		}
		for rows.Next() {
			var w targetRow
			if err := rows.Scan(w.dest()...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: targets of %s by user: %w", requestID, err)
			}
			t, err := w.target()
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: %w", err)
			}
			out = append(out, t)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: targets of %s by user: %w", requestID, err)
		}
	}
	slices.SortFunc(out, func(a, b store.Target) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), strings.Compare(a.UserID, b.UserID))
	})
	return out, nil
}

// TargetSummary counts a request's targets by status and guest in one grouped scan of its rows.
func (d *DB) TargetSummary(ctx context.Context, requestID string) (store.TargetSummary, error) {
	sum := store.TargetSummary{ByStatus: map[store.TargetStatus]int{}, Guests: map[store.TargetStatus]int{}}
	rows, err := d.db.QueryContext(ctx, `SELECT status, guest, COUNT(*), COUNT(revoked_at), MAX(revoked_at)
		FROM targets WHERE request_id = ? GROUP BY status, guest`, requestID)
	if err != nil {
		return sum, fmt.Errorf("sqlite: summary of %s: %w", requestID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status        string
			guest         bool
			n, revoked    int
			lastRevokedAt sql.NullString
		)
		if err := rows.Scan(&status, &guest, &n, &revoked, &lastRevokedAt); err != nil {
			return sum, fmt.Errorf("sqlite: summary of %s: %w", requestID, err)
		}
		st := store.TargetStatus(status)
		sum.Total += n
		sum.ByStatus[st] += n
		if guest {
			sum.Guests[st] += n
		}
		sum.Revoked += revoked
		// Times are stored in one fixed-width UTC layout, so MAX of the text is the latest time.
		last, err := parseTime(lastRevokedAt)
		if err != nil {
			return sum, fmt.Errorf("sqlite: summary of %s: %w", requestID, err)
		}
		if last.After(sum.LastRevokedAt) {
			sum.LastRevokedAt = last
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("sqlite: summary of %s: %w", requestID, err)
	}
	return sum, nil
}

// AddTargets appends a page of a request's scope; users it already has are skipped (ON CONFLICT DO NOTHING on
// the primary key), so a page stored twice changes nothing.
func (d *DB) AddTargets(ctx context.Context, requestID string, targets []store.Target) (int, error) {
	added := 0
	err := d.write(ctx, func(tx *sql.Tx) error {
		added = 0
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM requests WHERE id = ?`, requestID).Scan(&one)
		if err == sql.ErrNoRows {
			return fmt.Errorf("sqlite: add targets to %s: %w", requestID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: add targets to %s: %w", requestID, err)
		}
		if len(targets) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO targets (request_id, seq, user_id, upn, display_name, guest,
			status, detail, attempts, revoked_at, sessions_valid_from, confirmed_at, updated_at, disabled, external,
			graph_revoked_at, verify_passes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (request_id, user_id) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare target insert: %w", err)
		}
		defer stmt.Close()
		for _, t := range targets {
			res, err := stmt.ExecContext(ctx, requestID, t.Seq, t.UserID, t.UPN, t.DisplayName, t.Guest, string(t.Status),
				t.Detail, t.Attempts, nullTime(t.RevokedAt), nullTime(t.SessionsValidFrom), nullTime(t.ConfirmedAt),
				nullTime(t.UpdatedAt), t.Disabled, t.External, nullTime(t.GraphRevokedAt), t.VerifyPasses)
			if err != nil {
				return fmt.Errorf("sqlite: add target %s to request %s: %w", t.UserID, requestID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: add target %s to request %s: %w", t.UserID, requestID, err)
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// UpdateTargets rewrites each target's state (everything but its keys and Seq, which is its fixed place in the
// scope) and appends events, all in one transaction; a target that does not exist rolls everything back with
// store.ErrNotFound. A zero UpdatedAt becomes now.
func (d *DB) UpdateTargets(ctx context.Context, targets []store.Target, events ...store.Event) error {
	now := d.now()
	return d.write(ctx, func(tx *sql.Tx) error {
		if len(targets) > 0 {
			stmt, err := tx.PrepareContext(ctx, `UPDATE targets SET upn = ?, display_name = ?, guest = ?, status = ?,
				detail = ?, attempts = ?, revoked_at = ?, sessions_valid_from = ?, confirmed_at = ?, updated_at = ?,
				disabled = ?, external = ?, graph_revoked_at = ?, verify_passes = ?
				WHERE request_id = ? AND user_id = ?`)
			if err != nil {
				return fmt.Errorf("sqlite: prepare target update: %w", err)
			}
			defer stmt.Close()
			for _, t := range targets {
				if t.UpdatedAt.IsZero() {
					t.UpdatedAt = now
				}
				res, err := stmt.ExecContext(ctx, t.UPN, t.DisplayName, t.Guest, string(t.Status), t.Detail, t.Attempts,
					nullTime(t.RevokedAt), nullTime(t.SessionsValidFrom), nullTime(t.ConfirmedAt), fmtTime(t.UpdatedAt),
					t.Disabled, t.External, nullTime(t.GraphRevokedAt), t.VerifyPasses, t.RequestID, t.UserID)
				if err != nil {
					return fmt.Errorf("sqlite: update target %s/%s: %w", t.RequestID, t.UserID, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("sqlite: update target %s/%s: %w", t.RequestID, t.UserID, err)
				}
				if n == 0 {
					return fmt.Errorf("sqlite: update target %s/%s: %w", t.RequestID, t.UserID, store.ErrNotFound)
				}
			}
		}
		return d.insertEvents(ctx, tx, "", events...)
	})
}

// latestTargetSQL finds a user's target rows through two index lookups joined by UNION. A plain
// "user_id = ? OR upn = ?" scans the whole table: SQLite's multi-index OR plan needs rowids, and targets is a
// WITHOUT ROWID table. Both comparisons are NOCASE to match the indexes.
const latestTargetSQL = `WITH m (request_id, user_id) AS (
		SELECT request_id, user_id FROM targets WHERE user_id = ? COLLATE NOCASE
		UNION
		SELECT request_id, user_id FROM targets WHERE upn = ? COLLATE NOCASE)
	SELECT ` + targetCols + `, ` + requestCols + `
	FROM m JOIN targets t ON t.request_id = m.request_id AND t.user_id = m.user_id
	JOIN requests r ON r.id = t.request_id
	ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?`

// LatestTarget finds the newest target row (by its request's CreatedAt) whose UserID or UPN equals user,
// ignoring case, and returns it with its request.
func (d *DB) LatestTarget(ctx context.Context, user string) (store.Target, store.Request, error) {
	var (
		tw targetRow
		rw requestRow
	)
	err := d.db.QueryRowContext(ctx, latestTargetSQL, user, user, 1).Scan(append(tw.dest(), rw.dest()...)...)
	if err == sql.ErrNoRows {
		return store.Target{}, store.Request{}, fmt.Errorf("sqlite: latest target %q: %w", user, store.ErrNotFound)
	}
	if err != nil {
		return store.Target{}, store.Request{}, fmt.Errorf("sqlite: latest target %q: %w", user, err)
	}
	t, err := tw.target()
	if err != nil {
		return store.Target{}, store.Request{}, fmt.Errorf("sqlite: %w", err)
	}
	r, err := rw.request()
	if err != nil {
		return store.Target{}, store.Request{}, fmt.Errorf("sqlite: %w", err)
	}
	return t, r, nil
}

// UserHistory lists user's target rows across requests, newest request first (see latestTargetSQL).
func (d *DB) UserHistory(ctx context.Context, user string, limit int) ([]store.UserTarget, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.db.QueryContext(ctx, latestTargetSQL, user, user, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history of %q: %w", user, err)
	}
	defer rows.Close()
	var out []store.UserTarget
	for rows.Next() {
		var (
			tw targetRow
			rw requestRow
		)
		if err := rows.Scan(append(tw.dest(), rw.dest()...)...); err != nil {
			return nil, fmt.Errorf("sqlite: history of %q: %w", user, err)
		}
		t, err := tw.target()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		r, err := rw.request()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, store.UserTarget{Target: t, Request: r})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: history of %q: %w", user, err)
	}
	return out, nil
}

// activeChunk bounds the ids in one IN (…) list, well under SQLite's limit on bound parameters.
const activeChunk = 500

// ActiveRequestsFor finds which of userIDs are in scope of a pending, approved or running request.
func (d *DB) ActiveRequestsFor(ctx context.Context, except string, userIDs []string) (map[string]string, error) {
	out := make(map[string]string)
	for start := 0; start < len(userIDs); start += activeChunk {
		chunk := userIDs[start:min(start+activeChunk, len(userIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, except)
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT t.user_id, r.id FROM targets t JOIN requests r ON r.id = t.request_id
			WHERE r.id <> ? AND t.user_id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)
			  AND t.status <> 'excluded' AND r.status IN ('pending', 'approved', 'running')
			ORDER BY r.created_at, r.rowid`
		rows, err := d.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: active requests: %w", err)
		}
		for rows.Next() {
			var user, req string
			if err := rows.Scan(&user, &req); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: active requests: %w", err)
			}
			out[user] = req // ordered oldest first: the newest wins
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: active requests: %w", err)
		}
	}
	return out, nil
}
