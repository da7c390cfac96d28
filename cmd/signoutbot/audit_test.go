package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// writeAuditLog writes events to a fresh SQLite store and returns its path and the events as the log numbers
// them (seq from 1).
func writeAuditLog(t *testing.T, events []store.Event) (string, []store.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var want []store.Event
	for i, ev := range events {
		if err := st.AppendEvent(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ev.Seq = int64(i + 1)
		want = append(want, ev)
	}
	return path, want
}

// parseExport reads an export back into events, field by field.
func parseExport(t *testing.T, format string, out []byte) []store.Event {
	t.Helper()
	var recs []auditRecord
	switch format {
	case "json":
		if err := json.Unmarshal(out, &recs); err != nil {
			t.Fatalf("output is not a JSON array: %v\n%s", err, out)
		}
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("output is not CSV: %v\n%s", err, out)
		}
		if len(rows) == 0 || !reflect.DeepEqual(rows[0], auditColumns) {
			t.Fatalf("header row %v, want %v", rows[:min(1, len(rows))], auditColumns)
		}
		for _, r := range rows[1:] {
			seq, err := strconv.ParseInt(r[0], 10, 64)
			if err != nil {
				t.Fatalf("seq %q: %v", r[0], err)
			}
			recs = append(recs, auditRecord{Seq: seq, At: r[1], RequestID: r[2], ActorPlatform: r[3], ActorID: r[4],
				ActorName: r[5], ActorEntra: r[6], Type: r[7], Detail: r[8], Data: r[9]})
		}
	}
	events := []store.Event{}
	for _, r := range recs {
		at, err := time.Parse(time.RFC3339, r.At)
		if err != nil {
			t.Fatalf("at %q is not RFC 3339: %v", r.At, err)
		}
		if !strings.HasSuffix(r.At, "Z") {
			t.Errorf("at %q is not in UTC", r.At)
		}
		events = append(events, store.Event{Seq: r.Seq, At: at, RequestID: r.RequestID, Type: r.Type, Detail: r.Detail, Data: r.Data,
			Actor: store.Actor{Platform: r.ActorPlatform, ID: r.ActorID, Name: r.ActorName, Entra: r.ActorEntra}})
	}
	return events
}

func TestAuditExportRoundTripsEveryField(t *testing.T) {
	now := time.Now().UTC()
	base := now.Add(-72 * time.Hour).Truncate(time.Second).Add(123456789) // nanoseconds must survive too
	alice := store.Actor{Platform: "slack", ID: "U012ABCDE", Name: `Alice "the admin", Helpdesk`, Entra: "5074696a-53e4-437f-a48a-91780bb69d1d"}
	bob := store.Actor{Platform: "console", ID: "UBOB", Name: "Bob", Entra: "0a93a4cd-18c8-4e6a-ab9a-08dc4fab746d"}
	path, all := writeAuditLog(t, []store.Event{
		{At: base, RequestID: "R7K3Q9P", Actor: alice, Type: "requested", Detail: `/signout group Test --reason "<b>x</b> & y"`, Data: `{"users":8,"quoted":"a \"b\""}`},
		{At: base.Add(time.Hour), RequestID: "R7K3Q9P", Actor: bob, Type: "denied", Detail: "denied by Bob: line one\nline two, with a comma", Data: ""},
		{At: base.Add(48 * time.Hour), RequestID: "RSECOND", Actor: alice, Type: "refused", Detail: "Ünïcödé ✅ =HYPERLINK(\"x\")", Data: "{}"},
		{At: base.Add(49 * time.Hour), Type: "refused", Detail: "  spaces kept  ", Data: "\t"},
	})
	tests := []struct {
		name string
		args []string
		want []store.Event
	}{
		{"everything", nil, all},
		{"since an RFC 3339 time", []string{"--since", base.Add(time.Hour).Truncate(time.Second).Format(time.RFC3339)}, all[1:]},
		{"since a time ago", []string{"--since", "30h"}, all[2:]},
		{"since days ago", []string{"--since", "4d"}, all},
		{"since a date", []string{"--since", base.Add(48 * time.Hour).Format(time.DateOnly)}, all[2:]},
		{"one request (any case)", []string{"--request", "r7k3q9p"}, all[:2]},
		{"one request since", []string{"--request", "R7K3Q9P", "--since", base.Add(time.Minute).Format(time.RFC3339)}, all[1:2]},
		{"nothing matches", []string{"--request", "RNONE"}, []store.Event{}},
	}
	for _, format := range []string{"csv", "json"} {
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				var out, errOut bytes.Buffer
				args := append([]string{"audit", "export", "--db", path, "--format", format}, tt.args...)
				if code := run(context.Background(), args, &out, &errOut); code != 0 {
					t.Fatalf("exit %d: %s", code, errOut.String())
				}
				got := parseExport(t, format, out.Bytes())
				if len(got) != len(tt.want) {
					t.Fatalf("%d events, want %d:\n%s", len(got), len(tt.want), out.String())
				}
				for i := range got {
					if g, w := got[i], tt.want[i]; !g.At.Equal(w.At) || !reflect.DeepEqual(withoutAt(g), withoutAt(w)) {
						t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
					}
				}
			})
		}
	}
}

func withoutAt(ev store.Event) store.Event { ev.At = time.Time{}; return ev }

func TestAuditExportRefusesBadArguments(t *testing.T) {
	path, _ := writeAuditLog(t, []store.Event{{Type: "requested", RequestID: "R1"}})
	missing := filepath.Join(t.TempDir(), "typo.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no database named", []string{"audit", "export", "--format", "csv"}, `"db" not set`},
		{"database that does not exist", []string{"audit", "export", "--db", missing}, "typo.db"},
		{"a folder", []string{"audit", "export", "--db", filepath.Dir(missing)}, "folder"},
		{"unknown format", []string{"audit", "export", "--db", path, "--format", "xml"}, "want csv or json"},
		{"bad since", []string{"audit", "export", "--db", path, "--since", "yesterday"}, "--since"},
		{"negative since", []string{"audit", "export", "--db", path, "--since", "-5m"}, "--since"},
		{"unknown audit command", []string{"audit", "exprot"}, "signoutbot audit --help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errOut); code == 0 {
				t.Fatalf("exit 0; output %q", out.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("error %q does not say %q", errOut.String(), tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("exporting a missing database created it")
	}
}
