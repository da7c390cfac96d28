package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/clock"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
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

// threadChat records thread replies; it refuses them after allow of them (negative: never), and lost makes the
// next accepted reply report an error as if its answer was lost (the reply is in the thread all the same).
type threadChat struct {
	mu    sync.Mutex
	msgs  []Message
	allow int
	lost  bool
}

func (c *threadChat) Platform() string { return "test" }
func (c *threadChat) Post(context.Context, store.MessageRef, Message) (store.MessageRef, error) {
	return store.MessageRef{}, nil
}
func (c *threadChat) Update(context.Context, store.MessageRef, Message) error { return nil }
func (c *threadChat) Private(context.Context, store.MessageRef, string, Message) error {
	return nil
}
func (c *threadChat) Person(context.Context, string) (Person, error) { return Person{}, nil }
func (c *threadChat) Reply(_ context.Context, _ store.MessageRef, msg Message) (store.MessageRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.allow >= 0 && len(c.msgs) >= c.allow {
		return store.MessageRef{}, errors.New("chat refused the reply")
	}
	c.msgs = append(c.msgs, msg)
	if c.lost {
		c.lost = false
		return store.MessageRef{}, errors.New("the answer to the reply was lost")
	}
	return store.MessageRef{}, nil
}

func (c *threadChat) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = PlainText(m.Blocks[0].Text)
	}
	return out
}

// threadRig is a request of n users in a store, with its card posted on a chat that records the thread.
type threadRig struct {
	app     *App
	chat    *threadChat
	st      store.Store
	clk     *clock.Fake
	req     store.Request
	targets []store.Target
	at      time.Time // the time of the next event
}

func newThreadRig(t *testing.T, n int) *threadRig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 12, 2, 22, 0, 0, 0, time.UTC)
	var targets []store.Target
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		targets = append(targets, store.Target{Seq: i, UserID: id, UPN: id + "@contoso.com", DisplayName: "User " + id,
			Status: store.TargetPending})
	}
	req, err := st.CreateRequest(ctx, store.Request{ID: "RBIG01", Status: store.StatusRunning, ScopeKind: "group", CreatedAt: at,
		Requester: store.Actor{Platform: "test", ID: "UA", Name: "alice"}, Message: store.MessageRef{Platform: "test", Channel: "C", ID: "M1"},
		TokenLifetime: time.Hour, LifetimeSource: "default"}, targets, "", store.Event{Type: store.EventRequested, At: at})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(at)
	r := &threadRig{chat: &threadChat{allow: -1}, st: st, clk: clk, req: req, targets: targets, at: at}
	r.app = r.newApp()
	return r
}

// newApp is the bot as a new process would start it on the same store and chat.
func (r *threadRig) newApp() *App {
	a := &App{Store: r.st, Clock: r.clk, Log: slog.New(slog.DiscardHandler)}
	a.AddMessenger(r.chat)
	return a
}

// record moves users to status with detail, one event each, every step apart, as the runner stores them.
func (r *threadRig) record(t *testing.T, users []int, status store.TargetStatus, detail func(i int) string, step time.Duration) {
	t.Helper()
	var ts []store.Target
	var evs []store.Event
	for _, i := range users {
		x := r.targets[i]
		x.Status, x.RequestID = status, r.req.ID
		if detail != nil {
			x.Detail = detail(i)
		}
		if status == store.TargetSessionsInvalid {
			x.ConfirmedAt = r.at
		}
		r.targets[i] = x
		ts = append(ts, x)
		evs = append(evs, store.Event{At: r.at, RequestID: r.req.ID, Type: string(status), Actor: revocation.UserActor(x),
			Detail: x.UPN + ": " + string(status)})
		r.at = r.at.Add(step)
	}
	if err := r.st.UpdateTargets(context.Background(), ts, evs...); err != nil {
		t.Fatal(err)
	}
	r.clk.Set(r.at)
}

func (r *threadRig) flush(t *testing.T) error {
	t.Helper()
	return r.app.postThread(context.Background(), r.req.ID)
}

