package bottest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// FileDriver is a Driver whose platform shows files in a request's thread: Slack uploads them, Teams links to
// the bot's own download route. A driver without it (the console) keeps the scope list in messages, and the file
// stories check that instead.
type FileDriver interface {
	Driver
	// Files are the files in the request's thread so far, in order, with their content as a person would get it
	// (downloaded through the link where the platform shows one).
	Files(t testing.TB, requestID string) []File
	// ThreadMessages is how many messages the request's thread holds, files included.
	ThreadMessages(t testing.TB, requestID string) int
}

// File is a file in a thread.
type File struct {
	Name    string
	Content []byte
}

// ReportHeader is the first row every report file must have.
const ReportHeader = "upn,display_name,outcome,revoked_at,confirmed_at,deadline,error"

// ReportRow is one user's row of a report file.
type ReportRow struct {
	UPN, DisplayName, Outcome, RevokedAt, ConfirmedAt, Deadline, Error string
}

// ParseReport reads a report file and checks its form: the header, seven cells a row, times in RFC 3339 UTC
// (or empty), and each UPN once. It returns the rows by lower-case UPN.
func ParseReport(t testing.TB, content []byte) map[string]ReportRow {
	t.Helper()
	if !bytes.HasPrefix(content, []byte(ReportHeader+"\n")) {
		t.Fatalf("report does not start with the header %q: %.200q", ReportHeader, content)
	}
	records, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v", err)
	}
	rows := map[string]ReportRow{}
	for i, rec := range records[1:] {
		if len(rec) != 7 {
			t.Fatalf("row %d has %d cells, want 7: %q", i+1, len(rec), rec)
		}
		r := ReportRow{rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6]}
		for _, ts := range []string{r.RevokedAt, r.ConfirmedAt, r.Deadline} {
			if ts == "" {
				continue
			}
			at, err := time.Parse(time.RFC3339, ts)
			if err != nil || !strings.HasSuffix(ts, "Z") || at.Location() != time.UTC {
				t.Errorf("row %d (%s): time %q is not RFC 3339 UTC", i+1, r.UPN, ts)
			}
		}
		key := strings.ToLower(r.UPN)
		if _, dup := rows[key]; dup {
			t.Errorf("%s is in the report twice", r.UPN)
		}
		rows[key] = r
	}
	return rows
}

// requireEveryone checks that rows hold every target of the request, and nobody else.
func requireEveryone(t testing.TB, rows map[string]ReportRow, targets []store.Target) {
	t.Helper()
	if len(rows) != len(targets) {
		t.Errorf("report has %d users, the request %d", len(rows), len(targets))
	}
	for _, x := range targets {
		if _, ok := rows[strings.ToLower(x.UPN)]; !ok {
			t.Errorf("%s is missing from the report", x.UPN)
		}
	}
}

