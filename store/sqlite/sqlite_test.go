package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/storetest"
)

// openAt opens path and closes it when the test ends.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// openTemp opens a fresh database file; WAL needs a real file, so the contract runs on one.
func openTemp(t testing.TB) *DB {
	return openAt(t, filepath.Join(t.TempDir(), "signoutbot.db"))
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// The in-memory form is for other packages' tests; make sure it keeps the contract too.
func TestContractMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, ":memory:") })
}

func TestPragmas(t *testing.T) {
	d := openTemp(t)
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, tc := range tests {
		var got string
		if err := d.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func TestOpenCreatesParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b c", "with?odd#name%.db")
	d := openAt(t, path)
	mustCreate(t, d, "DIR001")
	if _, err := d.GetRequest(context.Background(), "DIR001"); err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db", "signoutbot.db")
	first := openAt(t, path)
	mustCreate(t, first, "MIG001")
	// A second handle on the same file (another process, or a restart before the first closed) migrates nothing.
	second := openAt(t, path)
	for _, d := range []*DB{first, second} {
		var n, max int
		if err := d.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		if n != len(migrations) || max != len(migrations) {
			t.Errorf("schema_migrations has %d rows, max %d; want %d", n, max, len(migrations))
		}
	}
	if _, err := second.GetRequest(context.Background(), "MIG001"); err != nil {
		t.Errorf("second handle GetRequest: %v", err)
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	d := openTemp(t)
	steps := append(append([]string{}, migrations...), `CREATE TABLE half_done (a TEXT); THIS IS NOT SQL;`)
	if err := d.migrate(context.Background(), steps); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	var version, tables int
	if err := d.db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := d.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) || tables != 0 {
		t.Errorf("after failed step: version %d (want %d), half_done tables %d (want 0)", version, len(migrations), tables)
	}
}

func TestNewerSchemaRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signoutbot.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	future := len(migrations) + 1
	if _, err := d.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'later')`, future); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(context.Background(), path)
	if err == nil {
		_ = d.Close()
		t.Fatal("Open of a database from a newer binary succeeded")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("version %d is newer", future)) {
		t.Errorf("error %q does not explain the version mismatch", err)
	}
}

func TestEventsTriggerAppendOnly(t *testing.T) {
	d := openTemp(t)
	mustCreate(t, d, "TRG001")
	tests := []struct {
		name, sql string
	}{
		{"update", `UPDATE events SET detail = 'rewritten history'`},
		{"delete", `DELETE FROM events`},
		{"delete one", `DELETE FROM events WHERE seq = 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.db.Exec(tc.sql)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only trigger to abort it", tc.sql, err)
			}
		})
	}
	evs, err := d.Events(context.Background(), "TRG001")
	if err != nil || len(evs) != 1 || evs[0].Detail == "rewritten history" {
		t.Errorf("events after attempts = %+v, %v; want the original one", evs, err)
	}
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "signoutbot.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, d, "RST001")
	if err := d.AddApproval(ctx, "RST001", store.Approval{Actor: store.Actor{Platform: "slack", ID: "U2"}, At: time.Now()},
		store.Event{RequestID: "RST001", Type: "approved"}); err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(time.Hour)
	if err := d.SetTimer(ctx, store.Timer{Kind: "expire", RequestID: "RST001", Due: due}); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Claim(ctx, "scheduler", "bot-a", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if _, err := d.SeenDelivery(ctx, "slack:Ev1", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantReq, _ := d.GetRequest(ctx, "RST001")
	wantTargets, _ := d.Targets(ctx, "RST001")
	wantEvents, _ := d.Events(ctx, "")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = openAt(t, path)
	gotReq, err := d.GetRequest(ctx, "RST001")
	if err != nil {
		t.Fatal(err)
	}
	if gotReq.Version != created.Version || len(gotReq.Approvals) != 1 || fmt.Sprint(gotReq) != fmt.Sprint(wantReq) {
		t.Errorf("request after restart = %+v, want %+v", gotReq, wantReq)
	}
	gotTargets, _ := d.Targets(ctx, "RST001")
	gotEvents, _ := d.Events(ctx, "")
	if fmt.Sprint(gotTargets) != fmt.Sprint(wantTargets) || len(gotTargets) != 3 {
		t.Errorf("targets after restart = %+v, want %+v", gotTargets, wantTargets)
	}
	if fmt.Sprint(gotEvents) != fmt.Sprint(wantEvents) || len(gotEvents) != 2 {
		t.Errorf("events after restart = %+v, want %+v", gotEvents, wantEvents)
	}
	if next, ok, err := d.NextTimer(ctx); err != nil || !ok || !next.Due.Equal(due) {
		t.Errorf("timer after restart = %+v %v %v", next, ok, err)
	}
	if ok, err := d.Claim(ctx, "scheduler", "bot-b", time.Now(), time.Minute); err != nil || ok {
		t.Errorf("lease lost in restart: bot-b claimed it (%v, %v)", ok, err)
	}
	if first, err := d.SeenDelivery(ctx, "slack:Ev1", time.Now()); err != nil || first {
		t.Errorf("delivery forgotten in restart: first = %v, %v", first, err)
	}
}

// Two handles on one file stand in for two processes: the Go write gate does not span them, so this exercises
// BEGIN IMMEDIATE plus busy_timeout. Every loser must see ErrConflict, never SQLITE_BUSY.
func TestCASAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signoutbot.db")
	handles := []*DB{openAt(t, path), openAt(t, path)}
	orig := mustCreate(t, handles[0], "XPR001")
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r := orig
			r.Status = store.StatusApproved
			_, err := handles[i%2].UpdateRequest(context.Background(), r, store.Event{Type: "approved"})
			errs <- err
		}()
	}
	wins := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("err = %v, want nil or ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d updates won, want 1", wins)
	}
}

