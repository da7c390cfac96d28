package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// TimerThread retries thread replies that chat did not take (an outage, a rate limit that outlasted the
// adapter's patience).
const TimerThread = "thread"

// threadKeep is how long after a request finished its thread is still caught up (older news would only confuse
// the channel); threadPage bounds the events rendered at once.
const (
	threadKeep = 24 * time.Hour
	threadPage = 2000
)

// The thread under a request's card is an outbox over the audit log: every reply is rendered from events the
// runner stored, and a cursor records how far the thread has got. A crash between storing news and posting it
// therefore loses nothing — the next flush (a later notice, the retry timer or start-up) posts it — and a crash
// between posting and advancing the cursor repeats at most that one message.
func threadCursor(requestID string) string { return "thread:" + requestID }

// threadState is one request's thread flusher: mu serialises flushes so each event is posted once and in order;
// kicks that arrive during a flush fold into one more pass.
type threadState struct {
	mu   sync.Mutex
	fold folding
}

func (a *App) thread(id string) *threadState {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.threads == nil {
		a.threads = make(map[string]*threadState)
	}
	st, ok := a.threads[id]
	if !ok {
		st = new(threadState)
		a.threads[id] = st
	}
	return st
}

// kickThread flushes the request's thread in the background. The runner calls it through Notify, and must not
// wait for chat: a long scope list or Slack's one-message-a-second limit would otherwise hold up revocations.
func (a *App) kickThread(ctx context.Context, id string) {
	a.fold(&a.thread(id).fold, func() { a.flushThread(ctx, id) })
}

// flushThread posts whatever the request's audit log holds beyond its thread cursor. On failure it leaves a
// persisted retry timer, so the news arrives once chat is back, even across a restart.
func (a *App) flushThread(ctx context.Context, id string) {
	if err := a.postThread(ctx, id); err != nil {
		retry := a.ThreadRetry
		if retry <= 0 {
			retry = time.Minute
		}
		a.Log.Warn("thread replies", "request", id, "err", err, "retry_in", retry)
		if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerThread, RequestID: id, Due: a.now().Add(retry)}); err != nil {
			a.Log.Error("thread retry timer", "request", id, "err", err)
		}
	}
}

// retryThread is TimerThread's handler.
func (a *App) retryThread(ctx context.Context, id string) error {
	if err := a.Store.DeleteTimer(ctx, TimerThread, id); err != nil {
		return err
	}
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	ended := req.FinishedAt // done; denied, expired and cancelled requests end when decided
	if ended.IsZero() {
		ended = req.DecidedAt
	}
	if req.Status.Final() && a.now().Sub(ended) > threadKeep {
		a.Log.Warn("giving up on thread replies of a request that ended long ago", "request", id, "ended", ended)
		return nil
	}
	a.flushThread(ctx, id)
	return nil
}

// threadPost is one reply and the events it reports. A scope list spans many replies for one event, so each of
// its parts is numbered (listPart, from 1) and a second cursor keeps how many have been posted.
type threadPost struct {
	msg      Message
	minSeq   int64
	listPart int
}

