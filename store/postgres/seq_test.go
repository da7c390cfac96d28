package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
)

// TestSeqVisibleInCommitOrder is the outbox's guarantee under real concurrency: while many writers append
// events (through every kind of write that does), a reader that repeatedly reads EventsAfter(cursor) and
// advances its cursor to the last Seq it saw must end up having read every event exactly once. With Seq taken
// from a sequence at INSERT time, a writer that got a smaller Seq but commits later is skipped; the random
// pause before COMMIT makes that race likely rather than rare.
func TestSeqVisibleInCommitOrder(t *testing.T) {
	ctx := context.Background()
	d := openFresh(t, "pool_max_conns", "24")
	const (
		req     = "SEQ001"
		writers = 10
		perW    = 30
	)
	targets := make([]store.Target, writers)
	for i := range targets {
		targets[i] = store.Target{Seq: i, UserID: fmt.Sprintf("u%d", i), Status: store.TargetPending}
	}
	if _, err := d.CreateRequest(ctx, store.Request{ID: req, Status: store.StatusPending}, targets, "", store.Event{Type: store.EventRequested}); err != nil {
		t.Fatal(err)
	}
	// Each writer updates a request of its own (its events still go to req's log), so none loses a CAS.
	for w := range writers {
		if _, err := d.CreateRequest(ctx, store.Request{ID: fmt.Sprintf("SEQW%02d", w), Status: store.StatusPending}, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	d.beforeCommit = func() { time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond) }

	var (
		wg   sync.WaitGroup
		done atomic.Bool
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perW {
				ev := store.Event{RequestID: req, Type: fmt.Sprintf("w%d-%d", w, i)}
				var err error
				switch i % 5 {
				case 0, 1:
					err = d.AppendEvent(ctx, ev)
				case 2: // two events in one transaction
					tg := targets[w]
					tg.RequestID, tg.Attempts = req, i
					err = d.UpdateTargets(ctx, []store.Target{tg}, ev, store.Event{RequestID: req, Type: ev.Type + "b"})
				case 3:
					_, err = store.Modify(ctx, d, fmt.Sprintf("SEQW%02d", w), func(r store.Request) (store.Request, []store.Event, error) {
						r.Reason = ev.Type
						return r, []store.Event{ev}, nil
					})
				case 4:
					a := store.Approval{Actor: store.Actor{Platform: "slack", ID: ev.Type}}
					err = d.AddApproval(ctx, req, a, ev)
				}
				if err != nil {
					t.Errorf("writer %d step %d: %v", w, i, err)
					return
				}
				// Another request's events take Seq values too; the reader must not be confused by the gaps.
				if i%7 == 0 {
					if err := d.AppendEvent(ctx, store.Event{RequestID: "OTHER", Type: "noise"}); err != nil {
						t.Errorf("writer %d noise: %v", w, err)
						return
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()

	const cursorName = "thread:" + req
	var read []store.Event
	for {
		finished := done.Load() // read before the query, so the last pass sees every commit
		cursor, err := d.Cursor(ctx, cursorName)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := d.EventsAfter(ctx, req, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Seq <= cursor {
				t.Fatalf("EventsAfter(%d) returned Seq %d", cursor, ev.Seq)
			}
		}
		read = append(read, evs...)
		if len(evs) > 0 {
			if err := d.AdvanceCursor(ctx, cursorName, evs[len(evs)-1].Seq); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if finished {
			break
		}
	}

	all, err := d.Events(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + writers*perW + writers*perW/5; len(all) != want {
		t.Errorf("log holds %d events of %s, want %d", len(all), req, want)
	}
	seen := make(map[int64]bool, len(read))
	for _, ev := range read {
		if seen[ev.Seq] {
			t.Errorf("Seq %d read twice", ev.Seq)
		}
		seen[ev.Seq] = true
	}
	var skipped []string
	for _, ev := range all {
		if !seen[ev.Seq] {
			skipped = append(skipped, fmt.Sprintf("%d:%s", ev.Seq, ev.Type))
		}
	}
	if len(skipped) > 0 || len(read) != len(all) {
		t.Errorf("the cursor reader skipped %d of %d events (read %d): %v", len(skipped), len(all), len(read), skipped)
	}
	// And the whole log is gap-free: rollbacks (lost CAS attempts) return their numbers.
	everything, err := d.Events(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range everything {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has Seq %d; the log has gaps", i, ev.Seq)
		}
	}
}
