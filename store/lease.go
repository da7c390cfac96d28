package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Lease is a named lease held while some work goes on (a run, a verification pass, a thread flush), renewed in
// the background. Its context ends when the lease is lost — another replica took it over after a renewal
// failed for longer than the TTL — so the work stops instead of running beside the new holder.
type Lease struct {
	store Store
	name  string
	owner string
	now   func() time.Time
	ttl   time.Duration
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// ErrLeaseLost is the cause of a held lease's context ending because someone else holds the lease now.
var ErrLeaseLost = errors.New("store: lease lost")

// HoldLease claims the lease name for a holder of base's (a replica's id) and renews it every ttl/3 until
// Release. Each hold has an owner of its own, so two pieces of work in one process exclude each other as two
// replicas do, and one's Release never frees the other's lease. ok is false when someone else holds it.
func HoldLease(ctx context.Context, s Store, name, base string, now func() time.Time, ttl time.Duration, log *slog.Logger) (*Lease, bool, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	owner := base + "/" + hex.EncodeToString(b[:])
	if log == nil {
		log = slog.Default()
	}
	ok, err := s.Claim(ctx, name, owner, now(), ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	l := &Lease{store: s, name: name, owner: owner, now: now, ttl: ttl, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(ctx)
	go l.renew()
	return l, true, nil
}

// Context ends when the lease is lost or released (or the parent ends).
func (l *Lease) Context() context.Context { return l.ctx }

// Owner is this hold's owner id, as stored in the lease.
func (l *Lease) Owner() string { return l.owner }

func (l *Lease) renew() {
	log := l.log
	defer close(l.done)
	t := time.NewTicker(max(l.ttl/3, time.Millisecond))
	defer t.Stop()
	held := l.now() // when the last successful claim was made
	for {
		select {
		case <-l.stop:
			return
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		at := l.now()
		ok, err := l.store.Claim(l.ctx, l.name, l.owner, at, l.ttl)
		switch {
		case err == nil && ok:
			held = at
		case err == nil:
			log.Error("lease lost: another holder has it; stopping the work", "lease", l.name, "owner", l.owner)
			l.cancel(ErrLeaseLost)
			return
		case at.Sub(held) >= l.ttl:
			// The store has been unreachable for a whole TTL: someone else may hold the lease by now.
			log.Error("lease could not be renewed within its TTL; stopping the work", "lease", l.name, "err", err)
			l.cancel(fmt.Errorf("%w: renewal failed for %s: %w", ErrLeaseLost, l.ttl, err))
			return
		default:
			log.Warn("lease renewal failed; retrying", "lease", l.name, "err", err)
		}
	}
}

// Check renews the lease now and reports whether it is still held: a fence before writing results that only the
// holder may write (another replica may have taken over while this one was paused).
func (l *Lease) Check(ctx context.Context) error {
	ok, err := l.store.Claim(ctx, l.name, l.owner, l.now(), l.ttl)
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", l.name, err)
	}
	if !ok {
		l.cancel(ErrLeaseLost)
		return fmt.Errorf("%s: %w", l.name, ErrLeaseLost)
	}
	return nil
}

// Release stops renewing and frees the lease if this hold still has it. It is safe to call more than once.
func (l *Lease) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.cancel(context.Canceled)
		if err := l.store.Release(context.WithoutCancel(l.ctx), l.name, l.owner); err != nil {
			l.log.Warn("release lease", "lease", l.name, "err", err)
		}
	})
}

type leaseKey struct{}

// WithLease makes l the fence of the work done with the returned context (see Fence).
func WithLease(ctx context.Context, l *Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// Fence checks, just before a result only the lease holder may record or announce, that the lease of ctx's work
// (WithLease) is still held: a replica paused past its lease (a stalled VM, a long GC) must not write or post
// what the replica that took over writes or posts too. Work without a lease passes. The check is not cancelled
// with ctx: what a run received before a shutdown is still recorded while its lease holds.
func Fence(ctx context.Context) error {
	if l, ok := ctx.Value(leaseKey{}).(*Lease); ok {
		return l.Check(context.WithoutCancel(ctx))
	}
	return nil
}
