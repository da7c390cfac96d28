package bot

import (
	"context"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// threadBusyRetry is how soon a replica looks at a thread again when another replica was flushing it: that one
// may have read the audit log just before the news that woke this one.
const threadBusyRetry = 2 * time.Second

func (a *App) leaseTTL() time.Duration {
	if a.LeaseTTL > 0 {
		return a.LeaseTTL
	}
	return revocation.DefaultLeaseTTL
}

func (a *App) owner() string {
	if a.Owner == "" {
		return "signoutbot"
	}
	return a.Owner
}

// postThreadLeased flushes a request's thread under the thread's lease, so that two replicas sharing a database
// never post the same reply: the other one leaves the thread to this one and looks again shortly.
func (a *App) postThreadLeased(ctx context.Context, id string) error {
	st := a.thread(id)
	st.leased.Lock()
	defer st.leased.Unlock()
	l, ok, err := store.HoldLease(ctx, a.Store, threadCursor(id), a.owner(), a.now, a.leaseTTL(), a.Log)
	if err != nil {
		return err
	}
	if !ok {
		return a.Store.SetTimer(ctx, store.Timer{Kind: TimerThread, RequestID: id, Due: a.now().Add(threadBusyRetry)})
	}
	defer l.Release()
	return a.postThread(store.WithLease(l.Context(), l), id)
}

// fenced checks the lease of ctx's work (store.Fence) before every reply m posts: a replica paused past its
// thread lease must not post what the replica that took over posts too.
func fenced(ctx context.Context, m Messenger) Messenger {
	f := fencedMessenger{Messenger: m, ctx: ctx}
	if fr, ok := m.(FileReplier); ok {
		return fencedFiles{fencedMessenger: f, files: fr}
	}
	return f
}

type fencedMessenger struct {
	Messenger
	ctx context.Context
}

func (f fencedMessenger) Reply(ctx context.Context, ref store.MessageRef, msg Message) (store.MessageRef, error) {
	if err := store.Fence(f.ctx); err != nil {
		return store.MessageRef{}, err
	}
	return f.Messenger.Reply(ctx, ref, msg)
}

type fencedFiles struct {
	fencedMessenger
	files FileReplier
}

func (f fencedFiles) ReplyFile(ctx context.Context, ref store.MessageRef, file File) (store.MessageRef, error) {
	if err := store.Fence(f.ctx); err != nil {
		return store.MessageRef{}, err
	}
	return f.files.ReplyFile(ctx, ref, file)
}
