package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// someTargets returns n pending targets of requestID with Seq 0..n-1, handed over in reverse so a store that
// returns insertion order instead of Seq order is caught.
func someTargets(requestID string, n int) []store.Target {
	out := make([]store.Target, 0, n)
	for i := n - 1; i >= 0; i-- {
		out = append(out, store.Target{
			RequestID:   requestID,
			Seq:         i,
			UserID:      fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			UPN:         fmt.Sprintf("user%d@Contoso.example", i),
			DisplayName: fmt.Sprintf("User %d", i),
			Status:      store.TargetPending,
		})
	}
	return out
}

func testTargetsOrder(t *testing.T, s store.Store) {
	targets := someTargets("TGT001", 5)
	// One target with every field set, including times in a non-UTC zone.
	targets[2].Guest = true
	targets[2].External = true
	targets[2].Disabled = true
	targets[2].GraphRevokedAt = base().Add(500 * time.Millisecond)
	targets[2].VerifyPasses = 2
	targets[2].Status = store.TargetExcluded
	targets[2].Detail = "protected: Global Administrator"
	targets[2].Attempts = 3
	targets[2].RevokedAt = base().Add(time.Second)
	targets[2].SessionsValidFrom = base().Add(2 * time.Second)
	targets[2].ConfirmedAt = base().Add(3 * time.Second)
	targets[2].UpdatedAt = base().Add(4 * time.Second)
	// RequestID may be left empty: the target belongs to the request being created.
	targets[4].RequestID = ""
	mustCreate(t, s, newRequest("TGT001", base()), targets, "")

	got, err := s.Targets(ctx(t), "TGT001")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	if len(got) != len(targets) {
		t.Fatalf("Targets returned %d, want %d", len(got), len(targets))
	}
	for i, tg := range got {
		if tg.Seq != i {
			t.Errorf("Targets[%d].Seq = %d: not ordered by Seq", i, tg.Seq)
		}
		allUTC(t, "target", tg.RevokedAt, tg.SessionsValidFrom, tg.ConfirmedAt, tg.UpdatedAt)
	}
	want := targets[2]
	want.RevokedAt, want.SessionsValidFrom = want.RevokedAt.UTC(), want.SessionsValidFrom.UTC()
	want.ConfirmedAt, want.UpdatedAt = want.ConfirmedAt.UTC(), want.UpdatedAt.UTC()
	want.GraphRevokedAt = want.GraphRevokedAt.UTC()
	equal(t, "fully populated target", got[want.Seq], want)
	if got[0].RequestID != "TGT001" {
		t.Errorf("target created without RequestID read back with %q", got[0].RequestID)
	}

	if other, err := s.Targets(ctx(t), "NOPE00"); err != nil || len(other) != 0 {
		t.Errorf("Targets(unknown) = %v, %v; want none", other, err)
	}
}

