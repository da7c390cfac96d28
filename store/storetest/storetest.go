// Package storetest is the contract every store.Store backend must pass. A backend's own test calls Run with a
// function that opens a fresh, empty store; that function registers the store's Close with t.Cleanup.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// Run runs the whole contract against stores made by open. Every subtest gets its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateDefaults", testCreateDefaults},
		{"DedupKey", testDedupKey},
		{"UpdateRequestCAS", testUpdateRequestCAS},
		{"UpdateRequestConcurrentCAS", testUpdateRequestConcurrentCAS},
		{"UpdateRequestNotFound", testUpdateRequestNotFound},
		{"ListRequests", testListRequests},
		{"AddApproval", testAddApproval},
		{"AddApprovalConcurrent", testAddApprovalConcurrent},
		{"AddApprovalSameEntraUser", testAddApprovalSameEntraUser},
		{"AddApprovalNotFound", testAddApprovalNotFound},
		{"TargetsOrderAndRoundTrip", testTargetsOrder},
		{"UpdateTargets", testUpdateTargets},
		{"UpdateTargetsMissing", testUpdateTargetsMissing},
		{"LatestTarget", testLatestTarget},
		{"UserHistory", testUserHistory},
		{"ActiveRequestsFor", testActiveRequestsFor},
		{"TargetsPage", testTargetsPage},
		{"TargetSummary", testTargetSummary},
		{"AddTargets", testAddTargets},
		{"TargetsOf", testTargetsOf},
		{"Events", testEvents},
		{"EventsAppendOnly", testEventsAppendOnly},
		{"EventsAfter", testEventsAfter},
		{"Cursors", testCursors},
		{"SeenDelivery", testSeenDelivery},
		{"Timers", testTimers},
		{"Leases", testLeases},
		{"Secrets", testSecrets},
		{"ClaimTimers", testClaimTimers},
		{"ClaimTimersConcurrent", testClaimTimersConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// ctx is a per-test context that is cancelled when the test ends, so a hung backend call fails the test
// rather than leaking.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a fixed instant with all nine fraction digits used, so truncation to micro/milliseconds shows, in a
// zone that is deliberately not UTC: stores must hand every time back in UTC.
func base() time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.FixedZone("UTC+5:30", 5*3600+1800))
}

// The actors are functions, not package variables, so no test can change what another sees.
func alice() store.Actor {
	return store.Actor{Platform: "slack", ID: "U0ALICE", Name: "Alice Admin", Entra: "a1b2c3d4-0000-4000-8000-00000000a11c"}
}
func bob() store.Actor { return store.Actor{Platform: "slack", ID: "U0BOB", Name: "Bob Boss"} }
func carol() store.Actor {
	return store.Actor{Platform: "teams", ID: "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", Name: "Carol Ćwik"}
}

// newRequest returns a pending request with every field set to something distinctive.
func newRequest(id string, created time.Time) store.Request {
	return store.Request{
		ID:                id,
		Status:            store.StatusPending,
		Version:           7, // CreateRequest must reset this to 1
		Requester:         alice(),
		Reason:            "phishing campaign — \"urgent\" reset",
		ScopeKind:         "group",
		ScopeText:         "Finance EMEA",
		Command:           "/signout group \"Finance EMEA\" reason: phishing",
		RequiredApprovals: 2,
		CreatedAt:         created,
		NotBefore:         created.Add(5 * time.Minute),
		ExpiresAt:         created.Add(time.Hour),
		DecidedBy:         store.Actor{}, // not decided yet
		Message:           store.MessageRef{Platform: "slack", Channel: "C0OPS", ID: "1710408413.000200", Thread: "1710408400.000100", Extra: `{"k":"v","n":[1,2]}`},
		Conversation:      store.MessageRef{Platform: "slack", Channel: "C0OPS", ID: "1710408400.000100"},
		TokenLifetime:     75*time.Minute + 3*time.Nanosecond,
		LifetimeSource:    "policy:Default",
		TokensExpireAt:    created.Add(3 * time.Hour),
		Failure:           "every revocation was refused: 403 Authorization_RequestDenied",
		DecisionNote:      "<wrong> *group*",
		Kind:              store.KindPolicy,
		ScopeRef:          "9b1f0c2e-0000-4000-8000-000000000001",
		Data:              `{"lifetime":600000000000,"until":"2026-12-03T09:00:00Z"}`,
	}
}

// stored is what a store should hand back for r: times in UTC, Version 1, no approvals.
func stored(r store.Request) store.Request {
	r.Version = 1
	r.Approvals = nil
	utcRequest(&r)
	return r
}

func utcRequest(r *store.Request) {
	for _, p := range []*time.Time{&r.CreatedAt, &r.NotBefore, &r.ExpiresAt, &r.DecidedAt, &r.StartedAt,
		&r.FinishedAt, &r.TokensExpireAt} {
		*p = utc(*p)
	}
	for i := range r.Approvals {
		r.Approvals[i].At = utc(r.Approvals[i].At)
	}
}

// utc converts t to UTC, keeping the zero time zero (and dropping any monotonic reading).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// mustCreate creates a request and fails the test on error.
func mustCreate(t *testing.T, s store.Store, r store.Request, targets []store.Target, key string) store.Request {
	t.Helper()
	got, err := s.CreateRequest(ctx(t), r, targets, key, requested(r))
	if err != nil {
		t.Fatalf("CreateRequest(%s): %v", r.ID, err)
	}
	return got
}

// requested is r's "requested" event as a caller builds it (no RequestID: the store fills in r's).
func requested(r store.Request) store.Event {
	return store.Event{At: r.CreatedAt, Actor: r.Requester, Type: store.EventRequested, Detail: r.Command,
		Data: fmt.Sprintf(`{"scope_kind":%q,"targets":%d}`, r.ScopeKind, 3)}
}

func mustGet(t *testing.T, s store.Store, id string) store.Request {
	t.Helper()
	got, err := s.GetRequest(ctx(t), id)
	if err != nil {
		t.Fatalf("GetRequest(%s): %v", id, err)
	}
	return got
}

func mustEvents(t *testing.T, s store.Store, requestID string) []store.Event {
	t.Helper()
	evs, err := s.Events(ctx(t), requestID)
	if err != nil {
		t.Fatalf("Events(%q): %v", requestID, err)
	}
	return evs
}

// equal fails the test with both values when they differ.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// allUTC checks every time a store returned is in UTC (the zero time counts as UTC).
func allUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %d (%v) is in %v, want UTC", what, i, tm, tm.Location())
		}
	}
}

// eventTypes summarises events as "type:request" strings for compact comparison.
func eventTypes(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%s:%s", ev.Type, ev.RequestID)
	}
	return out
}
