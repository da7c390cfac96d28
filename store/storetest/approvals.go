package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

func approvedEvent(requestID string, a store.Actor) store.Event {
	return store.Event{RequestID: requestID, Actor: a, Type: "approved", Detail: a.Name + " approved"}
}

func testAddApproval(t *testing.T, s store.Store) {
	r := mustCreate(t, s, newRequest("APR001", base()), nil, "")
	bobAt := base().Add(2 * time.Minute)
	carolAt := base().Add(1 * time.Minute) // recorded second but earlier: GetRequest orders by time

	if err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: bob(), At: bobAt}, approvedEvent(r.ID, bob())); err != nil {
		t.Fatalf("AddApproval(bob): %v", err)
	}
	if err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: carol(), At: carolAt}, approvedEvent(r.ID, carol())); err != nil {
		t.Fatalf("AddApproval(carol): %v", err)
	}
	// Same approver again, even under a new display name or time, is a duplicate and writes nothing.
	again := store.Approval{Actor: store.Actor{Platform: "slack", ID: bob().ID, Name: "Robert"}, At: bobAt.Add(time.Minute)}
	if err := s.AddApproval(ctx(t), r.ID, again, approvedEvent(r.ID, bob())); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second AddApproval(bob): err = %v, want ErrDuplicate", err)
	}
	// The same id on another platform is another person.
	other := store.Actor{Platform: "teams", ID: bob().ID, Name: "Bob on Teams"}
	if err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: other, At: bobAt.Add(time.Hour)}, approvedEvent(r.ID, other)); err != nil {
		t.Fatalf("AddApproval(same id, other platform): %v", err)
	}

	got := mustGet(t, s, r.ID)
	equal(t, "approvals", got.Approvals, []store.Approval{
		{Actor: carol(), At: carolAt.UTC()},
		{Actor: bob(), At: bobAt.UTC()},
		{Actor: other, At: bobAt.Add(time.Hour).UTC()},
	})
	for _, a := range got.Approvals {
		allUTC(t, "approval", a.At)
	}
	if got.Version != r.Version {
		t.Errorf("approvals changed the request's version %d → %d; CAS tokens would go stale", r.Version, got.Version)
	}
	equal(t, "events", eventTypes(mustEvents(t, s, r.ID)),
		[]string{"requested:APR001", "approved:APR001", "approved:APR001", "approved:APR001"})
}

// testAddApprovalSameEntraUser: two chat accounts of one Entra user are one approver.
func testAddApprovalSameEntraUser(t *testing.T, s store.Store) {
	r := mustCreate(t, s, newRequest("APR009", base()), nil, "")
	slackBob := store.Actor{Platform: "slack", ID: "U0BOB", Name: "bob", Entra: "entra-bob"}
	teamsBob := store.Actor{Platform: "teams", ID: "29:bob", Name: "Bob", Entra: "entra-bob"}
	if err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: slackBob, At: base()}, approvedEvent(r.ID, slackBob)); err != nil {
		t.Fatalf("AddApproval(slack bob): %v", err)
	}
	err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: teamsBob, At: base().Add(time.Second)}, approvedEvent(r.ID, teamsBob))
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("AddApproval(same Entra user, other account): err = %v, want ErrDuplicate", err)
	}
	got := mustGet(t, s, r.ID)
	equal(t, "approvals", got.Approvals, []store.Approval{{Actor: slackBob, At: base().UTC()}})
	equal(t, "events", eventTypes(mustEvents(t, s, r.ID)), []string{"requested:APR009", "approved:APR009"})
	// The Entra id is kept in the audit log too.
	if evs := mustEvents(t, s, r.ID); evs[1].Actor.Entra != "entra-bob" {
		t.Errorf("approval event actor = %+v, want the Entra id kept", evs[1].Actor)
	}
}

func testAddApprovalConcurrent(t *testing.T, s store.Store) {
	r := mustCreate(t, s, newRequest("APR008", base()), nil, "")
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
			a := store.Approval{Actor: bob(), At: base().Add(time.Duration(i) * time.Second)}
			errs[i] = s.AddApproval(c, r.ID, a, approvedEvent(r.ID, bob()))
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrDuplicate):
			t.Errorf("goroutine %d: err = %v, want nil or ErrDuplicate", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent approvals by one admin succeeded, want exactly 1", wins, n)
	}
	if got := mustGet(t, s, r.ID); len(got.Approvals) != 1 {
		t.Errorf("approvals = %+v, want one", got.Approvals)
	}
	if evs := mustEvents(t, s, r.ID); len(evs) != 2 {
		t.Errorf("events = %v, want requested + one approved", eventTypes(evs))
	}
}

func testAddApprovalNotFound(t *testing.T, s store.Store) {
	err := s.AddApproval(ctx(t), "GHOST1", store.Approval{Actor: bob(), At: base()}, approvedEvent("GHOST1", bob()))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddApproval(missing request) err = %v, want ErrNotFound", err)
	}
	if evs := mustEvents(t, s, ""); len(evs) != 0 {
		t.Errorf("failed approval appended events: %v", eventTypes(evs))
	}
}
