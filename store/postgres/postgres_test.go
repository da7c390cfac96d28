package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/storetest"
)

// These tests need a PostgreSQL server. They fail, rather than skip, when none is configured: a contract that
// silently stops being checked is worse than a red build.
const (
	envURL  = "SIGNOUTBOT_TEST_POSTGRES"
	envSkip = "SIGNOUTBOT_SKIP_POSTGRES"
)

// serverURL is the test server's connection string, or the end of the test.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u != "" {
		return u
	}
	if os.Getenv(envSkip) == "1" {
		t.Skipf("%s=1: not testing the PostgreSQL store", envSkip)
	}
	explained := false
	explainOnce.Do(func() { explained = true })
	if !explained { // every test fails; the first says why at length
		t.Fatalf("no PostgreSQL server: %s is not set (see the first failure)", envURL)
	}
	t.Fatalf("store/postgres tests need a PostgreSQL server: set %s=postgres://USER@HOST:PORT/DB?sslmode=disable "+
		"(a role that may CREATE SCHEMA; each test works in its own schema and drops it). `bash .ci/run` installs "+
		"PostgreSQL and starts a throwaway server for the run. Without PostgreSQL, set %s=1 to skip these tests.", envURL, envSkip)
	return ""
}

var explainOnce sync.Once

// freshSchema creates an empty schema with a random name, drops it when the test ends, and returns a
// connection string whose search_path is that schema (with extra key/value settings added).
func freshSchema(t testing.TB, extra ...string) string {
	t.Helper()
	base := serverURL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", envURL, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "signoutbot_test_" + hex.EncodeToString(b)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+ident); err != nil {
		_ = admin.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	// Registered before any store's Close, so it runs after it (cleanups run last-in first-out).
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, `DROP SCHEMA `+ident+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close(ctx)
	})
	settings := append([]string{"search_path", schema}, extra...)
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse %s: %v", envURL, err)
		}
		q := u.Query()
		for i := 0; i+1 < len(settings); i += 2 {
			q.Set(settings[i], settings[i+1])
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for i := 0; i+1 < len(settings); i += 2 { // keyword/value form
		base += fmt.Sprintf(" %s='%s'", settings[i], settings[i+1])
	}
	return base
}

