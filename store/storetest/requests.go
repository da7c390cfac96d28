package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

func testCreateGetRoundTrip(t *testing.T, s store.Store) {
	r := newRequest("R7K3Q9", base())
	// Set the fields a fresh request would not have, so every column is exercised.
	r.DecidedAt = base().Add(2 * time.Minute)
	r.DecidedBy = carol()
	r.StartedAt = base().Add(6 * time.Minute)
	r.FinishedAt = base().Add(7*time.Minute + time.Nanosecond)
	targets := []store.Target{{UserID: "u1", UPN: "one@example.com", Status: store.TargetPending, Seq: 0}}

	created := mustCreate(t, s, r, targets, "")
	want := stored(r)
	equal(t, "CreateRequest result", created, want)

	got := mustGet(t, s, r.ID)
	equal(t, "GetRequest", got, want)
	allUTC(t, "GetRequest", got.CreatedAt, got.NotBefore, got.ExpiresAt, got.DecidedAt, got.StartedAt,
		got.FinishedAt, got.TokensExpireAt)

	// The caller's "requested" event is written with the request, as given, with r's id and a Seq.
	evs := mustEvents(t, s, r.ID)
	if len(evs) != 1 {
		t.Fatalf("events after create = %+v, want one", evs)
	}
	ev, wantEv := evs[0], requested(r)
	if ev.Type != "requested" || ev.RequestID != r.ID || ev.Actor != r.Requester || ev.Detail != r.Command || ev.Data != wantEv.Data {
		t.Errorf("requested event = %+v, want %+v", ev, wantEv)
	}
	if ev.At.IsZero() || ev.Seq == 0 {
		t.Errorf("requested event has no At or Seq: %+v", ev)
	}
	allUTC(t, "requested event", ev.At)

	if _, err := s.GetRequest(ctx(t), "NOPE00"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRequest(missing) err = %v, want ErrNotFound", err)
	}
}

func testCreateDefaults(t *testing.T, s store.Store) {
	// A minimal request: zero times stay zero, empty refs stay empty, and the store still fills what it owns.
	r := store.Request{ID: "MIN001", Status: store.StatusPending, Requester: bob(), CreatedAt: base()}
	got := mustCreate(t, s, r, nil, "")
	equal(t, "minimal request", got, stored(r))
	equal(t, "minimal request read back", mustGet(t, s, r.ID), stored(r))
	tg, err := s.Targets(ctx(t), r.ID)
	if err != nil || len(tg) != 0 {
		t.Errorf("Targets of request without targets = %v, %v; want none", tg, err)
	}
}

func testDedupKey(t *testing.T, s store.Store) {
	first := mustCreate(t, s, newRequest("DUP001", base()), nil, "slack:Ev123")

	again := newRequest("DUP002", base().Add(time.Second))
	got, err := s.CreateRequest(ctx(t), again, nil, "slack:Ev123", requested(again))
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second create with same key: err = %v, want ErrDuplicate", err)
	}
	equal(t, "request returned for duplicate key", got, first)
	if _, err := s.GetRequest(ctx(t), "DUP002"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("duplicate create stored its request: err = %v", err)
	}
	if evs := mustEvents(t, s, ""); len(evs) != 1 {
		t.Errorf("duplicate create appended events: %v", eventTypes(evs))
	}

	// An event of another request is refused, and nothing is stored.
	other := requested(newRequest("DUP004", base()))
	other.RequestID = "DUP001"
	if _, err := s.CreateRequest(ctx(t), newRequest("DUP004", base()), nil, "", other); err == nil {
		t.Error("create with another request's event: no error")
	}
	if _, err := s.GetRequest(ctx(t), "DUP004"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create refused for another request's event stored its request: err = %v", err)
	}

	// Empty keys never collide.
	mustCreate(t, s, newRequest("NOKEY1", base()), nil, "")
	mustCreate(t, s, newRequest("NOKEY2", base()), nil, "")
	// A different key is a different command.
	mustCreate(t, s, newRequest("DUP003", base()), nil, "slack:Ev124")
}

