package bot

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

var (
	alice = store.Actor{Platform: "slack", ID: "UA", Name: "alice"}
	bob   = store.Actor{Platform: "slack", ID: "UB", Name: "bob"}
)

func scopeOf(guests int, names ...string) []store.Target {
	var out []store.Target
	for i, n := range names {
		t := target(n, store.TargetPending, "")
		t.Seq = i
		out = append(out, t)
	}
	for i := range guests {
		g := target("guest"+string(rune('a'+i)), store.TargetPending, "")
		g.Guest = true
		out = append(out, g)
	}
	return out
}

// The card's words follow the request's status: a denied, cancelled or expired request never says "Will be
// signed out", and a request whose users are all revoked and confirmed says it waits for the tokens to expire.
func TestWordingFollowsTheStatus(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	base := store.Request{ID: "R1", Requester: alice, RequiredApprovals: 1, CreatedAt: at, ExpiresAt: at.Add(time.Hour),
		DecidedAt: at.Add(time.Minute), DecidedBy: bob}
	confirmed := scopeOf(0, "lester", "testy")
	for i := range confirmed {
		confirmed[i].Status = store.TargetSessionsInvalid
	}
	tests := []struct {
		name    string
		status  store.RequestStatus
		note    string
		targets []store.Target
		want    []string
	}{
		{"pending", store.StatusPending, "", scopeOf(0, "lester"), []string{"*Will be signed out*", "1 user* will be signed out"}},
		{"denied with a reason", store.StatusDenied, "wrong group", scopeOf(0, "lester"),
			[]string{"*Was to be signed out* (denied by bob)", "Denied by bob at", "“wrong group”", "1 user* was to be signed out"}},
		{"cancelled", store.StatusCancelled, "", scopeOf(0, "lester"), []string{"*Was to be signed out* (cancelled by bob)"}},
		{"expired", store.StatusExpired, "", scopeOf(0, "lester"), []string{"*Was to be signed out* (nobody approved in time)"}},
		{"all revoked and confirmed", store.StatusRunning, "", confirmed,
			[]string{"revoked and confirmed — waiting for access tokens to expire at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			req.Status, req.DecisionNote = tt.status, tt.note
			if tt.status == store.StatusRunning {
				req.TokensExpireAt = at.Add(2 * time.Hour)
			}
			card := plainText(a.render(context.Background(), req, tt.targets))
			for _, w := range tt.want {
				if !strings.Contains(card, w) {
					t.Errorf("card lacks %q:\n%s", w, card)
				}
			}
			if tt.status != store.StatusPending && strings.Contains(card, "Will be signed out") {
				t.Errorf("a %s card says \"Will be signed out\":\n%s", tt.status, card)
			}
		})
	}
}

// Guests are counted apart from the users who will be signed out, in the same words on the card, in the confirm
// dialog and in the thread.
func TestGuestsAreDescribedOneWay(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	req := store.Request{ID: "R2", Status: store.StatusPending, Requester: alice, RequiredApprovals: 1}
	targets := scopeOf(1, "a1", "a2", "a3", "a4", "a5", "a6")
	msg := a.render(context.Background(), req, targets)
	card := plainText(msg)
	for _, w := range []string{"*6 users* will be signed out; 1 guest can only be signed out by their home tenant", "Sign out 6 users?",
		"1 guest can only be signed out by their home tenant: their sessions here are revoked too"} {
		if !strings.Contains(card, w) {
			t.Errorf("card or confirm dialog lacks %q:\n%s", w, card)
		}
	}
	done := store.Request{ID: "R2", Status: store.StatusDone, TokensExpireAt: time.Now()}
	for i := range targets {
		targets[i].Status = store.TargetTokensExpired
		if targets[i].Guest {
			targets[i].Status = store.TargetGuest
		}
	}
	thread := plainText(threadNotice(done, revocation.NoticeTokensExpired, nil, targets)[0])
	if !strings.Contains(thread, "(6 users, at") || !strings.Contains(thread, "1 guest can only be signed out by their home tenant") {
		t.Errorf("thread: %s", thread)
	}
}

// Lists read by display name, counts are words, and a confirmation line carries one time.
func TestListsSortedPluralsAndOneTimePerLine(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	req := store.Request{ID: "R3", Status: store.StatusPending, Requester: alice, RequiredApprovals: 2}
	targets := scopeOf(0, "zoe", "adam", "mia")
	card := plainText(a.render(context.Background(), req, targets))
	if i, j, k := strings.Index(card, "Adam"), strings.Index(card, "Mia"), strings.Index(card, "Zoe"); !(i < j && j < k) {
		t.Errorf("card list not sorted by display name:\n%s", card)
	}
	if strings.Contains(card, "(s)") || !strings.Contains(card, "2 admins other than") {
		t.Errorf("plural written as (s), or not at all:\n%s", card)
	}
	for i := range targets {
		targets[i].Status, targets[i].ConfirmedAt = store.TargetSessionsInvalid, time.Now()
	}
	msg := threadNotice(req, revocation.NoticeConfirmed, targets, targets)[0]
	lines := strings.Split(msg.Blocks[0].Text, "\n")[1:]
	if !strings.Contains(lines[0], "Adam") || !strings.Contains(lines[2], "Zoe") {
		t.Errorf("thread list not sorted: %q", lines)
	}
	for _, l := range lines {
		if n := strings.Count(l, timeOpen); n != 1 {
			t.Errorf("confirmation line carries %d times: %q", n, PlainText(l))
		}
	}
}

