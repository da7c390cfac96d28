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

// threadLock serialises flushes of one request's thread, so two notices in quick succession post each event once
// and in order.
func (a *App) threadLock(id string) *sync.Mutex {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.threadMu == nil {
		a.threadMu = make(map[string]*sync.Mutex)
	}
	m, ok := a.threadMu[id]
	if !ok {
		m = new(sync.Mutex)
		a.threadMu[id] = m
	}
	return m
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
	if req.Status.Final() && a.now().Sub(req.FinishedAt) > threadKeep {
		a.Log.Warn("giving up on thread replies of a long-finished request", "request", id)
		return nil
	}
	a.flushThread(ctx, id)
	return nil
}

// threadPost is one reply and the events it reports.
type threadPost struct {
	msg    Message
	minSeq int64
}

func (a *App) postThread(ctx context.Context, id string) error {
	lock := a.threadLock(id)
	lock.Lock()
	defer lock.Unlock()
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	m, ok := a.messenger(req.Message.Platform)
	if !ok || req.Message.ID == "" {
		return nil // no card, no thread (a withdrawn request); the audit log still has everything
	}
	name := threadCursor(id)
	cursor, err := a.Store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	var loc *time.Location
	var targets map[string]store.Target
	for {
		events, err := a.Store.EventsAfter(ctx, id, cursor, threadPage)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if targets == nil {
			all, err := a.Store.Targets(ctx, id)
			if err != nil {
				return err
			}
			targets = make(map[string]store.Target, len(all))
			for _, t := range all {
				targets[t.UserID] = t
			}
			loc = a.location(ctx, req.Message.Platform, req.Requester.ID)
		}
		posts := threadPosts(req, events, targets, loc)
		for i, p := range posts {
			if _, err := m.Reply(ctx, req.Message, p.msg); err != nil {
				return fmt.Errorf("reply in thread: %w", err)
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

// threadPosts groups a page of audit events into replies, one kind of news at a time, in the order each kind
// first appears.
func threadPosts(req store.Request, events []store.Event, targets map[string]store.Target, loc *time.Location) []threadPost {
	type group struct {
		kind    revocation.NoticeKind
		minSeq  int64
		targets []store.Target
		seqs    []int64 // seqs[i] is the event that put targets[i] here
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
	for _, ev := range events {
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
			}
			continue
		}
		switch ev.Type {
		case revocation.EventDeadline:
			add(revocation.NoticeRevoked, ev.Seq, nil)
		case revocation.EventTokensExpired:
			add(revocation.NoticeTokensExpired, ev.Seq, nil)
		}
	}
	var out []threadPost
	for _, g := range order {
		members := g.targets
		if g.kind == revocation.NoticeTokensExpired {
			members = nil
			for _, t := range targets {
				if t.Status == store.TargetTokensExpired {
					members = append(members, t)
				}
			}
		}
		for i, msg := range threadNotice(req, g.kind, members, loc) {
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