func testUpdateTargets(t *testing.T, s store.Store) {
	mustCreate(t, s, newRequest("TGT002", base()), someTargets("TGT002", 3), "")
	before, err := s.Targets(ctx(t), "TGT002")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}

	revoked := before[0]
	revoked.Status = store.TargetRevoked
	revoked.Attempts = 1
	revoked.RevokedAt = base().Add(time.Minute)
	revoked.GraphRevokedAt = base().Add(59 * time.Second)
	revoked.VerifyPasses = 3
	revoked.Disabled = true
	// UpdatedAt left zero: the store sets it.
	failed := before[2]
	failed.Status = store.TargetFailed
	failed.Detail = "Request_ResourceNotFound: user gone"
	failed.Attempts = 4
	failed.UpdatedAt = base().Add(2 * time.Minute)

	evs := []store.Event{
		{RequestID: "TGT002", Type: "revoked", Detail: revoked.UPN},
		{RequestID: "TGT002", Type: "failed", Detail: failed.UPN, Data: `{"code":"Request_ResourceNotFound"}`},
	}
	if err := s.UpdateTargets(ctx(t), []store.Target{revoked, failed}, evs...); err != nil {
		t.Fatalf("UpdateTargets: %v", err)
	}
	after, err := s.Targets(ctx(t), "TGT002")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	if after[0].UpdatedAt.IsZero() {
		t.Errorf("UpdatedAt not set when zero: %+v", after[0])
	}
	allUTC(t, "updated target", after[0].UpdatedAt, after[0].RevokedAt)
	revoked.RevokedAt, revoked.UpdatedAt = revoked.RevokedAt.UTC(), after[0].UpdatedAt
	revoked.GraphRevokedAt = revoked.GraphRevokedAt.UTC()
	failed.UpdatedAt = failed.UpdatedAt.UTC()
	equal(t, "revoked target", after[0], revoked)
	equal(t, "untouched target", after[1], before[1])
	equal(t, "failed target", after[2], failed)

	got := mustEvents(t, s, "TGT002")
	equal(t, "events", eventTypes(got), []string{"requested:TGT002", "revoked:TGT002", "failed:TGT002"})
	if last := got[len(got)-1]; last.Data != evs[1].Data || last.Detail != evs[1].Detail {
		t.Errorf("event round trip = %+v, want %+v", last, evs[1])
	}
}

func testUpdateTargetsMissing(t *testing.T, s store.Store) {
	mustCreate(t, s, newRequest("TGT003", base()), someTargets("TGT003", 2), "")
	before, err := s.Targets(ctx(t), "TGT003")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	good := before[0]
	good.Status = store.TargetRevoked
	tests := []struct {
		name    string
		missing store.Target
	}{
		{"unknown user", store.Target{RequestID: "TGT003", UserID: "not-in-scope", Status: store.TargetRevoked}},
		{"unknown request", store.Target{RequestID: "NOPE00", UserID: before[1].UserID, Status: store.TargetRevoked}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.UpdateTargets(ctx(t), []store.Target{good, tc.missing}, store.Event{RequestID: "TGT003", Type: "revoked"})
			if err == nil {
				t.Fatal("UpdateTargets with a missing target succeeded")
			}
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
			// One transaction: the good target and the event must not have been written either.
			after, err := s.Targets(ctx(t), "TGT003")
			if err != nil {
				t.Fatalf("Targets: %v", err)
			}
			equal(t, "targets after failed update", after, before)
			equal(t, "events after failed update", eventTypes(mustEvents(t, s, "TGT003")), []string{"requested:TGT003"})
		})
	}
}

func testLatestTarget(t *testing.T, s store.Store) {
	const id, upn = "aaaaaaaa-1111-4222-8333-444444444444", "Dana.Doe@Contoso.example"
	// The newer request is created first, so "latest" must come from CreatedAt, not insertion order.
	for _, c := range []struct {
		req     string
		created time.Time
		status  store.TargetStatus
	}{
		{"NEW001", base().Add(time.Hour), store.TargetRevoked},
		{"OLD001", base(), store.TargetTokensExpired},
	} {
		targets := []store.Target{
			{RequestID: c.req, Seq: 0, UserID: "bbbbbbbb-0000-4000-8000-000000000000", UPN: "someone@contoso.example", Status: store.TargetPending},
			{RequestID: c.req, Seq: 1, UserID: id, UPN: upn, DisplayName: "Dana Doe", Status: c.status},
		}
		mustCreate(t, s, newRequest(c.req, c.created), targets, "")
	}
	tests := []struct {
		name, user string
	}{
		{"by id", id},
		{"by id other case", "AAAAAAAA-1111-4222-8333-444444444444"},
		{"by upn", upn},
		{"by upn lower case", "dana.doe@contoso.example"},
		{"by upn upper case", "DANA.DOE@CONTOSO.EXAMPLE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, r, err := s.LatestTarget(ctx(t), tc.user)
			if err != nil {
				t.Fatalf("LatestTarget(%q): %v", tc.user, err)
			}
			if tg.RequestID != "NEW001" || tg.UserID != id || tg.Status != store.TargetRevoked {
				t.Errorf("target = %+v, want Dana's row in NEW001", tg)
			}
			equal(t, "request", r, mustGet(t, s, "NEW001"))
		})
	}
	if _, _, err := s.LatestTarget(ctx(t), "nobody@contoso.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestTarget(unknown) err = %v, want ErrNotFound", err)
	}
}

