package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

func newAuditCmd() *cobra.Command {
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log: every request, approval, denial, revocation and confirmation, in order",
		// Runnable, so that a mistyped subcommand is an error rather than the help and a success.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	audit.AddCommand(newAuditExportCmd())
	return audit
}

func newAuditExportCmd() *cobra.Command {
	var db, format, since, request string
	cmd := &cobra.Command{
		Use:   "export --db FILE --format csv|json [--since RFC3339-or-duration] [--request ID]",
		Short: "Write the audit log to stdout as CSV (with a header row) or JSON (an array)",
		Long: `export writes every audit event of a signoutbot database to stdout, oldest first. Each event has the
fields seq, at (RFC 3339, UTC), request_id, actor_platform, actor_id, actor_name, actor_entra (the Entra object
id the chat account was bound to), type, detail and data (JSON, per type), under the same names in both
formats. Text is written exactly as stored: reasons and names are what people typed.`,
		Example: `  signoutbot audit export --db signoutbot.db --format csv > audit.csv
  signoutbot audit export --db ./signoutbot-demo-data/signoutbot-20261202-120000Z.db --format json --since 24h
  signoutbot audit export --db signoutbot.db --format json --request R7K3Q9P`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, ok := auditWriters[format]
			if !ok {
				return fmt.Errorf("--format %q: want csv or json", format)
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			events, err := readAudit(cmd.Context(), db, strings.ToUpper(strings.TrimSpace(request)), from)
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), events)
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "the SQLite database (SIGNOUTBOT_DB of serve, or a demo run's file in --data)")
	f.StringVar(&format, "format", "csv", "csv or json")
	f.StringVar(&since, "since", "", `only events at or after this moment: RFC 3339 ("2026-12-01T09:00:00Z"), a date ("2026-12-01", UTC), or a time ago ("90m", "24h", "7d")`)
	f.StringVar(&request, "request", "", "only this request's events (its id, e.g. R7K3Q9P)")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}

// parseSince reads --since: a moment, a date, or how long ago (Go durations, and days as "7d").
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf(`--since %q: want an RFC 3339 time ("2026-12-01T09:00:00Z"), a date ("2026-12-01") or a time ago ("90m", "24h", "7d")`, s)
	}
	return now.Add(-d), nil
}

// readAudit reads the audit log of the database at path, oldest first. The file must exist: opening a
// mistyped path would create an empty database and export nothing, silently.
func readAudit(ctx context.Context, path, requestID string, since time.Time) ([]store.Event, error) {
	if path == "" {
		return nil, errors.New("--db: name the database to read")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("--db %s is a folder; name a database file in it", path)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", path, err)
	}
	defer st.Close()
	events, err := st.Events(ctx, requestID)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log of %s: %w", path, err)
	}
	kept := events[:0]
	for _, ev := range events {
		if !ev.At.Before(since) {
			kept = append(kept, ev)
		}
	}
	return kept, nil
}

// auditColumns are the exported fields' names: CSV's header row and JSON's keys.
var auditColumns = []string{"seq", "at", "request_id", "actor_platform", "actor_id", "actor_name", "actor_entra", "type", "detail", "data"}

// auditRecord is one exported event. At keeps every digit the store has (RFC 3339 with nanoseconds, UTC), so an
// export orders and compares exactly as the log does.
type auditRecord struct {
	Seq           int64  `json:"seq"`
	At            string `json:"at"`
	RequestID     string `json:"request_id"`
	ActorPlatform string `json:"actor_platform"`
	ActorID       string `json:"actor_id"`
	ActorName     string `json:"actor_name"`
	ActorEntra    string `json:"actor_entra"`
	Type          string `json:"type"`
	Detail        string `json:"detail"`
	Data          string `json:"data"`
}

func recordOf(ev store.Event) auditRecord {
	at := ""
	if !ev.At.IsZero() {
		at = ev.At.UTC().Format(time.RFC3339Nano)
	}
	return auditRecord{Seq: ev.Seq, At: at, RequestID: ev.RequestID, ActorPlatform: ev.Actor.Platform, ActorID: ev.Actor.ID,
		ActorName: ev.Actor.Name, ActorEntra: ev.Actor.Entra, Type: ev.Type, Detail: ev.Detail, Data: ev.Data}
}

func (r auditRecord) fields() []string {
	return []string{strconv.FormatInt(r.Seq, 10), r.At, r.RequestID, r.ActorPlatform, r.ActorID, r.ActorName, r.ActorEntra,
		r.Type, r.Detail, r.Data}
}

var auditWriters = map[string]func(io.Writer, []store.Event) error{
	"csv": func(w io.Writer, events []store.Event) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(auditColumns); err != nil {
			return fmt.Errorf("writing CSV: %w", err)
		}
		for _, ev := range events {
			if err := cw.Write(recordOf(ev).fields()); err != nil {
				return fmt.Errorf("writing CSV: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("writing CSV: %w", err)
		}
		return nil
	},
	// JSON is one array with an event per line, written as it goes: a long log never sits in memory twice.
	"json": func(w io.Writer, events []store.Event) error {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // reasons like "<b>x</b> & y" stay readable; the output is not HTML
		if _, err := io.WriteString(w, "["); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
		for i, ev := range events {
			buf.Reset()
			if i > 0 {
				buf.WriteString(",")
			}
			buf.WriteString("\n")
			if err := enc.Encode(recordOf(ev)); err != nil {
				return fmt.Errorf("writing JSON: %w", err)
			}
			buf.Truncate(buf.Len() - 1) // Encode's newline: the comma goes first
			if _, err := w.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("writing JSON: %w", err)
			}
		}
		if len(events) > 0 {
			_, _ = io.WriteString(w, "\n")
		}
		if _, err := io.WriteString(w, "]\n"); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
		return nil
	},
}
