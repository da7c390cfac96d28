package bot

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// A card drawn from the store's counts and its targets read a page at a time (storedView) says exactly what the
// card drawn from every target in memory says, in every state of a request, above and below a page of targets.
func TestStoredCardEqualsCardFromEveryTarget(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	deadline := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	statuses := []store.TargetStatus{store.TargetPending, store.TargetRevoked, store.TargetSessionsInvalid, store.TargetTokensExpired,
		store.TargetFailed, store.TargetUnconfirmed, store.TargetExcluded, store.TargetGuest}
	scope := func(id string, n int, status func(i int) store.TargetStatus) []store.Target {
		var out []store.Target
		for i := range n {
			// Names out of scope order, so the sample is not simply the first targets read.
			tg := target(fmt.Sprintf("user%05d", (i*7919)%n), status(i), "")
			tg.RequestID, tg.Seq = id, i
			tg.Guest = i%13 == 0
			if tg.Status == store.TargetGuest {
				tg.Guest = true
			}
			if tg.Status == store.TargetFailed || tg.Status == store.TargetExcluded || tg.Status == store.TargetUnconfirmed {
				tg.Detail = fmt.Sprintf("reason %d", i%3)
			}
			out = append(out, tg)
		}
		return out
	}
	tests := []struct {
		name   string
		status store.RequestStatus
		n      int
		of     func(i int) store.TargetStatus
	}{
		{"pending, small", store.StatusPending, 12, func(i int) store.TargetStatus {
			return map[bool]store.TargetStatus{true: store.TargetExcluded, false: store.TargetPending}[i%5 == 0]
		}},
		{"running, mixed, several pages", store.StatusRunning, 2*cardPage + 17, func(i int) store.TargetStatus { return statuses[i%len(statuses)] }},
		{"done, all signed out but a few", store.StatusDone, cardPage + 3, func(i int) store.TargetStatus {
			if i%500 == 1 {
				return store.TargetFailed
			}
			return store.TargetTokensExpired
		}},
		{"cancelled", store.StatusCancelled, 30, func(int) store.TargetStatus { return store.TargetPending }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("RCARD%d", i)
			targets := scope(id, tc.n, tc.of)
			req := store.Request{ID: id, Status: tc.status, ScopeKind: "group", ScopeText: "Wave", CreatedAt: deadline.Add(-time.Hour),
				ExpiresAt: deadline, Requester: store.Actor{Platform: "slack", ID: "UA", Name: "alice"}, TokenLifetime: time.Hour,
				LifetimeSource: "default", RequiredApprovals: 2}
			if tc.status == store.StatusRunning || tc.status == store.StatusDone {
				req.TokensExpireAt = deadline
			}
			req, err := st.CreateRequest(ctx, req, targets, "")
			if err != nil {
				t.Fatal(err)
			}
			a := &App{Store: st, Log: slog.New(slog.DiscardHandler)}
			want := a.render(ctx, req, targets)
			for pass := range 2 { // the second from the samples this App keeps for the card's next edit
				v, err := a.storedView(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if got := a.renderView(ctx, req, v); !reflect.DeepEqual(got, want) {
					t.Fatalf("pass %d: stored card differs:\n%s\n--- from every target ---\n%s", pass, plainText(got), plainText(want))
				}
			}
		})
	}
}