func span(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

var (
	confirmedLine = regexp.MustCompile(`✅ ([\d,]+) (more )?confirmed from Graph`)
	toGoLine      = regexp.MustCompile(`, ([\d,]+) to go`)
	reasonLine    = regexp.MustCompile(`(?m)^(❌|⚠️|🛡️) ([\d,]+) (failed|revoked but not confirmed from Graph|left alone): (.*) \((e\.g\. )?(.*)\)$`)
)

func number(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// confirmedCounts adds up the confirmations a thread reports and, when users > 0 (every user's news is a
// confirmation), checks each "to go" against them.
func confirmedCounts(t *testing.T, thread []string, users int) (total, digests int) {
	t.Helper()
	for _, msg := range thread {
		m := confirmedLine.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		if (m[2] != "") != (total > 0) {
			t.Errorf("%q: says \"more\" wrongly after %d confirmed", firstLine(msg), total)
		}
		total += number(t, m[1])
		digests++
		if g := toGoLine.FindStringSubmatch(msg); users > 0 && g != nil && number(t, g[1]) != users-total {
			t.Errorf("%q: %d to go after %d of %d confirmed", firstLine(msg), number(t, g[1]), total, users)
		}
	}
	return total, digests
}

// A 2,000-user request whose news is all confirmations: the thread says how many are in scope with the first
// 50 names, then counts confirmations in a handful of digests whose counts add up to 2,000 and whose "to go"
// count down, however often it is flushed and whether the news comes at 20 a second or one a second.
func TestLargeThreadCountsConfirmations(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name      string
		step      time.Duration // between two confirmations
		flushEach int           // confirmations stored between flushes (0: one flush at the end)
	}{
		{"20 a second, flushed as the runner notifies", 50 * time.Millisecond, 20},
		{"one a second, flushed as the runner notifies", time.Second, 20},
		{"20 a second, one flush after an outage", 50 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newThreadRig(t, n)
			for from := 0; from < n; {
				to := n
				if tc.flushEach > 0 {
					to = min(n, from+tc.flushEach)
				}
				r.record(t, span(from, to), store.TargetSessionsInvalid, nil, tc.step)
				if err := r.flush(t); err != nil {
					t.Fatal(err)
				}
				from = to
			}
			all := r.chat.texts()
			parts, thread := scopeParts(all)
			if len(thread) > 12 {
				t.Errorf("%d news messages for %d confirmations, want at most 12:\n%s", len(thread), n, strings.Join(thread, "\n---\n"))
			}
			if len(parts) != n/listChunk || !strings.HasPrefix(all[0], "*Scope, users 1–100 of 2000*") {
				t.Errorf("the scope is listed in %d parts, want every user in %d:\n%s", len(parts), n/listChunk, all[0])
			}
			total, digests := confirmedCounts(t, thread, n)
			if total != n || digests < 2 {
				t.Errorf("confirmations add up to %d in %d digests, want %d in several:\n%s", total, digests, n, strings.Join(thread, "\n---\n"))
			}
			if last := thread[len(thread)-1]; !strings.Contains(last, "all 2,000 confirmed") {
				t.Errorf("last message %q does not say every user is confirmed", last)
			}
			t.Logf("%d scope parts and %d news messages: %q … %q", len(parts), len(thread), firstLine(thread[0]), thread[len(thread)-1])
		})
	}
}

// Failures and the rest are grouped by reason, whatever timestamps their details hold, with a few names each;
// the counts of each reason add up, and confirmations count down what is left.
func TestLargeThreadGroupsFailuresByReason(t *testing.T) {
	r := newThreadRig(t, 300)
	unavailable := func(int) string { return "HTTP 503 ServiceUnavailable Service unavailable" }
	missing := func(int) string { return "not found: Request_ResourceNotFound Resource does not exist" }
	old := func(i int) string {
		return fmt.Sprintf("could not confirm: Graph shows signInSessionsValidFromDateTime 2026-12-02T21:%02d:00Z, before the revocation "+
			"(2026-12-02T22:%02d:00Z or later)", i%60, i%60)
	}
	// Interleaved, as a run stores them: failures among the confirmations, flushes as notices come.
	for round := range 10 {
		base := round * 30
		r.record(t, span(base, base+12), store.TargetSessionsInvalid, nil, 100*time.Millisecond)
		r.record(t, span(base+12, base+22), store.TargetFailed, unavailable, 100*time.Millisecond)
		r.record(t, span(base+22, base+27), store.TargetFailed, missing, 100*time.Millisecond)
		if err := r.flush(t); err != nil {
			t.Fatal(err)
		}
	}
	// Verify's last pass comes a while later: meanwhile the news has paused, and what came is posted.
	r.at = r.at.Add(time.Minute)
	r.clk.Set(r.at)
	if err := r.flush(t); err != nil {
		t.Fatal(err)
	}
	if _, news := scopeParts(r.chat.texts()); len(news) != 1 {
		t.Fatalf("after a pause of a minute the thread has %d news messages, want one digest:\n%s",
			len(news), strings.Join(r.chat.texts(), "\n---\n"))
	}
	for round := range 10 {
		r.record(t, span(round*30+27, round*30+30), store.TargetUnconfirmed, old, 0)
	}
	if err := r.flush(t); err != nil {
		t.Fatal(err)
	}
	_, thread := scopeParts(r.chat.texts())
	got := map[string]int{}
	for _, msg := range thread {
		for _, m := range reasonLine.FindAllStringSubmatch(msg, -1) {
			got[m[3]+": "+m[4]] += number(t, m[2])
			names := strings.Split(m[6], ", ")
			if len(names) > 3 || (m[5] == "") != (number(t, m[2]) == len(names)) {
				t.Errorf("%q: %d names for %s users", m[0], len(names), m[2])
			}
		}
	}
	want := map[string]int{
		"failed: HTTP 503 ServiceUnavailable Service unavailable":                                                                                    100,
		"failed: not found: Request_ResourceNotFound Resource does not exist":                                                                        50,
		"revoked but not confirmed from Graph: could not confirm: Graph shows signInSessionsValidFromDateTime …, before the revocation (… or later)": 30,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reasons %v\nwant %v\nthread:\n%s", got, want, strings.Join(thread, "\n---\n"))
	}
	if total, _ := confirmedCounts(t, thread, 0); total != 120 {
		t.Errorf("%d confirmations reported, want 120", total)
	}
	// To go: neither confirmed nor failed, as of the digest: the 30 Verify had not given up on yet.
	if !strings.HasPrefix(thread[0], "✅ 120 confirmed from Graph (sessions invalid), 30 to go\n❌ 100 failed: HTTP 503") {
		t.Errorf("first digest:\n%s", thread[0])
	}
	if len(thread) > 8 {
		t.Errorf("%d messages:\n%s", len(thread), strings.Join(thread, "\n---\n"))
	}
}

