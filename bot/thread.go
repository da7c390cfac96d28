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
	// leased serialises this process's flushes before they take the thread's lease, so that only another
	// replica's flush, never this one's, finds the thread busy.
	leased sync.Mutex
	mu     sync.Mutex
	fold   folding
	counts *countState // a large request's digests between flushes (guarded by mu)
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
	if err := a.postThreadLeased(ctx, id); err != nil {
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
	end      int64 // a large request's post reports every event after the previous one up to here
	file     *File // a large request's report: posted as a file instead of msg
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
	m = fenced(ctx, m)
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
		if cs := st.counts; cs != nil && cs.cursor == cursor {
			// A large request whose log this process has read beyond the cursor: read on from there.
			return a.postCounts(ctx, st, req, m, cursor, listed, nil)
		}
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
		// Counted by the store: a large request's thread never reads its whole scope (see threadScope).
		if large, err := a.largeThread(ctx, id); err != nil || large {
			if err != nil {
				return err
			}
			return a.postCounts(ctx, st, req, m, cursor, listed, events)
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

// countState is a large request's thread (see countsAbove) between flushes: the tally of what it has reported
// up to its cursor, and the digest of the news after it not posted yet, so that a flush reads only the events
// that are new. All of it comes from the audit log: after a restart or a failed reply it is built again from
// there (countsAt), so it can be lost at any time.
type countState struct {
	cursor  int64   // the thread cursor it is in step with
	read    int64   // the events up to here are in through or open
	through tally   // reported by the posts up to cursor
	open    *digest // news after cursor, not posted yet (nil: none)
	share   int     // countsShare of the scope, in users
	wakeAt  time.Time
}

// postCounts posts a large request's thread: each post is a digest of the per-user news since the previous
// post, or a request-level event, or the scope notice, and covers a contiguous stretch of the audit log that
// starts right after the cursor; the cursor moves to its end once it is posted. So a crash between posting and
// moving the cursor repeats that one post, and every count is posted, once, in order. events is the first
// page after cursor, read before targets (both nil when this process has read the log beyond cursor).
func (a *App) postCounts(ctx context.Context, st *threadState, req store.Request, m Messenger, cursor, listed int64,
	events []store.Event) error {
	id := req.ID
	name, listName, nextName := threadCursor(id), threadCursor(id)+":list", threadCursor(id)+":next"
	// A user's reason is their target's detail, read after the events that report it; only the users the events
	// name are read, and the scope as counts (threadScope).
	byID, err := a.eventTargets(ctx, id, events)
	if err != nil {
		return err
	}
	scope, err := a.threadScope(ctx, req, events, m)
	if err != nil {
		return err
	}
	cs := st.counts
	st.counts = nil // kept only if this flush goes through: a failed one leaves the stretch to be read again
	if cs == nil || cs.cursor != cursor {
		through, err := a.countsAt(ctx, id, cursor)
		if err != nil {
			return err
		}
		cs = &countState{cursor: cursor, read: cursor, through: through, share: countsShareOf(scope.total)}
	}
	if len(events) > 0 && events[0].Seq <= cs.read {
		events = nil // the memo has read them already; read on from cs.read below
	}
	// Where the post being made when the last flush stopped ends. A digest's end depends on when it was posted
	// (the trailing one goes when the news pauses), so after a lost answer the same stretch is cut at the same
	// place: the repeat is the same message, and no count is posted twice in two different ones.
	pin, err := a.Store.Cursor(ctx, nextName)
	if err != nil {
		return err
	}
	share := cs.share
	// Above countsAbove users the scope list and the final report are one file each, where the adapter can post
	// files; an adapter that cannot gets the scope list in parts, as before.
	fr, files := m.(FileReplier)
	var fileFor func(kind ReportKind, msg Message) *File
	if files {
		fileFor = func(kind ReportKind, msg Message) *File { return a.reportFile(req, kind, msg, scope.total) }
	}
	post := func(p threadPost) error {
		if err := a.Store.AdvanceCursor(ctx, nextName, p.end); err != nil {
			return err
		}
		var err error
		if p.file != nil {
			// The cursors move only once the upload went through, so a failed one is tried again by the
			// outbox like any reply; a crash after it repeats this one file.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(a.ChatTimeout, fileTimeout))
			_, err = fr.ReplyFile(cctx, req.Message, *p.file)
			cancel()
			if err != nil {
				return fmt.Errorf("file in thread: %w", err)
			}
		} else {
			cctx, cancel := a.chatContext(ctx)
			_, err = m.Reply(cctx, req.Message, p.msg)
			cancel()
			if err != nil {
				return fmt.Errorf("reply in thread: %w", err)
			}
		}
		if p.listPart > 0 {
			if err := a.Store.AdvanceCursor(ctx, listName, int64(p.listPart)); err != nil {
				return err
			}
		}
		if err := a.Store.AdvanceCursor(ctx, name, p.end); err != nil {
			return err
		}
		cs.cursor = p.end
		return nil
	}
	for {
		if len(events) == 0 {
			var err error
			if events, err = a.Store.EventsAfter(ctx, id, cs.read, threadPage); err != nil {
				return err
			}
			if len(events) == 0 {
				break
			}
			// The state read after the events is at least as new as they are (see postThread).
			if req, err = a.Store.GetRequest(ctx, id); err != nil {
				return err
			}
			if byID, err = a.eventTargets(ctx, id, events); err != nil {
				return err
			}
			if scope, err = a.threadScope(ctx, req, events, m); err != nil {
				return err
			}
		}
		for _, p := range cs.feed(req, events, byID, scope, listed, share, pin, fileFor) {
			if err := post(p); err != nil {
				return err
			}
		}
		events = nil
		if cs.open == nil && cs.read > cs.cursor {
			// Nothing in the stretch to say (revocations, approvals): done with it.
			if err := a.Store.AdvanceCursor(ctx, name, cs.read); err != nil {
				return err
			}
			cs.cursor = cs.read
		}
	}
	if d := cs.open; d != nil {
		// Whether to post now depends on the state now: scope was counted after the last events read.
		now := a.now()
		if d.ready(share, now, scope.settled) {
			if err := post(threadPost{msg: d.message(cs.through, scope.o.users), end: d.end}); err != nil {
				return err
			}
			cs.through.confirmed += d.counts.confirmed
			cs.through.settled += d.counts.settled
			cs.open = nil
		} else if wake := d.wake(share); cs.wakeAt.IsZero() || !cs.wakeAt.After(now) || wake.Before(cs.wakeAt) {
			// Nothing else may flush the thread once the news stops: the timer posts the digest then.
			if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerThread, RequestID: id, Due: wake}); err != nil {
				return err
			}
			cs.wakeAt = wake
		}
	}
	st.counts = cs
	return nil
}

