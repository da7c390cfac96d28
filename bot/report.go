package bot

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// ReportKind names the files a large request's thread gets (above countsAbove users, where per-user messages
// would run to hundreds): the scope when the request is made, and everyone's outcome when it ends. Both are the
// same CSV, read from the store when it is written, so a download later shows the outcome as it stands then.
type ReportKind string

const (
	ReportScope ReportKind = "scope"  // everyone in scope, posted with the request
	ReportFinal ReportKind = "report" // everyone's outcome, posted when the request ends (done or failed)
)

// valid reports whether k is a kind the bot makes (a download link names one).
func (k ReportKind) valid() bool { return k == ReportScope || k == ReportFinal }

// ReportName is the file name of a request's report of kind k, e.g. "scope-R7K3Q9P.csv".
func ReportName(k ReportKind, requestID string) string { return string(k) + "-" + requestID + ".csv" }

// reportHeader is the CSV's first row. A function, not a variable, so nothing can change it.
func reportHeader() []string {
	return []string{"upn", "display_name", "outcome", "revoked_at", "confirmed_at", "deadline", "error"}
}

// writeReport writes the CSV of a request's users, one row each in scope order, as it reads them: a
// 100,000-user scope is never held as text.
func writeReport(ctx context.Context, w io.Writer, st store.Store, req store.Request) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportHeader()); err != nil {
		return fmt.Errorf("report %s: %w", req.ID, err)
	}
	err := forEachTarget(ctx, st, req.ID, func(t store.Target) error {
		return cw.Write(reportRow(req, t))
	})
	if err != nil {
		return fmt.Errorf("report %s: %w", req.ID, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report %s: %w", req.ID, err)
	}
	return nil
}

// reportRow is one user's row. Times are RFC 3339 in UTC (a file has no viewer whose zone it could use);
// the deadline is the request's, for the users it applies to (revoked here, guests aside).
func reportRow(req store.Request, t store.Target) []string {
	var deadline time.Time
	if !t.RevokedAt.IsZero() && t.Status != store.TargetGuest && !t.Guest {
		deadline = req.TokensExpireAt
	}
	var why string
	switch t.Status {
	case store.TargetFailed, store.TargetExcluded, store.TargetUnconfirmed:
		why = t.Detail
	}
	row := []string{t.UPN, t.DisplayName, outcomeWord(t), csvTime(t.RevokedAt), csvTime(t.ConfirmedAt), csvTime(deadline), why}
	for i, cell := range row {
		row[i] = csvCell(cell)
	}
	return row
}

// outcomeWord is a user's status in the words the card, the thread and the README use.
func outcomeWord(t store.Target) string {
	switch t.Status {
	case store.TargetSessionsInvalid:
		return "sessions invalid"
	case store.TargetTokensExpired:
		return "access tokens expired"
	case store.TargetUnconfirmed:
		return "could not confirm"
	}
	return string(t.Status) // pending, revoked, failed, guest, excluded
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvCell keeps a cell from being read as a formula: admins open the file in Excel, and a display name (which
// anyone may set on their own account) or a Graph message starting with = + - @ (or a tab or carriage return,
// which Excel skips) would run as one. A leading apostrophe makes Excel show the text as typed.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