// A request of up to 50 users keeps its per-user lines: the numbered scope list, and each user named.
func TestSmallThreadNamesEachUser(t *testing.T) {
	r := newThreadRig(t, 50)
	r.record(t, span(0, 40), store.TargetSessionsInvalid, nil, time.Second)
	r.record(t, span(40, 50), store.TargetFailed, func(int) string { return "HTTP 503 ServiceUnavailable Service unavailable" }, time.Second)
	if err := r.flush(t); err != nil {
		t.Fatal(err)
	}
	thread := r.chat.texts()
	want := []string{"*Scope, users 1–50 of 50*", "✅ Sessions invalid, confirmed from Graph for 40 users:", "❌ 10 users could not be signed out:"}
	if len(thread) != len(want) {
		t.Fatalf("%d messages, want %d:\n%s", len(thread), len(want), strings.Join(thread, "\n---\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(thread[i], w) {
			t.Errorf("message %d starts %q, want %q", i, firstLine(thread[i]), w)
		}
	}
	if n := strings.Count(thread[1], "@contoso.com` — confirmed"); n != 40 {
		t.Errorf("%d confirmed users named, want 40", n)
	}
	if strings.Contains(strings.Join(thread, "\n"), "to go") {
		t.Error("a small request's thread counts instead of naming")
	}
}

// Chat refuses replies after the first one: nothing is lost, and the retry posts the rest once, in order. A lost
// answer (posted, but the cursor not moved) repeats that one message and no other. A restarted process (no
// memory of the thread) carries on from the cursors alone.
func TestLargeThreadCursorSafety(t *testing.T) {
	const n = 2000
	clean := newThreadRig(t, n)
	feed := func(r *threadRig, fail func(round int)) {
		for round := range 20 {
			r.record(t, span(round*100, round*100+100), store.TargetSessionsInvalid, nil, 100*time.Millisecond)
			if fail != nil {
				fail(round)
			}
			_ = r.flush(t) // a refused reply leaves the rest for the retry
		}
	}
	feed(clean, nil)
	want := clean.chat.texts()
	if len(want) < 4 {
		t.Fatalf("the clean thread has %d messages: the test proves nothing", len(want))
	}

	t.Run("refused after the first message", func(t *testing.T) {
		r := newThreadRig(t, n)
		r.chat.allow = 1
		feed(r, func(round int) {
			if round == 12 {
				r.chat.allow = -1 // chat is back; the retry timer (or any notice) flushes again
			}
		})
		got := r.chat.texts()
		if len(got) < 3 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("thread after the outage does not start with the scope notice and the digest chat refused:\n%s",
				strings.Join(got, "\n---\n"))
		}
		// Later digests may be cut elsewhere than without the outage (they were not due before it ended).
		if total, _ := confirmedCounts(t, got, n); total != n || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("thread after the outage reports %d confirmations, want each of %d once:\n%s", total, n, strings.Join(got, "\n---\n"))
		}
	})
	t.Run("an answer lost after posting, then a restart", func(t *testing.T) {
		r := newThreadRig(t, n)
		feed(r, func(round int) {
			switch round {
			case 5:
				r.chat.lost = true
			case 9:
				r.app = r.newApp()
			}
		})
		got := r.chat.texts()
		if len(got) != len(want)+1 {
			t.Fatalf("%d messages, want %d and one repeated:\n%s", len(got), len(want), strings.Join(got, "\n---\n"))
		}
		repeats := 0
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				repeats++
			}
		}
		if repeats != 1 {
			t.Errorf("%d messages repeated, want the one whose answer was lost:\n%s", repeats, strings.Join(got, "\n---\n"))
		}
		total, _ := confirmedCounts(t, slices.Compact(slices.Clone(got)), n)
		if total != n {
			t.Errorf("confirmations add up to %d without the repeat, want %d", total, n)
		}
	})
}

// scopeParts splits a thread into the parts of its scope list and the news after them.
func scopeParts(thread []string) (parts, news []string) {
	for _, m := range thread {
		if strings.HasPrefix(m, "*Scope, users ") {
			parts = append(parts, m)
		} else {
			news = append(news, m)
		}
	}
	return parts, news
}
