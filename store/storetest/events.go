package storetest

import (
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

func testEvents(t *testing.T, s store.Store) {
	mustCreate(t, s, newRequest("EVT001", base()), nil, "")
	mustCreate(t, s, newRequest("EVT002", base()), nil, "")
	appends := []store.Event{
		{RequestID: "EVT001", Type: "approved", Actor: bob(), At: base().Add(time.Minute), Detail: "ok", Data: `{"n":1}`},
		{RequestID: "", Type: "startup", Detail: "signoutbot started"}, // zero At: the store sets it
		{RequestID: "EVT002", Type: "cancelled", Actor: alice(), At: base().Add(2 * time.Minute)},
		// An earlier At than the previous event: the log is ordered by Seq (append order), not by At.
		{RequestID: "EVT001", Type: "refused", Actor: carol(), At: base().Add(-time.Minute), Detail: "not an admin"},
	}
	for _, ev := range appends {
		if err := s.AppendEvent(ctx(t), ev); err != nil {
			t.Fatalf("AppendEvent(%s): %v", ev.Type, err)
		}
	}

	all := mustEvents(t, s, "")
	equal(t, "all events", eventTypes(all), []string{"requested:EVT001", "requested:EVT002", "approved:EVT001",
		"startup:", "cancelled:EVT002", "refused:EVT001"})
	for i, ev := range all {
		if i > 0 && ev.Seq <= all[i-1].Seq {
			t.Errorf("event %d Seq %d not after %d", i, ev.Seq, all[i-1].Seq)
		}
		if ev.At.IsZero() {
			t.Errorf("event %d (%s) has no At", i, ev.Type)
		}
		allUTC(t, "event", ev.At)
	}
	// Full round trip of an appended event (Seq is the store's).
	want := appends[0]
	want.Seq, want.At = all[2].Seq, want.At.UTC()
	equal(t, "appended event", all[2], want)

	equal(t, "EVT001 events", eventTypes(mustEvents(t, s, "EVT001")),
		[]string{"requested:EVT001", "approved:EVT001", "refused:EVT001"})
}

// testEventsAppendOnly checks what the interface can show: nothing a store does afterwards rewrites or removes
// an event. (Backends test their storage-level guard, e.g. a trigger, in their own tests.)
func testEventsAppendOnly(t *testing.T, s store.Store) {
	r := mustCreate(t, s, newRequest("EVT003", base()), someTargets("EVT003", 2), "")
	if err := s.AppendEvent(ctx(t), store.Event{RequestID: r.ID, Type: "note", At: base(), Detail: "first"}); err != nil {
		t.Fatalf("AppendEvent: %v", err)
	}
	before := mustEvents(t, s, "")

	// Every kind of write that also appends events.
	r.Status = store.StatusApproved
	if _, err := s.UpdateRequest(ctx(t), r, store.Event{RequestID: r.ID, Type: "approved"}); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	if err := s.AddApproval(ctx(t), r.ID, store.Approval{Actor: bob(), At: base()}, approvedEvent(r.ID, bob())); err != nil {
		t.Fatalf("AddApproval: %v", err)
	}
	tg, err := s.Targets(ctx(t), r.ID)
	if err != nil {
		t.Fatalf("Targets: %v", err)
	}
	tg[0].Status = store.TargetRevoked
	if err := s.UpdateTargets(ctx(t), tg[:1], store.Event{RequestID: r.ID, Type: "revoked"}); err != nil {
		t.Fatalf("UpdateTargets: %v", err)
	}

	after := mustEvents(t, s, "")
	if len(after) != len(before)+3 {
		t.Fatalf("events = %v, want the %d earlier ones plus 3", eventTypes(after), len(before))
	}
	equal(t, "earlier events after later writes", after[:len(before)], before)
}

func testSeenDelivery(t *testing.T, s store.Store) {
	at := base()
	tests := []struct {
		key  string
		at   time.Time
		want bool
	}{
		{"slack:Ev01", at, true},
		{"slack:Ev01", at.Add(time.Second), false},
		{"teams:Ev01", at, true}, // keys are opaque: a different platform prefix is a different key
		{"slack:Ev02", at.Add(time.Minute), true},
		{"slack:Ev01", at.Add(time.Hour), false},
		{"slack:Ev02", at.Add(time.Hour), false},
	}
	for i, tc := range tests {
		first, err := s.SeenDelivery(ctx(t), tc.key, tc.at)
		if err != nil {
			t.Fatalf("%d: SeenDelivery(%s): %v", i, tc.key, err)
		}
		if first != tc.want {
			t.Errorf("%d: SeenDelivery(%s) first = %v, want %v", i, tc.key, first, tc.want)
		}
	}
}