func testUpdateRequestCAS(t *testing.T, s store.Store) {
	orig := mustCreate(t, s, newRequest("CAS001", base()), nil, "")

	approve := orig
	approve.Status = store.StatusApproved
	approve.DecidedAt = base().Add(time.Minute)
	deny := orig
	deny.Status = store.StatusDenied
	deny.DecidedBy = bob()

	won, err := s.UpdateRequest(ctx(t), approve, store.Event{RequestID: orig.ID, Type: "approved", Actor: bob(), Detail: "enough approvals"})
	if err != nil {
		t.Fatalf("first UpdateRequest: %v", err)
	}
	if won.Version != 2 || won.Status != store.StatusApproved {
		t.Errorf("winner = version %d status %s, want 2 approved", won.Version, won.Status)
	}
	equal(t, "UpdateRequest result vs GetRequest", won, mustGet(t, s, orig.ID))
	allUTC(t, "updated request", won.DecidedAt)
	if !won.DecidedAt.Equal(approve.DecidedAt) {
		t.Errorf("DecidedAt = %v, want %v", won.DecidedAt, approve.DecidedAt)
	}

	// The second writer read the same version: it must lose, and change nothing.
	if _, err := s.UpdateRequest(ctx(t), deny, store.Event{RequestID: orig.ID, Type: "denied"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale UpdateRequest: err = %v, want ErrConflict", err)
	}
	equal(t, "request after lost CAS", mustGet(t, s, orig.ID), won)
	equal(t, "events after CAS", eventTypes(mustEvents(t, s, orig.ID)),
		[]string{"requested:CAS001", "approved:CAS001"})

	// Events without a time get one.
	evs := mustEvents(t, s, orig.ID)
	if last := evs[len(evs)-1]; last.At.IsZero() || last.Actor != bob() || last.Detail != "enough approvals" {
		t.Errorf("appended event = %+v", last)
	}

	// Reloading and retrying works and bumps again.
	deny = won
	deny.Status = store.StatusRunning
	again, err := s.UpdateRequest(ctx(t), deny)
	if err != nil || again.Version != 3 {
		t.Errorf("retry after reload: version %d, err %v; want 3, nil", again.Version, err)
	}
}

func testUpdateRequestConcurrentCAS(t *testing.T, s store.Store) {
	orig := mustCreate(t, s, newRequest("CAS008", base()), nil, "")
	const n = 8
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
		c    = ctx(t)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := orig
			r.Status = store.StatusApproved
			r.Reason = string(rune('a' + i))
			_, errs[i] = s.UpdateRequest(c, r, store.Event{RequestID: r.ID, Type: "approved", Detail: r.Reason})
		}()
	}
	wg.Wait()
	wins, winner := 0, -1
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("goroutine %d: err = %v, want nil or ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent CAS updates won, want exactly 1", wins, n)
	}
	got := mustGet(t, s, orig.ID)
	if got.Version != 2 || got.Reason != string(rune('a'+winner)) {
		t.Errorf("stored version %d reason %q, want 2 and the winner's %q", got.Version, got.Reason, string(rune('a'+winner)))
	}
	if evs := mustEvents(t, s, orig.ID); len(evs) != 2 {
		t.Errorf("events = %v, want requested + one approved", eventTypes(evs))
	}
}

func testUpdateRequestNotFound(t *testing.T, s store.Store) {
	r := newRequest("GHOST1", base())
	r.Version = 1
	if _, err := s.UpdateRequest(ctx(t), r, store.Event{RequestID: r.ID, Type: "approved"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateRequest(missing) err = %v, want ErrNotFound", err)
	}
	if evs := mustEvents(t, s, ""); len(evs) != 0 {
		t.Errorf("failed update appended events: %v", eventTypes(evs))
	}
}

func testListRequests(t *testing.T, s store.Store) {
	// Created out of time order, so "newest first" must come from CreatedAt, not insertion order.
	for _, c := range []struct {
		id     string
		minute int
		status store.RequestStatus
	}{
		{"L00003", 3, store.StatusPending},
		{"L00001", 1, store.StatusDone},
		{"L00005", 5, store.StatusPending},
		{"L00002", 2, store.StatusRunning},
		{"L00004", 4, store.StatusDenied},
	} {
		r := newRequest(c.id, base().Add(time.Duration(c.minute)*time.Minute))
		r.Status = c.status
		if c.status == store.StatusDone {
			r.FinishedAt = base().Add(time.Hour)
		}
		mustCreate(t, s, r, nil, "")
	}
	ids := func(rs []store.Request) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all", store.Filter{}, []string{"L00005", "L00004", "L00003", "L00002", "L00001"}},
		{"pending", store.Filter{Statuses: []store.RequestStatus{store.StatusPending}}, []string{"L00005", "L00003"}},
		{"active", store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusRunning}},
			[]string{"L00005", "L00003", "L00002"}},
		{"limit", store.Filter{Limit: 2}, []string{"L00005", "L00004"}},
		{"filter and limit", store.Filter{Statuses: []store.RequestStatus{store.StatusPending, store.StatusDone}, Limit: 2},
			[]string{"L00005", "L00003"}},
		{"none match", store.Filter{Statuses: []store.RequestStatus{store.StatusExpired}}, []string{}},
		{"finished since, inclusive", store.Filter{FinishedSince: base().Add(time.Hour)}, []string{"L00001"}},
		{"finished since, a nanosecond later", store.Filter{FinishedSince: base().Add(time.Hour + time.Nanosecond)}, []string{}},
		{"finished since, with a status", store.Filter{Statuses: []store.RequestStatus{store.StatusDone}, FinishedSince: base()},
			[]string{"L00001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRequests(ctx(t), tc.f)
			if err != nil {
				t.Fatalf("ListRequests: %v", err)
			}
			equal(t, "ids", ids(got), tc.want)
		})
	}
	// Listed requests are complete, like GetRequest's.
	got, err := s.ListRequests(ctx(t), store.Filter{Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListRequests(limit 1) = %v, %v", got, err)
	}
	equal(t, "listed request", got[0], mustGet(t, s, "L00005"))
}