func targetsOf(t testing.TB, d Driver, id string) []store.Target {
	t.Helper()
	targets, err := d.Store().Targets(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

// waitFiles waits until the request's thread has n files, then a moment more for a duplicate to show.
func waitFiles(t testing.TB, fd FileDriver, id string, n int) []File {
	t.Helper()
	Wait(t, fmt.Sprintf("%d files in the thread of %s", n, id), 60*time.Second, func() bool { return len(fd.Files(t, id)) >= n })
	time.Sleep(300 * time.Millisecond)
	return fd.Files(t, id)
}

// storyScopeFile: above 50 users the thread lists the scope as one file, every user once; up to 50 it lists them
// in a message, as before.
func storyScopeFile(t *testing.T, newDriver NewDriver) {
	for _, n := range []int{50, 51, 2000} {
		t.Run(fmt.Sprintf("%d users", n), func(t *testing.T) {
			d := newDriver(t, Options{Tenant: graphtest.Options{Users: 5, BigGroupSize: n}})
			d.Command(t, Alice, "group "+graphtest.GroupBig)
			r := only(t, d)
			targets := targetsOf(t, d, r.ID)
			if len(targets) != n {
				t.Fatalf("%d targets, want %d", len(targets), n)
			}
			fd, files := d.(FileDriver)
			if n <= 50 || !files {
				// Messages: every user is named in the thread.
				thread := waitText(t, "the thread", func() string { return d.Thread(t, r.ID) }, fmt.Sprintf("of %d", n))
				for _, x := range targets {
					if !strings.Contains(thread, x.UPN) {
						t.Errorf("%s is not in the thread", x.UPN)
					}
				}
				if files {
					if got := fd.Files(t, r.ID); len(got) != 0 {
						t.Errorf("%d files in the thread of a %d-user request, want none", len(got), n)
					}
				}
				return
			}
			got := waitFiles(t, fd, r.ID, 1)
			if len(got) != 1 {
				t.Fatalf("%d files in the thread, want exactly one", len(got))
			}
			if want := "scope-" + r.ID + ".csv"; got[0].Name != want {
				t.Errorf("file %q, want %q", got[0].Name, want)
			}
			rows := ParseReport(t, got[0].Content)
			requireEveryone(t, rows, targets)
			for _, row := range rows {
				if row.Outcome == "" || row.RevokedAt != "" {
					t.Errorf("before approval %s shows outcome %q, revoked at %q", row.UPN, row.Outcome, row.RevokedAt)
					break
				}
			}
			thread := waitText(t, "the thread", func() string { return d.Thread(t, r.ID) },
				fmt.Sprintf("Everyone in scope: %s users", thousands(n)), "scope-"+r.ID+".csv")
			if strings.Contains(thread, "Scope, users") {
				t.Errorf("the thread lists the scope in messages as well as in the file:\n%.500s", thread)
			}
			if m := fd.ThreadMessages(t, r.ID); m != 1 {
				t.Errorf("%d thread messages before approval, want 1 (the file)", m)
			}
		})
	}
}

// storyFinalReport: when a large request ends, its thread gets one more file: every user's outcome, with the
// times of each step.
func storyFinalReport(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Tenant: graphtest.Options{Users: 5, BigGroupSize: 60}})
	fd, ok := d.(FileDriver)
	if !ok {
		t.Skip("this platform's threads take no files: no final report")
	}
	d.Command(t, Alice, "group "+graphtest.GroupBig)
	r := only(t, d)
	d.Approve(t, Bob, r.ID)
	r = waitStatus(t, d, r.ID, store.StatusDone)
	got := waitFiles(t, fd, r.ID, 2)
	if len(got) != 2 {
		t.Fatalf("%d files in the thread, want 2 (scope, final report)", len(got))
	}
	if want := "report-" + r.ID + ".csv"; got[1].Name != want {
		t.Fatalf("second file %q, want %q", got[1].Name, want)
	}
	rows := ParseReport(t, got[1].Content)
	targets := targetsOf(t, d, r.ID)
	requireEveryone(t, rows, targets)
	deadline := r.TokensExpireAt.UTC().Format(time.RFC3339)
	for _, x := range targets {
		row := rows[strings.ToLower(x.UPN)]
		if x.Status != store.TargetTokensExpired {
			continue
		}
		if row.Outcome != "access tokens expired" || row.RevokedAt != x.RevokedAt.UTC().Format(time.RFC3339) ||
			row.ConfirmedAt != x.ConfirmedAt.UTC().Format(time.RFC3339) || row.Deadline != deadline || row.Error != "" {
			t.Errorf("%s: row %+v; want access tokens expired, revoked %s, confirmed %s, deadline %s", x.UPN, row,
				x.RevokedAt.UTC().Format(time.RFC3339), x.ConfirmedAt.UTC().Format(time.RFC3339), deadline)
		}
	}
	waitText(t, "the thread", func() string { return d.Thread(t, r.ID) }, "Every user's outcome: 60 users", "report-"+r.ID+".csv")
}

// storyLargeRunMessages: a 5,000-user run, against Graph scaled up so that it takes seconds, posts a few dozen
// thread messages in all: the scope file, digests, the request's news and the final report.
func storyLargeRunMessages(t *testing.T, newDriver NewDriver) {
	d := newDriver(t, Options{Tenant: graphtest.Options{Users: 5, BigGroupSize: 5000, WriteBudget: -1, ReadBudget: -1}, WriteRate: 2000})
	fd, ok := d.(FileDriver)
	if !ok {
		t.Skip("this platform's threads take no files: the scope list alone is 50 messages")
	}
	d.Command(t, Alice, "group "+graphtest.GroupBig)
	r := only(t, d)
	d.Approve(t, Bob, r.ID)
	d.Approve(t, Carol, r.ID)
	Wait(t, "the 5,000-user run to end", 120*time.Second, func() bool { return status(t, d, r.ID).Status == store.StatusDone })
	files := waitFiles(t, fd, r.ID, 2)
	n := fd.ThreadMessages(t, r.ID)
	t.Logf("5,000-user run: %d thread messages in all (%d of them files):\n%s", n, len(files), d.Thread(t, r.ID))
	if n > 40 {
		t.Errorf("%d thread messages for a 5,000-user run, want at most 40:\n%.3000s", n, d.Thread(t, r.ID))
	}
	if len(files) != 2 {
		t.Errorf("%d files, want 2 (scope, final report)", len(files))
	}
}

// thousands writes n with thousands separators, as the thread does ("2,000").
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
