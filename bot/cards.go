package bot

import (
	"context"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// cardState is one request's card editor: changes that arrive during an edit fold into one more edit, and last
// (guarded by App.mu) spaces edits out.
type cardState struct {
	fold   folding
	last   time.Time
	failed int // edits in a row the platform refused (see refresh)
}

// maxEditRetries bounds how often in a row a refused card edit is tried again: with the default MinEditInterval the
// pauses (2 s, 4 s, … up to a minute) add up to about four minutes, past the Retry-After Slack or Teams send, and a
// card whose message is gone is not tried for ever. Any later change of the request starts over.
const maxEditRetries = 8

// folding is a piece of background work for one request that is never run twice at once: asking for it while it
// runs makes it run once more afterwards, so bursts of news cost one pass each, never one goroutine each. Its
// fields are guarded by App.mu.
type folding struct{ running, again bool }

// fold runs work in the background now, or once more after the run in progress.
func (a *App) fold(f *folding, work func()) {
	a.mu.Lock()
	if f.running {
		f.again = true
		a.mu.Unlock()
		return
	}
	f.running = true
	a.mu.Unlock()
	go func() {
		for {
			work()
			a.mu.Lock()
			if !f.again {
				f.running = false
				a.mu.Unlock()
				return
			}
			f.again = false
			a.mu.Unlock()
		}
	}()
}

// chatContext bounds one call to a chat platform: a slow chat API must never hold up the caller for long.
func (a *App) chatContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := a.ChatTimeout
	if d <= 0 {
		d = 20 * time.Second
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Notify turns runner notices into card edits and thread replies. Both happen in the background, so Graph work
// never waits for chat. The replies are rendered from the audit log, not from the notice (see flushThread), so
// nothing the runner stored is lost if this process dies first.
func (a *App) Notify(ctx context.Context, n revocation.Notice) {
	a.refresh(ctx, n.RequestID)
	if n.Kind != revocation.NoticeProgress && n.Kind != revocation.NoticeStarted {
		a.kickThread(context.WithoutCancel(ctx), n.RequestID)
	}
}

// refresh re-renders a request's card from the store and edits it in place, in the background. Chat platforms
// rate-limit edits, so edits of one card are at least MinEditInterval apart and changes that arrive meanwhile
// are folded into one trailing edit showing the latest state. An edit the platform refused (a Retry-After longer
// than ChatTimeout, an outage) is tried again after a growing pause, so the card ends showing the final state
// even when the edit that would have shown it failed.
func (a *App) refresh(ctx context.Context, id string) {
	a.mu.Lock()
	if a.cards == nil {
		a.cards = make(map[string]*cardState)
	}
	st, ok := a.cards[id]
	if !ok {
		st = new(cardState)
		a.cards[id] = st
	}
	a.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	a.fold(&st.fold, func() {
		a.mu.Lock()
		wait := a.MinEditInterval - time.Since(st.last)
		a.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait)
		}
		a.mu.Lock()
		st.fold.again = false // this edit shows everything stored until now
		st.last = time.Now()
		a.mu.Unlock()
		ok := a.editCard(ctx, id)
		a.mu.Lock()
		if ok {
			st.failed = 0
			a.mu.Unlock()
			return
		}
		st.failed++
		failed := st.failed
		if failed > maxEditRetries {
			st.failed = 0 // given up: the next change starts over
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		time.Sleep(min(max(a.MinEditInterval, time.Millisecond)<<failed, time.Minute))
		a.mu.Lock()
		st.fold.again = true // the fold runs this work once more: the edit is tried again
		a.mu.Unlock()
	})
}

// editCard renders the stored state of a request onto its card. It reports false when the card may show an older
// state than the store: the store could not be read or the platform refused the edit.
func (a *App) editCard(ctx context.Context, id string) bool {
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		a.Log.Error("refresh", "request", id, "err", err)
		return false
	}
	m, ok := a.messenger(req.Message.Platform)
	if !ok || req.Message.ID == "" {
		return true
	}
	// Counts and a sample, never the whole scope: the card is redrawn about once a second during a run.
	v, err := a.storedView(ctx, req)
	if err != nil {
		a.Log.Error("refresh targets", "request", id, "err", err)
		return false
	}
	msg := a.renderView(ctx, req, v)
	cctx, cancel := a.chatContext(ctx)
	defer cancel()
	if err := m.Update(cctx, req.Message, msg); err != nil {
		a.Log.Warn("update message", "request", id, "err", err)
		return false
	}
	return true
}

// Card renders a request's card from the store as it stands now: what a platform that answers a click with the
// refreshed card (Teams' Action.Execute) sends back.
func (a *App) Card(ctx context.Context, id string) (Message, store.Request, error) {
	req, err := a.Store.GetRequest(ctx, id)
	if err != nil {
		return Message{}, store.Request{}, err
	}
	v, err := a.storedView(ctx, req)
	if err != nil {
		return Message{}, store.Request{}, err
	}
	return a.renderView(ctx, req, v), req, nil
}