// openAt opens the store at conn and closes it when the test ends.
func openAt(t testing.TB, conn string) *DB {
	t.Helper()
	d, err := Open(context.Background(), conn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// openFresh opens a store in a schema of its own.
func openFresh(t testing.TB, extra ...string) *DB {
	return openAt(t, freshSchema(t, extra...))
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

func TestOpenBadURL(t *testing.T) {
	d, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil {
		_ = d.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := Open(context.Background(), "postgres://%zz"); err == nil {
		t.Error("Open of a malformed URL succeeded")
	}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	conn := freshSchema(t)
	// Replicas starting at once on an empty schema: the advisory lock lets one migrate, the others find it done.
	const n = 4
	errs := make(chan error, n)
	dbs := make(chan *DB, n)
	for range n {
		go func() {
			d, err := Open(context.Background(), conn)
			if err == nil {
				dbs <- d
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	close(dbs)
	for d := range dbs {
		t.Cleanup(func() { _ = d.Close() })
	}
	d := openAt(t, conn) // and once more, later: nothing to do
	var count, max int
	if err := d.pool.QueryRow(context.Background(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&count, &max); err != nil {
		t.Fatal(err)
	}
	if count != len(migrations) || max != len(migrations) {
		t.Errorf("schema_migrations has %d rows, max %d; want %d", count, max, len(migrations))
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	d := openFresh(t)
	steps := append(append([]string{}, migrations...), `CREATE TABLE half_done (a text); THIS IS NOT SQL;`)
	if err := d.migrate(context.Background(), steps); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	var version int
	var table *string
	if err := d.pool.QueryRow(context.Background(), `SELECT MAX(version), to_regclass('half_done')::text FROM schema_migrations`).Scan(&version, &table); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) || table != nil {
		t.Errorf("after failed step: version %d (want %d), half_done %v (want none)", version, len(migrations), table)
	}
}

func TestNewerSchemaRejected(t *testing.T) {
	conn := freshSchema(t)
	d := openAt(t, conn)
	future := len(migrations) + 1
	if _, err := d.pool.Exec(context.Background(), `INSERT INTO schema_migrations (version) VALUES ($1)`, future); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(context.Background(), conn)
	if err == nil {
		_ = d2.Close()
		t.Fatal("Open of a database from a newer binary succeeded")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("version %d is newer", future)) {
		t.Errorf("error %q does not explain the version mismatch", err)
	}
}

func TestEventsTriggerAppendOnly(t *testing.T) {
	d := openFresh(t)
	mustCreate(t, d, "TRG001")
	for _, q := range []string{
		`UPDATE events SET detail = 'rewritten history'`,
		`DELETE FROM events`,
		`DELETE FROM events WHERE seq = 1`,
		`DELETE FROM events WHERE false`, // refused even when it would touch nothing
		`TRUNCATE events`,
	} {
		if _, err := d.pool.Exec(context.Background(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger to refuse it", q, err)
		}
	}
	evs, err := d.Events(context.Background(), "TRG001")
	if err != nil || len(evs) != 1 || evs[0].Detail == "rewritten history" {
		t.Errorf("events after attempts = %+v, %v; want the original one", evs, err)
	}
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	conn := freshSchema(t)
	d, err := Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, d, "RST001")
	if err := d.AddApproval(ctx, "RST001", store.Approval{Actor: store.Actor{Platform: "slack", ID: "U2"}, At: time.Now()},
		store.Event{Type: "approved"}); err != nil {
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
	_ = d.Close()

	d = openAt(t, conn)
	gotReq, err := d.GetRequest(ctx, "RST001")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotReq) != fmt.Sprint(wantReq) || len(gotReq.Approvals) != 1 {
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

// Two handles on one schema stand in for two replicas, each with its own pool.
func twoReplicas(t *testing.T) []*DB {
	conn := freshSchema(t, "pool_max_conns", "8")
	return []*DB{openAt(t, conn), openAt(t, conn)}
}

func TestCASAcrossReplicas(t *testing.T) {
	dbs := twoReplicas(t)
	orig := mustCreate(t, dbs[0], "XPR001")
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r := orig
			r.Status = store.StatusApproved
			_, err := dbs[i%2].UpdateRequest(context.Background(), r, store.Event{Type: "approved"})
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

// The same command delivered to two replicas at once: one request, and both learn which.
func TestDedupKeyAcrossReplicas(t *testing.T) {
	dbs := twoReplicas(t)
	const n = 8
	type result struct {
		r   store.Request
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			r := store.Request{ID: fmt.Sprintf("DDP%03d", i), Status: store.StatusPending, Command: "/signout"}
			got, err := dbs[i%2].CreateRequest(context.Background(), r, nil, "slack:EvSame", store.Event{Type: store.EventRequested})
			results <- result{got, err}
		}()
	}
	var winner string
	var dups []string
	for range n {
		res := <-results
		switch {
		case res.err == nil:
			if winner != "" {
				t.Errorf("two creates won: %s and %s", winner, res.r.ID)
			}
			winner = res.r.ID
		case errors.Is(res.err, store.ErrDuplicate):
			dups = append(dups, res.r.ID)
		default:
			t.Errorf("err = %v, want nil or ErrDuplicate", res.err)
		}
	}
	if winner == "" {
		t.Fatal("no create won")
	}
	for _, id := range dups {
		if id != winner {
			t.Errorf("a duplicate create returned request %q, want the winner %s", id, winner)
		}
	}
	if evs, err := dbs[0].Events(context.Background(), ""); err != nil || len(evs) != 1 {
		t.Errorf("events = %d, %v; want one requested event", len(evs), err)
	}
}

func TestClaimAcrossReplicas(t *testing.T) {
	dbs := twoReplicas(t)
	now := time.Now()
	const n = 16
	wins := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			owner := fmt.Sprintf("bot-%d", i)
			ok, err := dbs[i%2].Claim(context.Background(), "scheduler", owner, now, time.Minute)
			if ok {
				wins <- owner
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Claim: %v", err)
		}
	}
	close(wins)
	var got []string
	for w := range wins {
		got = append(got, w)
	}
	if len(got) != 1 {
		t.Errorf("holders = %v, want exactly one", got)
	}
}

func TestRequestIDCollision(t *testing.T) {
	d := openFresh(t)
	mustCreate(t, d, "SAME01")
	_, err := d.CreateRequest(context.Background(), store.Request{ID: "SAME01", Status: store.StatusPending}, nil, "other-key")
	if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrDuplicate) {
		t.Errorf("reused request ID: err = %v, want ErrConflict (not ErrDuplicate, which means a re-delivered command)", err)
	}
}

// A scope listing one user twice is a caller bug: it must fail without being mistaken for a re-delivery.
func TestDuplicateTargetIsNotErrDuplicate(t *testing.T) {
	d := openFresh(t)
	tg := []store.Target{{UserID: "u1", Status: store.TargetPending}, {Seq: 1, UserID: "u1", Status: store.TargetPending}}
	_, err := d.CreateRequest(context.Background(), store.Request{ID: "TWICE1", Status: store.StatusPending}, tg, "")
	if err == nil || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrConflict) {
		t.Errorf("err = %v, want a plain error", err)
	}
	if _, err := d.GetRequest(context.Background(), "TWICE1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed create left its request behind: %v", err)
	}
}

func TestEventDefaults(t *testing.T) {
	ctx := context.Background()
	d := openFresh(t)
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
	d := openFresh(t)
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

// Nanosecond bigints hold 1677 to 2262; beyond that the store refuses instead of storing another instant.
func TestTimeOutOfRange(t *testing.T) {
	ctx := context.Background()
	d := openFresh(t)
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := d.SetTimer(ctx, store.Timer{Kind: "expire", RequestID: "R1", Due: far}); err == nil {
		t.Error("SetTimer in 2300 succeeded")
	}
	_, err := d.CreateRequest(ctx, store.Request{ID: "FAR001", Status: store.StatusPending, ExpiresAt: far}, nil, "")
	if err == nil || !strings.Contains(err.Error(), "outside the storable range") {
		t.Errorf("CreateRequest expiring in 2300: err = %v, want a range error", err)
	}
	// Times that are only compared are clamped, not refused: the answer is the same.
	if err := d.SetTimer(ctx, store.Timer{Kind: "expire", RequestID: "R2", Due: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if due, err := d.DueTimers(ctx, far); err != nil || len(due) != 1 {
		t.Errorf("DueTimers(2300) = %v, %v; want the 2030 timer", due, err)
	}
	if due, err := d.DueTimers(ctx, time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || len(due) != 0 {
		t.Errorf("DueTimers(1000) = %v, %v; want none", due, err)
	}
	if _, err := d.ListRequests(ctx, store.Filter{FinishedSince: far}); err != nil {
		t.Errorf("ListRequests(FinishedSince 2300): %v", err)
	}
	if err := d.DeleteTimer(ctx, "expire", "R2"); err != nil {
		t.Fatal(err)
	}
	// The edges of the range and a time before 1970 survive exactly.
	for _, tm := range []time.Time{minTime, maxTime, time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		if err := d.SetTimer(ctx, store.Timer{Kind: "edge", RequestID: "R", Due: tm}); err != nil {
			t.Fatalf("SetTimer(%v): %v", tm, err)
		}
		next, _, err := d.NextTimer(ctx)
		if err != nil || !next.Due.Equal(tm) {
			t.Errorf("NextTimer = %v, %v; want %v", next.Due, err, tm)
		}
	}
}

// The lookups that run per chat command must use the lower(…) indexes, not scan every target. Sequential
// scans are disabled for the check, as the planner rightly prefers them on tiny test tables.
func TestUserLookupUsesIndexes(t *testing.T) {
	d := openFresh(t)
	mustCreate(t, d, "IDX001")
	ctx := context.Background()
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN `+userTargetsSQL, "X", 1)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	for _, idx := range []string{"targets_user_id_lower", "targets_upn_lower"} {
		if !strings.Contains(joined, idx) {
			t.Errorf("plan does not use %s:\n%s", idx, joined)
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
	d := openFresh(b)
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

// PostgreSQL text cannot hold NUL bytes (SQLite can): such a write fails as a whole, with an error, and leaves
// nothing half-written behind.
func TestNULByteRefused(t *testing.T) {
	ctx := context.Background()
	d := openFresh(t)
	if err := d.AppendEvent(ctx, store.Event{RequestID: "R1", Type: "note", Detail: "a\x00b"}); err == nil {
		t.Error("AppendEvent with a NUL byte succeeded")
	}
	_, err := d.CreateRequest(ctx, store.Request{ID: "NUL001", Status: store.StatusPending, Reason: "x\x00"}, nil, "")
	if err == nil {
		t.Error("CreateRequest with a NUL byte succeeded")
	}
	if evs, err := d.Events(ctx, ""); err != nil || len(evs) != 0 {
		t.Errorf("events = %v, %v; want none", evs, err)
	}
	// The counter was rolled back with the failed transactions: the next event is Seq 1.
	if err := d.AppendEvent(ctx, store.Event{RequestID: "R1", Type: "note"}); err != nil {
		t.Fatal(err)
	}
	if evs, err := d.Events(ctx, ""); err != nil || len(evs) != 1 || evs[0].Seq != 1 {
		t.Errorf("events = %+v, %v; want one with Seq 1", evs, err)
	}
}
