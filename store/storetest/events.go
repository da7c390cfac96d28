package storetest

import (
	"fmt"
	"sync"
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

func testEventsAfter(t *testing.T, s store.Store) {
	mustCreate(t, s, newRequest("EVA001", base()), nil, "")
	mustCreate(t, s, newRequest("EVA002", base()), nil, "")
	for i, id := range []string{"EVA001", "EVA002", "EVA001", "EVA001", "EVA002", "EVA001"} {
		if err := s.AppendEvent(ctx(t), store.Event{RequestID: id, Type: fmt.Sprintf("e%d", i), At: base()}); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	mine := mustEvents(t, s, "EVA001") // requested, e0, e2, e3, e5
	if len(mine) != 5 {
		t.Fatalf("EVA001 has %d events, want 5", len(mine))
	}
	types := func(evs []store.Event) []string {
		out := []string{}
		for _, ev := range evs {
			out = append(out, ev.Type)
		}
		return out
	}
	tests := []struct {
		after int64
		limit int
		want  []string
	}{
		{0, 0, []string{"requested", "e0", "e2", "e3", "e5"}},
		{mine[1].Seq, 0, []string{"e2", "e3", "e5"}},
		{mine[1].Seq, 2, []string{"e2", "e3"}},
		{mine[1].Seq + 1, 0, []string{"e2", "e3", "e5"}}, // a Seq of another request's event works as a position
		{mine[4].Seq, 0, []string{}},
	}
	for _, tc := range tests {
		got, err := s.EventsAfter(ctx(t), "EVA001", tc.after, tc.limit)
		if err != nil {
			t.Fatalf("EventsAfter(%d, %d): %v", tc.after, tc.limit, err)
		}
		equal(t, fmt.Sprintf("EventsAfter(%d, %d)", tc.after, tc.limit), types(got), tc.want)
	}
	full, err := s.EventsAfter(ctx(t), "EVA001", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "EventsAfter rows equal Events rows", full, mine)
}

func testCursors(t *testing.T, s store.Store) {
	get := func(name string) int64 {
		t.Helper()
		n, err := s.Cursor(ctx(t), name)
		if err != nil {
			t.Fatalf("Cursor(%s): %v", name, err)
		}
		return n
	}
	advance := func(name string, seq int64) {
		t.Helper()
		if err := s.AdvanceCursor(ctx(t), name, seq); err != nil {
			t.Fatalf("AdvanceCursor(%s, %d): %v", name, seq, err)
		}
	}
	if n := get("thread:R1"); n != 0 {
		t.Errorf("a never-set cursor is %d, want 0", n)
	}
	advance("thread:R1", 7)
	advance("thread:R2", 3)
	advance("thread:R1", 5) // backwards: ignored
	if n := get("thread:R1"); n != 7 {
		t.Errorf("thread:R1 = %d after 7 then 5, want 7", n)
	}
	advance("thread:R1", 12)
	if a, b := get("thread:R1"), get("thread:R2"); a != 12 || b != 3 {
		t.Errorf("cursors = %d, %d; want 12, 3 (independent names)", a, b)
	}

	// Writers racing to different positions: the furthest wins, whatever the order.
	var wg sync.WaitGroup
	for i := int64(1); i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.AdvanceCursor(ctx(t), "race", i*10); err != nil {
				t.Errorf("AdvanceCursor(race, %d): %v", i*10, err)
			}
		}()
	}
	wg.Wait()
	if n := get("race"); n != 200 {
		t.Errorf("after concurrent advances the cursor is %d, want 200", n)
	}
}