func TestRequestIDCollision(t *testing.T) {
	d := openTemp(t)
	mustCreate(t, d, "SAME01")
	_, err := d.CreateRequest(context.Background(), store.Request{ID: "SAME01", Status: store.StatusPending}, nil, "other-key")
	if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrDuplicate) {
		t.Errorf("reused request ID: err = %v, want ErrConflict (not ErrDuplicate, which means a re-delivered command)", err)
	}
}

func TestEventDefaults(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	r := mustCreate(t, d, "DEF001")
	r.Status = store.StatusApproved
	// Events written with a request belong to it unless they say otherwise.
	if _, err := d.UpdateRequest(ctx, r, store.Event{Type: "approved"}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddApproval(ctx, "DEF001", store.Approval{Actor: store.Actor{Platform: "slack", ID: "U9"}}, store.Event{Type: "approved"}); err != nil {
		t.Fatal(err)
	}
	evs, err := d.Events(ctx, "DEF001")
	if err != nil || len(evs) != 3 {
		t.Fatalf("events = %+v, %v; want 3 for DEF001", evs, err)
	}
	got, _ := d.GetRequest(ctx, "DEF001")
	if len(got.Approvals) != 1 || got.Approvals[0].At.IsZero() || !evs[2].At.Equal(got.Approvals[0].At) {
		t.Errorf("approval without At: approvals %+v, event %+v; want both stamped with the same time", got.Approvals, evs[2])
	}
}

func TestDeliveryPrune(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	d.pruneEvery = 1 // prune on every call so the test sees it
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		key  string
		at   time.Time
		want bool
	}{
		{"old", t0, true},
		{"mid", t0.Add(12 * time.Hour), true},
		{"old", t0.Add(23 * time.Hour), false},              // within a day: still remembered
		{"new", t0.Add(24*time.Hour + time.Second), true},   // prunes "old"
		{"old", t0.Add(24*time.Hour + 2*time.Second), true}, // forgotten, so first again
		{"mid", t0.Add(24*time.Hour + 3*time.Second), false},
	}
	for i, st := range steps {
		first, err := d.SeenDelivery(ctx, st.key, st.at)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if first != st.want {
			t.Errorf("%d: SeenDelivery(%s, %v) = %v, want %v", i, st.key, st.at, first, st.want)
		}
	}
}

// LatestTarget runs per chat command against tables that will hold millions of targets: it must use the
// NOCASE indexes, not scan.
func TestLatestTargetUsesIndexes(t *testing.T) {
	d := openTemp(t)
	rows, err := d.db.Query(`EXPLAIN QUERY PLAN `+latestTargetSQL, "x", "x", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	if strings.Contains(joined, "SCAN t") || strings.Contains(joined, "SCAN targets") {
		t.Errorf("query plan scans targets:\n%s", joined)
	}
	for _, idx := range []string{"targets_user_id", "targets_upn"} {
		if !strings.Contains(joined, idx) {
			t.Errorf("query plan does not use %s:\n%s", idx, joined)
		}
	}
}

// mustCreate creates a small request with three targets.
func mustCreate(t testing.TB, d *DB, id string) store.Request {
	t.Helper()
	targets := make([]store.Target, 3)
	for i := range targets {
		targets[i] = store.Target{Seq: i, UserID: fmt.Sprintf("%s-u%d", id, i), UPN: fmt.Sprintf("u%d@example.com", i),
			Status: store.TargetPending}
	}
	r, err := d.CreateRequest(context.Background(), store.Request{ID: id, Status: store.StatusPending,
		Requester: store.Actor{Platform: "slack", ID: "U1", Name: "A"}, Command: "/signout"}, targets, "",
		store.Event{Type: store.EventRequested, Actor: store.Actor{Platform: "slack", ID: "U1", Name: "A"}, Detail: "/signout"})
	if err != nil {
		t.Fatalf("CreateRequest(%s): %v", id, err)
	}
	return r
}

func BenchmarkCreateRequest10k(b *testing.B) {
	d := openTemp(b)
	ctx := context.Background()
	now := time.Now()
	// The same users in every request: the key is (request, user), and building them is not what is measured.
	targets := make([]store.Target, 10_000)
	for j := range targets {
		targets[j] = store.Target{Seq: j, UserID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", j),
			UPN: fmt.Sprintf("user%d@contoso.example", j), DisplayName: fmt.Sprintf("User %d", j),
			Status: store.TargetPending, UpdatedAt: now}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := store.Request{ID: fmt.Sprintf("B%05d", i), Status: store.StatusPending,
			Requester: store.Actor{Platform: "slack", ID: "U1"}, ScopeKind: "group", ScopeText: "Everyone", CreatedAt: now}
		if _, err := d.CreateRequest(ctx, r, targets, ""); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
