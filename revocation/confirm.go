package revocation

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
)

// Confirmations as they happen. A run revokes at Graph's write ceiling (20 users/s), so revoking 100,000 users
// takes 83 minutes; if read-backs waited for the last revocation, the first "sessions invalid" would too. A
// run's confirmer therefore reads back, while the run still revokes, the users it has already revoked, and
// stores each confirmation at once. Reads spend Graph's read budget (8,000 units per 10 s, 1 unit a user),
// never the write budget that paces the revocations.
//
// The confirmer only ever confirms a user (or finds them deleted): a read that does not show the revocation yet
// costs the user nothing. The bounded passes that end in "could not confirm" are Verify's, which start, as
// before, once every revocation is sent and read back whoever is still open.
//
// Reads stay bounded however long the run and whatever Graph shows: during the run each user is read at most
// MaxVerifyPasses times, first ConfirmAfter after its revocation and then after Verify's back-off; once every
// revocation is sent, the users never read yet are read once more (the last pass); and one pass reads at most
// confirmBatch users, ConfirmEvery apart, which keeps the confirmer well inside the read budget.

// confirmBatch bounds the users one pass of a run's confirmer reads: with passes a second apart, about half of
// Graph's read budget, leaving the rest to everything else that reads (scopes, status look-ups, other runs).
const confirmBatch = 400

// confirmQueue bounds the users a run's confirmer keeps in memory. At Graph's real write ceiling it never fills
// (20 revocations per second, read back half a second later, up to confirmBatch a pass); against a faster tenant,
// or with Graph slow to show revocations, the users revoked while it is full are left to Verify, whose passes
// start once every revocation is sent and read back everyone still open. So a 100,000-user run holds at most
// this many users here, never the scope.
const confirmQueue = 10 * confirmBatch

func (r *Runner) confirmAfter() time.Duration {
	if r.ConfirmAfter == 0 {
		return 500 * time.Millisecond
	}
	return r.ConfirmAfter
}

func (r *Runner) confirmEvery() time.Duration {
	if r.ConfirmEvery > 0 {
		return r.ConfirmEvery
	}
	return time.Second
}

// passLock serialises one request's verification passes in this process, a run's and Verify's: two passes over
// the same revoked users would confirm them twice. (Other processes are kept out by the request's lease.) gen
// counts Verify's passes, so a run's confirmer knows when its picture of who is still open may be stale.
type passLock struct {
	sync.Mutex
	gen  atomic.Uint64 // bumped by Verify while it holds the lock; read without it
	refs int           // holders and waiters, so the entry goes once nobody needs it (guarded by Runner.mu)
}

// passEntry is the request's passLock, held (refs) until the returned func is called.
func (r *Runner) passEntry(id string) (*passLock, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.passes == nil {
		r.passes = make(map[string]*passLock)
	}
	pl, ok := r.passes[id]
	if !ok {
		pl = new(passLock)
		r.passes[id] = pl
	}
	pl.refs++
	return pl, func() {
		r.mu.Lock()
		if pl.refs--; pl.refs == 0 {
			delete(r.passes, id)
		}
		r.mu.Unlock()
	}
}

// lockPasses waits until no other verification pass of the request runs in this process, and holds it off
// until the returned func is called.
func (r *Runner) lockPasses(id string) (*passLock, func()) {
	pl, drop := r.passEntry(id)
	pl.Lock()
	return pl, func() {
		pl.Unlock()
		drop()
	}
}