// feed turns events (in order, after cs.read) into the posts they make; the per-user news after the last of
// them stays in cs.open. A post was cut at pin before (see postCounts): it is cut there again. fileFor makes a
// report file (nil: the adapter takes no files).
func (cs *countState) feed(req store.Request, events []store.Event, byID map[string]store.Target, scope *threadScope,
	listed int64, share int, pin int64, fileFor func(ReportKind, Message) *File) []threadPost {
	var out []threadPost
	users := scope.o.users
	flush := func() {
		if d := cs.open; d != nil {
			out = append(out, threadPost{msg: d.message(cs.through, users), end: d.end})
			cs.through.confirmed += d.counts.confirmed
			cs.through.settled += d.counts.settled
			cs.open = nil
		}
	}
	for _, ev := range events {
		cs.read = ev.Seq
		var msgs []Message
		listPart := 0
		switch {
		case revocation.IsUserEvent(ev):
			kind := userNews(ev)
			t, ok := byID[ev.Actor.ID]
			if kind == "" || !ok {
				break
			}
			if cs.open == nil {
				cs.open = &digest{}
			}
			cs.open.add(kind, t, ev)
			if cs.open.closes(share, ev.At) || ev.Seq == pin {
				flush()
			}
			continue
		case ev.Type == store.EventRequested && fileFor != nil:
			// Everyone in scope is listed before anyone approves, whatever the size: approvers must be able to
			// see every name. One file, not a message per listChunk users (1,000 of them for 100,000 users).
			flush()
			out = append(out, threadPost{file: fileFor(ReportScope, scopeFileMessage(req, scope.total)), end: ev.Seq})
			continue
		case (ev.Type == revocation.EventDone || ev.Type == revocation.EventFailed) && fileFor != nil:
			// The request has ended: everyone's outcome in one file, which carries the news of the end (a
			// failed request's reason) so that the event makes one post, covered by one cursor step.
			flush()
			msg := finalFileMessage(req, requestNews(req, ev, scope), scope.total)
			out = append(out, threadPost{file: fileFor(ReportFinal, msg), end: ev.Seq})
			continue
		case ev.Type == store.EventRequested:
			// Without files, the scope goes in parts: approvers must be able to see every name.
			flush()
			parts := fullList(scope.all)
			for i, msg := range parts {
				if int64(i) < listed {
					continue
				}
				// Only the last part covers the event: the thread's cursor must not pass it while parts remain,
				// or a refused part would never be posted.
				end := ev.Seq - 1
				if i == len(parts)-1 {
					end = ev.Seq
				}
				out = append(out, threadPost{msg: msg, end: end, listPart: i + 1})
			}
			continue
		default:
			msgs = requestNews(req, ev, scope)
		}
		if len(msgs) == 0 {
			if cs.open != nil {
				cs.open.end = ev.Seq // silent: part of the open digest's stretch
				if ev.Seq == pin {
					flush()
				}
			}
			continue
		}
		flush() // the news before it goes first
		for _, msg := range msgs {
			out = append(out, threadPost{msg: msg, end: ev.Seq, listPart: listPart})
		}
	}
	return out
}

// requestNews is what a request-level event says in the thread, in the same words as a small request's.
func requestNews(req store.Request, ev store.Event, scope *threadScope) []Message {
	switch ev.Type {
	case revocation.EventDeadline:
		return threadNotice(req, revocation.NoticeRevoked, nil, nil)
	case revocation.EventTokensExpired:
		return []Message{tokensExpiredNotice(req, scope.o, scope.rest)}
	}
	if icon, ok := infoIcon[ev.Type]; ok {
		return []Message{textMessage(icon + " " + capital(ev.Detail))}
	}
	return nil
}

// countsAt is what a large request's thread reported up to cursor, counted from the audit log (after a restart:
// once per request).
func (a *App) countsAt(ctx context.Context, id string, cursor int64) (tally, error) {
	var c tally
	for after := int64(0); after < cursor; {
		events, err := a.Store.EventsAfter(ctx, id, after, threadPage)
		if err != nil || len(events) == 0 {
			return c, err
		}
		byID, err := a.eventTargets(ctx, id, events)
		if err != nil {
			return c, err
		}
		for _, ev := range events {
			if ev.Seq > cursor {
				return c, nil
			}
			if t, ok := byID[ev.Actor.ID]; ok && revocation.IsUserEvent(ev) {
				if kind := userNews(ev); kind != "" {
					c.count(kind, t)
				}
			}
		}
		after = events[len(events)-1].Seq
	}
	return c, nil
}