func testUserHistory(t *testing.T, s store.Store) {
	const id = "cccccccc-1111-4222-8333-444444444444"
	for i, c := range []struct {
		req     string
		created time.Time
		status  store.TargetStatus
	}{
		{"HIS002", base().Add(time.Hour), store.TargetRevoked},
		{"HIS001", base(), store.TargetTokensExpired},
		{"HIS003", base().Add(2 * time.Hour), store.TargetPending},
	} {
		targets := []store.Target{{RequestID: c.req, Seq: 0, UserID: id, UPN: "erin@contoso.example", Status: c.status}}
		if i == 0 {
			targets = append(targets, store.Target{RequestID: c.req, Seq: 1, UserID: "other", UPN: "o@contoso.example", Status: store.TargetPending})
		}
		mustCreate(t, s, newRequest(c.req, c.created), targets, "")
	}
	got, err := s.UserHistory(ctx(t), "ERIN@contoso.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, h := range got {
		order = append(order, h.Request.ID+":"+string(h.Target.Status))
		if h.Target.RequestID != h.Request.ID {
			t.Errorf("target of %s paired with request %s", h.Target.RequestID, h.Request.ID)
		}
	}
	equal(t, "history, newest first", order, []string{"HIS003:pending", "HIS002:revoked", "HIS001:tokens_expired"})
	if two, err := s.UserHistory(ctx(t), id, 2); err != nil || len(two) != 2 {
		t.Errorf("UserHistory(limit 2) = %d rows, %v", len(two), err)
	}
	if none, err := s.UserHistory(ctx(t), "nobody", 0); err != nil || len(none) != 0 {
		t.Errorf("UserHistory(unknown) = %v, %v", none, err)
	}
}

func testActiveRequestsFor(t *testing.T, s store.Store) {
	mk := func(id string, status store.RequestStatus, created time.Time, targets ...store.Target) {
		r := newRequest(id, created)
		r.Status = status
		mustCreate(t, s, r, targets, "")
	}
	tg := func(user string, st store.TargetStatus) store.Target {
		return store.Target{UserID: user, UPN: user + "@contoso.example", Status: st}
	}
	mk("ACT001", store.StatusPending, base(), tg("u1", store.TargetPending), tg("u2", store.TargetExcluded))
	mk("ACT002", store.StatusRunning, base().Add(time.Minute), tg("u1", store.TargetRevoked), tg("u3", store.TargetPending))
	mk("ACT003", store.StatusDone, base().Add(2*time.Minute), tg("u4", store.TargetTokensExpired))
	ids := []string{"u1", "u2", "u3", "u4", "u5"}
	for i := range 1200 { // more than one query's worth of ids
		ids = append(ids, fmt.Sprintf("x%d", i))
	}
	got, err := s.ActiveRequestsFor(ctx(t), "", ids)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "active requests", got, map[string]string{"u1": "ACT002", "u3": "ACT002"})
	// The request being looked at is left out: its own users are not "elsewhere".
	got, err = s.ActiveRequestsFor(ctx(t), "ACT002", ids)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "active requests except ACT002", got, map[string]string{"u1": "ACT001"})
}