func (a *App) postThread(ctx context.Context, id string) error {
	st := a.thread(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	m, ok := a.messenger(req.Message.Platform)
	if !ok || req.Message.ID == "" {
		return nil // no card, no thread (a withdrawn request); the audit log still has everything
	}
	name, listName := threadCursor(id), threadCursor(id)+":list"
	cursor, err := a.Store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	listed, err := a.Store.Cursor(ctx, listName)
	if err != nil {
		return err
	}
	for {
		events, err := a.Store.EventsAfter(ctx, id, cursor, threadPage)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		// Read the request and its targets after the events: each event was stored in the same transaction as
		// the state it reports (the deadline, a confirmation time), so that state is then at least as new.
		if req, err = a.Store.GetRequest(ctx, id); err != nil {
			return err
		}
		targets, err := a.Store.Targets(ctx, id)
		if err != nil {
			return err
		}
		posts := threadPosts(req, events, targets, int(listed))
		for i, p := range posts {
			cctx, cancel := a.chatContext(ctx)
			_, err := m.Reply(cctx, req.Message, p.msg)
			cancel()
			if err != nil {
				return fmt.Errorf("reply in thread: %w", err)
			}
			if p.listPart > 0 {
				if err := a.Store.AdvanceCursor(ctx, listName, int64(p.listPart)); err != nil {
					return err
				}
			}
			// Everything before the first event still to be posted is done.
			safe := events[len(events)-1].Seq
			for _, later := range posts[i+1:] {
				safe = min(safe, later.minSeq-1)
			}
			if err := a.Store.AdvanceCursor(ctx, name, safe); err != nil {
				return err
			}
		}
		cursor = events[len(events)-1].Seq
		if len(posts) == 0 {
			if err := a.Store.AdvanceCursor(ctx, name, cursor); err != nil {
				return err
			}
		}
	}
}

// infoIcon marks request-level news in the thread by its kind.
var infoIcon = map[string]string{
	revocation.EventLifetimeUnknown: "⚠️",
	revocation.EventBlocked:         "⛔",
	revocation.EventReadFailed:      "⚠️",
	revocation.EventFailed:          "❌ Failed:",
	revocation.EventLate:            "⏰ Late:",
	revocation.EventDrift:           "⚠️",
	revocation.EventReminder:        "⏰ Reminder:",
	revocation.EventEstimate:        "📏",
	revocation.EventPolicySet:       "🔧",
	revocation.EventPolicyReverted:  "↩️",
	revocation.EventPolicyStuck:     "⚠️",
	revocation.EventCrossCheck:      "🔎 Cross-check:",
}

// threadPosts groups a page of audit events into replies, one kind of news at a time, in the order each kind
// first appears. scope is the request's targets in order; listed is how many parts of the scope list are
// already in the thread.
func threadPosts(req store.Request, events []store.Event, scope []store.Target, listed int) []threadPost {
	targets := make(map[string]store.Target, len(scope))
	for _, t := range scope {
		targets[t.UserID] = t
	}
	type group struct {
		kind    revocation.NoticeKind
		minSeq  int64
		targets []store.Target
		seqs    []int64 // seqs[i] is the event that put targets[i] here
		text    string  // a request-level event told as it is (NoticeInfo)
	}
	var order []*group
	byKind := map[revocation.NoticeKind]*group{}
	add := func(kind revocation.NoticeKind, seq int64, t *store.Target) {
		g, ok := byKind[kind]
		if !ok {
			g = &group{kind: kind, minSeq: seq}
			byKind[kind] = g
			order = append(order, g)
		}
		if t != nil {
			g.targets = append(g.targets, *t)
			g.seqs = append(g.seqs, seq)
		}
	}
	var out []threadPost
	for _, ev := range events {
		if ev.Type == store.EventRequested && len(scope) > sampleSize {
			// The card lists a sample; the thread starts with everyone, so nothing is silently left out.
			for i, msg := range fullList(scope) {
				if i >= listed {
					out = append(out, threadPost{msg: msg, minSeq: ev.Seq, listPart: i + 1})
				}
			}
			continue
		}
		if revocation.IsUserEvent(ev) {
			t, ok := targets[ev.Actor.ID]
			if !ok {
				continue
			}
			switch store.TargetStatus(ev.Type) {
			case store.TargetFailed:
				add(revocation.NoticeFailed, ev.Seq, &t)
			case store.TargetExcluded:
				add(revocation.NoticeExcluded, ev.Seq, &t)
			case store.TargetSessionsInvalid, store.TargetTokensExpired:
				add(revocation.NoticeConfirmed, ev.Seq, &t)
			case store.TargetUnconfirmed:
				add(revocation.NoticeUnconfirmed, ev.Seq, &t)
			}
			continue
		}
		switch ev.Type {
		case revocation.EventDeadline:
			add(revocation.NoticeRevoked, ev.Seq, nil)
		case revocation.EventTokensExpired:
			add(revocation.NoticeTokensExpired, ev.Seq, nil)
		case revocation.EventLifetimeUnknown, revocation.EventBlocked, revocation.EventReadFailed, revocation.EventFailed,
			revocation.EventLate, revocation.EventDrift, revocation.EventReminder, revocation.EventEstimate,
			revocation.EventPolicySet, revocation.EventPolicyReverted, revocation.EventPolicyStuck, revocation.EventCrossCheck:
			// Each is news of its own, told in the words the runner stored.
			order = append(order, &group{kind: revocation.NoticeInfo, minSeq: ev.Seq, text: infoIcon[ev.Type] + " " + capital(ev.Detail)})
		}
	}
	for _, g := range order {
		if g.kind == revocation.NoticeInfo {
			out = append(out, threadPost{msg: textMessage(g.text), minSeq: g.minSeq})
			continue
		}
		members := g.targets
		if g.kind == revocation.NoticeTokensExpired {
			members = nil
			for _, t := range scope {
				if t.Status == store.TargetTokensExpired {
					members = append(members, t)
				}
			}
		}
		for i, msg := range threadNotice(req, g.kind, members, scope) {
			// A long list is split into messages of listChunk users in event order, so a crash after one of
			// them repeats nothing before it.
			p := threadPost{msg: msg, minSeq: g.minSeq}
			if g.seqs != nil && i*listChunk < len(g.seqs) {
				p.minSeq = g.seqs[i*listChunk]
			}
			out = append(out, p)
		}
	}
	return out
}