// confirmer reads back the users a run has revoked while the run goes on (see above). It runs in one goroutine
// and stops when the run does: halt, finish, or the run's context ending.
type confirmer struct {
	r   *Runner
	id  string
	ctx context.Context

	// entry is held for the confirmer's life, so its generation is not reset under it.
	entry *passLock
	drop  func()

	mu       sync.Mutex
	open     map[string]*reading // revoked, not yet confirmed, by user id
	last     bool                // finish was asked for: one last pass before stopping
	gen      uint64              // the passLock generation open is in step with
	stale    bool                // users were added whose rows a pass of Verify may have moved on since
	reported bool                // a failed read has been reported in this run (once is news; more is noise)
	full     int                 // users not taken because open was full: Verify reads them back after the run

	kick     chan struct{} // users were added: the next read may be due sooner
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// reading is one revoked user the confirmer still waits to see confirmed. Times are the host's monotonic clock:
// they pace reads in real time, as the run itself is paced, and are never stored.
type reading struct {
	t       store.Target
	revoked time.Time
	due     time.Time
	reads   int
}

// startConfirming starts the confirmer of a run; nil (confirmations only once every revocation is sent) when
// ConfirmAfter is negative. Every method is safe on nil.
func (r *Runner) startConfirming(ctx context.Context, id string) *confirmer {
	if r.ConfirmAfter < 0 {
		return nil
	}
	c := &confirmer{r: r, id: id, ctx: ctx, open: make(map[string]*reading),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.entry, c.drop = r.passEntry(id)
	c.gen = c.entry.gen.Load()
	go c.loop()
	return c
}

// generation is the count of Verify's passes of the request so far; send reads it before it stores results.
func (c *confirmer) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.entry.gen.Load()
}

// add hands the confirmer users whose revocation is stored. Send never writes a revoked user again, and only
// verification passes, serialised by passLock, move one on, so the confirmer may write these rows. since is
// generation() from before they were stored: if Verify ran a pass since, it may have settled them already, and
// the next pass reloads them from the store first.
func (c *confirmer) add(targets []store.Target, firstRead time.Duration, since uint64) {
	if c == nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entry.gen.Load() != since {
		c.stale = true
	}
	for _, t := range targets {
		if t.Status != store.TargetRevoked {
			continue
		}
		if _, ok := c.open[t.UserID]; !ok && len(c.open) >= confirmQueue {
			c.full++
			continue // left to Verify (see confirmQueue)
		}
		c.open[t.UserID] = &reading{t: t, revoked: now, due: now.Add(firstRead)}
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// halt stops the confirmer without a last pass (the run failed or ended early) and waits for it.
func (c *confirmer) halt() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

// finish stops the confirmer once every revocation is sent: it first reads back, once, every user it has not
// read yet, as soon as the newest of them has had time to show (see lastPass), then waits for it.
func (c *confirmer) finish() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.last = true
	c.mu.Unlock()
	c.halt()
}

// loop runs a pass whenever a user's read is due, but passes at least ConfirmEvery apart, so that the reads of
// a second's revocations share $batch requests.
func (c *confirmer) loop() {
	defer close(c.done)
	defer c.drop()
	defer func() {
		c.mu.Lock()
		full := c.full
		c.mu.Unlock()
		if full > 0 {
			c.r.Log.Info("confirm during the run: queue was full; Verify reads the rest back", "request", c.id, "users", full,
				"queue", confirmQueue)
		}
	}()
	every := c.r.confirmEvery()
	var last time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var wake <-chan time.Time
		if due, ok := c.nextDue(); ok {
			timer.Reset(time.Until(later(due, last.Add(every))))
			wake = timer.C
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.stop:
			c.mu.Lock()
			finish := c.last
			c.mu.Unlock()
			if finish {
				c.lastPass()
			}
			return
		case <-c.kick:
			timer.Stop()
		case <-wake:
			last = time.Now()
			c.pass(false)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextDue is when the next read of a user falls due during the run (ok false: none is to be read again).
func (c *confirmer) nextDue() (due time.Time, ok bool) {
	limit := c.r.maxVerifyPasses()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rd := range c.open {
		if rd.reads < limit && (!ok || rd.due.Before(due)) {
			due, ok = rd.due, true
		}
	}
	return due, ok
}

// lastPass reads back every user not read during the run, once the newest of them was revoked at least
// ConfirmAfter ago — but never waiting longer than Verify's first back-off, as Verify would read them again then
// anyway. Without it the users revoked in the run's last second would wait for Verify's back-off.
func (c *confirmer) lastPass() {
	wait := min(c.r.confirmAfter(), c.r.backoff(0))
	var newest time.Time
	c.mu.Lock()
	for _, rd := range c.open {
		if rd.reads == 0 && rd.revoked.After(newest) {
			newest = rd.revoked
		}
	}
	c.mu.Unlock()
	if newest.IsZero() {
		return
	}
	if d := time.Until(newest.Add(wait)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
	c.pass(true)
}

// pass reads back the users due (last: those never read) and stores what Graph confirms.
func (c *confirmer) pass(last bool) {
	pl, unlock := c.r.lockPasses(c.id)
	defer unlock()
	c.mu.Lock()
	stale := c.stale || pl.gen.Load() != c.gen
	c.mu.Unlock()
	if stale {
		// Verify ran a pass of this request meanwhile (called directly, beside the run): the store knows
		// better than this confirmer who is still open. (Never in the scheduler, which runs one handler of a
		// request at a time.)
		gen := pl.gen.Load() // stable: Verify bumps it only while it holds pl
		if err := c.resync(); err != nil {
			c.r.Log.Warn("confirm during the run: reload targets", "request", c.id, "err", err)
			return
		}
		c.mu.Lock()
		c.gen, c.stale = gen, false
		c.mu.Unlock()
	}
	limit := c.r.maxVerifyPasses()
	now := time.Now()
	c.mu.Lock()
	var batch []*reading
	for _, rd := range c.open {
		if last && rd.reads == 0 || !last && rd.reads < limit && !now.Before(rd.due) {
			batch = append(batch, rd)
		}
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	// Longest waiting first, so a pass cut at confirmBatch leaves the newest for the next one.
	slices.SortFunc(batch, func(a, b *reading) int { return a.due.Compare(b.due) })
	if !last && len(batch) > confirmBatch {
		batch = batch[:confirmBatch]
	}
	ids := make([]string, len(batch))
	for i, rd := range batch {
		ids[i] = rd.t.UserID
	}
	states, _ := c.r.Dir.SessionsValidFrom(c.ctx, ids) // a failed read is in its state
	if c.ctx.Err() != nil {
		return
	}
	req, err := c.r.Store.GetRequest(c.ctx, c.id)
	if err != nil {
		c.r.Log.Warn("confirm during the run: read request", "request", c.id, "err", err)
		return
	}
	stamp := c.r.now()
	var changed []store.Target
	var events []store.Event
	var settled []*reading
	confirmed, failed, readFailures := 0, 0, 0
	var readErr error
	c.mu.Lock()
	for i, st := range states {
		rd := batch[i]
		t, v, ev := c.r.judge(req, rd.t, st, stamp, false)
		switch v {
		case verdictConfirmed:
			confirmed++
		case verdictGone:
			failed++
		default:
			if st.Err != nil {
				readFailures++
				readErr = st.Err
			}
			rd.reads++
			rd.due = time.Now().Add(c.r.backoff(rd.reads - 1))
			continue
		}
		changed = append(changed, t)
		events = append(events, *ev)
		settled = append(settled, rd)
	}
	report := readFailures > 0 && !c.reported
	c.reported = c.reported || report
	c.mu.Unlock()
	if report {
		events = append(events, store.Event{At: stamp, RequestID: c.id, Type: EventReadFailed,
			Detail: fmt.Sprintf("could not read %d of %d users back from Graph while revoking (%v); I keep reading them back, "+
				"during the run and after it", readFailures, len(ids), readErr)})
	}
	if len(events) == 0 {
		return
	}
	if err := store.Fence(c.ctx); err != nil {
		c.r.Log.Error("confirm during the run: not recorded", "request", c.id, "err", err)
		return
	}
	// The run's context may end now; what Graph confirmed is still worth keeping.
	if err := c.r.Store.UpdateTargets(context.WithoutCancel(c.ctx), changed, events...); err != nil {
		c.r.Log.Error("confirm during the run: persist", "request", c.id, "err", err)
		return
	}
	c.mu.Lock()
	for _, rd := range settled {
		delete(c.open, rd.t.UserID)
	}
	c.mu.Unlock()
	if confirmed > 0 {
		c.r.notify(c.ctx, Notice{Kind: NoticeConfirmed, RequestID: c.id})
	}
	if failed > 0 {
		c.r.notify(c.ctx, Notice{Kind: NoticeFailed, RequestID: c.id})
	}
	if report {
		c.r.notify(c.ctx, Notice{Kind: NoticeInfo, RequestID: c.id})
	}
}

// resync drops the users a pass outside the run has settled, and takes the stored rows of the rest. It reads
// the scope a page at a time: only the confirmer's own users are kept.
func (c *confirmer) resync() error {
	for after := -1; ; {
		page, err := c.r.Store.TargetsPage(c.ctx, c.id, after, c.r.pageSize())
		if err != nil {
			return err
		}
		c.mu.Lock()
		for _, t := range page {
			rd, ok := c.open[t.UserID]
			switch {
			case !ok:
			case t.Status != store.TargetRevoked:
				delete(c.open, t.UserID)
			default:
				rd.t = t
			}
		}
		c.mu.Unlock()
		if len(page) < c.r.pageSize() {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// verdict is what one read-back says of a revoked user.
type verdict int

const (
	verdictOpen      verdict = iota // Graph does not show the revocation yet, or could not be read: read again
	verdictConfirmed                // sessions invalid (or, after the deadline, access tokens expired)
	verdictGone                     // deleted after the revocation: failed
	verdictGaveUp                   // Verify's last pass still did not see it: unconfirmed
)

// judge applies one read-back to a revoked target: the rule behind "sessions invalid", compared on Graph's own
// clock (Target.GraphRevokedAt), never the bot's. counted says the read is one of Verify's bounded passes: a
// miss is counted on the target, and the last one gives up. A run's own read-backs are not counted: a miss
// leaves the target as it is. The event is set for every verdict but verdictOpen.
func (r *Runner) judge(req store.Request, t store.Target, st graph.SessionState, now time.Time, counted bool) (store.Target, verdict, *store.Event) {
	v := verdictOpen
	switch {
	case st.Err != nil:
		if !counted {
			return t, verdictOpen, nil
		}
		t.VerifyPasses++
	case !st.Found:
		t.Status, t.Detail = store.TargetFailed, "deleted after revocation: cannot confirm"
		v = verdictGone
	case !st.SessionsValidFrom.IsZero() && !st.SessionsValidFrom.Before(t.GraphRevokedAt):
		t.Status, t.SessionsValidFrom, t.ConfirmedAt = store.TargetSessionsInvalid, st.SessionsValidFrom, now
		if !req.TokensExpireAt.IsZero() && !now.Before(req.TokensExpireAt) {
			// Confirmed only after the deadline notice: the tokens are already past their lifetime.
			t.Status = store.TargetTokensExpired
		}
		v = verdictConfirmed
	default:
		if !counted {
			return t, verdictOpen, nil
		}
		t.SessionsValidFrom = st.SessionsValidFrom
		t.VerifyPasses++
	}
	if counted && v == verdictOpen && t.VerifyPasses >= r.maxVerifyPasses() {
		t.Status, t.Detail = store.TargetUnconfirmed, unconfirmedDetail(t, st)
		v = verdictGaveUp
	}
	t.UpdatedAt = now
	switch v {
	case verdictOpen:
		return t, v, nil
	case verdictConfirmed:
		return t, v, &store.Event{At: now, RequestID: req.ID, Type: string(t.Status), Actor: UserActor(t),
			Detail: fmt.Sprintf("%s: signInSessionsValidFromDateTime %s, at or after the revocation (Graph's clock, at least %s)",
				t.UPN, st.SessionsValidFrom.Format(time.RFC3339), t.GraphRevokedAt.Format(time.RFC3339))}
	}
	return t, v, &store.Event{At: now, RequestID: req.ID, Type: string(t.Status), Actor: UserActor(t), Detail: t.UPN + ": " + t.Detail}
}