func testTargetsPage(t *testing.T, s store.Store) {
	targets := someTargets("PAGE01", 7)
	for i := range targets {
		if targets[i].Seq%3 == 0 {
			targets[i].Status = store.TargetRevoked
		}
	}
	mustCreate(t, s, newRequest("PAGE01", base()), targets, "")
	mustCreate(t, s, newRequest("PAGE02", base()), someTargets("PAGE02", 2), "")
	seqs := func(page []store.Target) []int {
		out := []int{}
		for _, tg := range page {
			if tg.RequestID != "PAGE01" {
				t.Errorf("page holds a target of %s", tg.RequestID)
			}
			out = append(out, tg.Seq)
		}
		return out
	}
	tests := []struct {
		name            string
		afterSeq, limit int
		statuses        []store.TargetStatus
		want            []int
	}{
		{"first page", -1, 3, nil, []int{0, 1, 2}},
		{"next page", 2, 3, nil, []int{3, 4, 5}},
		{"last short page", 5, 3, nil, []int{6}},
		{"past the end", 6, 3, nil, []int{}},
		{"no limit", 3, 0, nil, []int{4, 5, 6}},
		{"one status", -1, 10, []store.TargetStatus{store.TargetRevoked}, []int{0, 3, 6}},
		{"one status paged", 0, 1, []store.TargetStatus{store.TargetRevoked}, []int{3}},
		{"two statuses", 4, 10, []store.TargetStatus{store.TargetPending, store.TargetRevoked}, []int{5, 6}},
		{"no such status", -1, 10, []store.TargetStatus{store.TargetFailed}, []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.TargetsPage(ctx(t), "PAGE01", tc.afterSeq, tc.limit, tc.statuses...)
			if err != nil {
				t.Fatalf("TargetsPage: %v", err)
			}
			equal(t, "seqs", seqs(page), tc.want)
		})
	}
	// Pages put together are Targets, field for field.
	all, err := s.Targets(ctx(t), "PAGE01")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	var paged []store.Target
	for after := -1; ; {
		page, err := s.TargetsPage(ctx(t), "PAGE01", after, 2)
		if err != nil {
			t.Fatalf("TargetsPage: %v", err)
		}
		paged = append(paged, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Seq
	}
	equal(t, "paged targets", paged, all)
	if page, err := s.TargetsPage(ctx(t), "NOSUCH", -1, 10); err != nil || len(page) != 0 {
		t.Errorf("TargetsPage of an unknown request = %v, %v; want empty", page, err)
	}
}

func testTargetSummary(t *testing.T, s store.Store) {
	targets := someTargets("SUM001", 6)
	set := func(seq int, st store.TargetStatus, guest bool, revokedAt time.Time) {
		for i := range targets {
			if targets[i].Seq == seq {
				targets[i].Status, targets[i].Guest, targets[i].RevokedAt = st, guest, revokedAt
			}
		}
	}
	last := base().Add(90 * time.Second).In(time.FixedZone("CET", 3600))
	set(0, store.TargetExcluded, true, time.Time{})
	set(1, store.TargetRevoked, false, base().Add(time.Minute))
	set(2, store.TargetSessionsInvalid, false, last)
	set(3, store.TargetGuest, true, base().Add(30*time.Second))
	set(4, store.TargetFailed, false, time.Time{})
	mustCreate(t, s, newRequest("SUM001", base()), targets, "")
	mustCreate(t, s, newRequest("SUM002", base()), someTargets("SUM002", 3), "")

	got, err := s.TargetSummary(ctx(t), "SUM001")
	if err != nil {
		t.Fatalf("TargetSummary: %v", err)
	}
	want := store.TargetSummary{
		Total: 6,
		ByStatus: map[store.TargetStatus]int{store.TargetExcluded: 1, store.TargetRevoked: 1, store.TargetSessionsInvalid: 1,
			store.TargetGuest: 1, store.TargetFailed: 1, store.TargetPending: 1},
		Guests:        map[store.TargetStatus]int{store.TargetExcluded: 1, store.TargetGuest: 1},
		Revoked:       3,
		LastRevokedAt: last.UTC(),
	}
	allUTC(t, "last revocation", got.LastRevokedAt)
	equal(t, "summary", got, want)

	empty, err := s.TargetSummary(ctx(t), "NOSUCH")
	if err != nil {
		t.Fatalf("TargetSummary of an unknown request: %v", err)
	}
	if empty.Total != 0 || len(empty.ByStatus) != 0 || !empty.LastRevokedAt.IsZero() {
		t.Errorf("TargetSummary of an unknown request = %+v, want empty", empty)
	}
}

