package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

func TestThreadPostsFromEvents(t *testing.T) {
	at := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	var targets []store.Target // the scope: u000…u399
	for i := range 400 {
		id := fmt.Sprintf("u%03d", i)
		targets = append(targets, store.Target{UserID: id, UPN: id + "@contoso.com", DisplayName: "User " + id,
			Status: store.TargetSessionsInvalid, ConfirmedAt: at, SessionsValidFrom: at})
	}
	user := func(i int) store.Target { return targets[i] }
	ev := func(seq int64, typ string, u int) store.Event {
		e := store.Event{Seq: seq, Type: typ}
		if u >= 0 {
			e.Actor = revocation.UserActor(user(u))
		}
		return e
	}
	req := store.Request{ID: "R1", TokensExpireAt: at.Add(time.Hour), TokenLifetime: time.Hour, LifetimeSource: "default"}

	tests := []struct {
		name   string
		events []store.Event
		listed int      // scope-list parts already posted
		want   []string // each post's first line, with the first event it reports
		seqs   []int64
	}{
		{
			name: "revoked events say nothing; a failure and a confirmation each get a post, in order of first appearance",
			events: []store.Event{ev(1, "revoked", 1), ev(2, "failed", 2), ev(3, "sessions_invalid", 1),
				ev(4, "failed", 3)},
			want: []string{"❌ 2 users could not be signed out:", "✅ Sessions invalid, confirmed from Graph for 1 user:"},
			seqs: []int64{2, 3},
		},
		{
			name:   "request-level events: the deadline, then its notice; a late confirmation counts as confirmed",
			events: []store.Event{ev(10, revocation.EventDeadline, -1), ev(11, "tokens_expired", 4), ev(12, revocation.EventTokensExpired, -1)},
			want: []string{"⏳ Every revocation has been sent.", "✅ Sessions invalid, confirmed from Graph for 1 user:",
				"🔒 Access tokens expired"},
			seqs: []int64{10, 11, 12},
		},
		{
			name:   "protected after the preview",
			events: []store.Event{ev(20, "excluded", 5)},
			want:   []string{"🛡️ 1 user was left alone:"},
			seqs:   []int64{20},
		},
		{
			name:   "the request itself: the whole scope, since the card shows a sample",
			events: []store.Event{{Seq: 40, Type: store.EventRequested}, ev(41, "failed", 1)},
			want: []string{"*Scope, users 1–100 of 400*", "*Scope, users 101–200 of 400*", "*Scope, users 201–300 of 400*",
				"*Scope, users 301–400 of 400*", "❌ 1 user could not be signed out:"},
			seqs: []int64{40, 40, 40, 40, 41},
		},
		{
			name:   "a scope list cut short by a crash goes on where it stopped",
			events: []store.Event{{Seq: 40, Type: store.EventRequested}},
			listed: 3,
			want:   []string{"*Scope, users 301–400 of 400*"},
			seqs:   []int64{40},
		},
		{
			name:   "an unknown user or an audit-only event posts nothing",
			events: []store.Event{{Seq: 30, Type: "failed", Actor: store.Actor{Platform: "graph", ID: "nobody"}}, ev(31, "approved", -1)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			posts := threadPosts(req, tc.events, targets, tc.listed)
			if len(posts) != len(tc.want) {
				t.Fatalf("%d posts, want %d: %+v", len(posts), len(tc.want), posts)
			}
			for i, p := range posts {
				if body := p.msg.Blocks[0].Text; !strings.HasPrefix(body, tc.want[i]) {
					t.Errorf("post %d = %q, want it to start %q", i, body, tc.want[i])
				}
				if p.minSeq != tc.seqs[i] {
					t.Errorf("post %d reports events from seq %d, want %d", i, p.minSeq, tc.seqs[i])
				}
			}
		})
	}

	// A long list is split into messages of listChunk users; each knows the first event it reports, so a crash
	// after posting one repeats nothing before it.
	var many []store.Event
	for i := range 250 {
		many = append(many, ev(int64(100+i), "sessions_invalid", 100+i))
	}
	posts := threadPosts(req, many, targets, 0)
	if len(posts) != 3 {
		t.Fatalf("250 confirmations in %d posts, want 3", len(posts))
	}
	for i, want := range []int64{100, 200, 300} {
		if posts[i].minSeq != want {
			t.Errorf("chunk %d starts at seq %d, want %d", i, posts[i].minSeq, want)
		}
	}
	if !strings.Contains(posts[2].msg.Blocks[0].Text, "(201–250 of 250)") {
		t.Errorf("last chunk header: %q", firstLine(posts[2].msg.Blocks[0].Text))
	}
}