// Every moment in a shared message is a Time marker (each viewer sees their own zone), never a zone's text.
func TestSharedMessagesCarryViewerTimes(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	req := store.Request{ID: "R4", Status: store.StatusRunning, Requester: alice, CreatedAt: at, DecidedAt: at,
		TokensExpireAt: at.Add(time.Hour), TokenLifetime: time.Hour, Approvals: []store.Approval{{Actor: bob, At: at}}}
	msg := a.render(context.Background(), req, scopeOf(0, "lester"))
	all := msg.Text
	for _, b := range msg.Blocks {
		all += b.Text + strings.Join(b.Fields, "")
	}
	if strings.Count(all, timeOpen) < 3 {
		t.Errorf("card has %d time markers: %q", strings.Count(all, timeOpen), all)
	}
	if regexp.MustCompile(`\d\d:\d\d`).MatchString(all) {
		t.Errorf("card formats a time itself instead of leaving it to the viewer: %q", PlainText(all))
	}
}

// A user already in another request that is not finished is flagged on the new card.
func TestUserInAnotherActiveRequestIsFlagged(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	running := store.Request{ID: "RRUN01", Status: store.StatusRunning, Requester: alice, CreatedAt: now}
	if _, err := st.CreateRequest(ctx, running, scopeOf(0, "lester"), ""); err != nil {
		t.Fatal(err)
	}
	req := store.Request{ID: "RNEW01", Status: store.StatusPending, Requester: alice, CreatedAt: now, RequiredApprovals: 1}
	targets := scopeOf(0, "lester", "testy")
	if _, err := st.CreateRequest(ctx, req, targets, ""); err != nil {
		t.Fatal(err)
	}
	a := &App{Store: st, Log: slog.New(slog.DiscardHandler)}
	card := plainText(a.render(ctx, req, targets))
	if !strings.Contains(card, "Lester `lester@contoso.com` — _also in request RRUN01") || strings.Contains(card, "Testy `testy@contoso.com` — also") {
		t.Errorf("overlap not flagged on the right user:\n%s", card)
	}
	if !strings.Contains(card, "1 user in this request is also in another request") {
		t.Errorf("overlap count missing:\n%s", card)
	}
}

// The plan states, before anyone approves, how long the run takes at the write ceiling, when the last token
// issued before it dies, and what a 10-minute policy set now would change (nothing for tokens already issued).
func TestPlanStatesItsOwnFinishTime(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	req := store.Request{TokenLifetime: 2 * time.Hour, LifetimeSource: "no token lifetime policy in the tenant"}
	plan := PlainText(a.planText(req, outcome{inScope: 10000}, now))
	for _, w := range []string{"revoking 10,000 users takes about 8 min 20 s at Graph's 20 per second, starting once approved",
		"expires by Wed 2 Dec 14:08:20 UTC (lifetime 2 h: no token lifetime policy in the tenant)",
		"With `/signout policy set 10m` now: by Wed 2 Dec 14:00:00 UTC", "tokens issued before a policy keep their 2 h"} {
		if !strings.Contains(plan, w) {
			t.Errorf("plan lacks %q:\n%s", w, plan)
		}
	}
	// Scheduled three hours ahead, a policy set now has time to work: the last token dies 10 min after the run.
	req.NotBefore = now.Add(3 * time.Hour)
	plan = PlainText(a.planText(req, outcome{inScope: 1200}, now))
	for _, w := range []string{"takes about 1 min at Graph's 20 per second, starting at Wed 2 Dec 15:00:00 UTC",
		"With `/signout policy set 10m` now: by Wed 2 Dec 15:11:00 UTC."} {
		if !strings.Contains(plan, w) {
			t.Errorf("scheduled plan lacks %q:\n%s", w, plan)
		}
	}
}

// firstByName picks what a full sort would put first, ties and filters included.
func TestFirstByNameMatchesASort(t *testing.T) {
	var targets []store.Target
	for i := range 500 {
		name := fmt.Sprintf("User %03d", (i*7919)%97) // many equal names: ties must keep their order
		targets = append(targets, store.Target{UserID: fmt.Sprint(i), DisplayName: name, UPN: fmt.Sprintf("u%d@contoso.com", i%5),
			Guest: i%3 == 0})
	}
	keep := func(t store.Target) bool { return !t.Guest }
	var want []store.Target
	for _, x := range sortedTargets(targets) {
		if keep(x) && len(want) < 11 {
			want = append(want, x)
		}
	}
	if got := firstByName(targets, 11, keep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("firstByName =\n%v\nwant\n%v", got, want)
	}
}

func BenchmarkCardOf100kUsers(b *testing.B) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	targets := make([]store.Target, 100000)
	for i := range targets {
		targets[i] = store.Target{UserID: fmt.Sprint(i), DisplayName: fmt.Sprintf("Wave User %06d", (i*7919)%100000),
			UPN: fmt.Sprintf("wave.%06d@contoso.com", i), Status: store.TargetRevoked, RevokedAt: time.Now()}
	}
	req := store.Request{ID: "RBIG01", Status: store.StatusRunning, Requester: alice}
	b.ResetTimer()
	for range b.N {
		a.render(context.Background(), req, targets)
	}
}