func testAddTargets(t *testing.T, s store.Store) {
	mustCreate(t, s, newRequest("ADD001", base()), nil, "")
	pages := [][]store.Target{someTargets("ADD001", 3), someTargets("ADD001", 5)}
	// The second page repeats the first three users (transitive membership) under other Seqs: they are skipped.
	for i := range pages[1] {
		pages[1][i].Seq += 3
		pages[1][i].DisplayName = "renamed"
	}
	wantAdded := []int{3, 2}
	for i, page := range pages {
		n, err := s.AddTargets(ctx(t), "ADD001", page)
		if err != nil {
			t.Fatalf("AddTargets page %d: %v", i, err)
		}
		if n != wantAdded[i] {
			t.Errorf("AddTargets page %d added %d, want %d", i, n, wantAdded[i])
		}
	}
	// The same page again (a retried write) adds nobody.
	if n, err := s.AddTargets(ctx(t), "ADD001", pages[0]); err != nil || n != 0 {
		t.Errorf("AddTargets again = %d, %v; want 0, nil", n, err)
	}
	got, err := s.Targets(ctx(t), "ADD001")
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	if len(got) != 5 {
		t.Fatalf("Targets = %d, want 5", len(got))
	}
	for i, tg := range got[:3] {
		if tg.DisplayName == "renamed" || tg.Seq != i {
			t.Errorf("target %d = %+v: the first page's row must stay", i, tg)
		}
	}
	for _, tg := range got[3:] {
		if tg.Seq < 6 || tg.DisplayName != "renamed" {
			t.Errorf("target %+v: want the second page's new users", tg)
		}
	}
	if n, err := s.AddTargets(ctx(t), "ADD001", nil); err != nil || n != 0 {
		t.Errorf("AddTargets of nothing = %d, %v", n, err)
	}
	if _, err := s.AddTargets(ctx(t), "NOSUCH", someTargets("NOSUCH", 1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddTargets to an unknown request: %v, want ErrNotFound", err)
	}
}

func testTargetsOf(t *testing.T, s store.Store) {
	targets := someTargets("OF0001", 1200) // more ids than one SQLite query may bind
	mustCreate(t, s, newRequest("OF0001", base()), targets, "")
	mustCreate(t, s, newRequest("OF0002", base()), someTargets("OF0002", 3), "")
	id := func(i int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", i) }
	tests := []struct {
		name string
		ids  []string
		want []int
	}{
		{"none", nil, []int{}},
		{"out of order", []string{id(7), id(2), id(1100)}, []int{2, 7, 1100}},
		{"unknown and repeated ids", []string{"nobody", id(3), id(3)}, []int{3}},
		{"many", func() []string {
			var ids []string
			for i := 1199; i >= 0; i -= 2 {
				ids = append(ids, id(i))
			}
			return ids
		}(), func() []int {
			var seqs []int
			for i := 1; i < 1200; i += 2 {
				seqs = append(seqs, i)
			}
			return seqs
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.TargetsOf(ctx(t), "OF0001", tc.ids)
			if err != nil {
				t.Fatalf("TargetsOf: %v", err)
			}
			seqs := []int{}
			for _, tg := range got {
				if tg.RequestID != "OF0001" {
					t.Errorf("target of %s", tg.RequestID)
				}
				seqs = append(seqs, tg.Seq)
			}
			equal(t, "seqs", seqs, tc.want)
		})
	}
	// The other request's users are not this one's, even with the same ids.
	if got, err := s.TargetsOf(ctx(t), "OF0002", []string{id(5), id(1)}); err != nil || len(got) != 1 || got[0].Seq != 1 {
		t.Errorf("TargetsOf another request = %+v, %v; want its user 1 only", got, err)
	}
}
