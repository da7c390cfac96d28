package graph

import (
	"context"
	"testing"
	"time"
)

// waitQueued waits until k has n goroutines waiting for a turn, so the test knows the order they queued in.
func waitQueued(t *testing.T, p *pacer, k *paceKey, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.turnMu.Lock()
		got := len(k.waiters)
		p.turnMu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPacerTurnsRoundRobin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := newPacer(1e6, batchLimit)
	big, small := p.join(), p.join()
	if err := p.acquire(ctx, big); err != nil { // big's first worker holds the turn
		t.Fatal(err)
	}
	order := make(chan string, 8)
	take := func(k *paceKey, name string) {
		if err := p.acquire(ctx, k); err != nil {
			t.Error(err)
			return
		}
		order <- name
		p.release()
	}
	for i := range 3 {
		go take(big, "big")
		waitQueued(t, p, big, i+1)
	}
	// A waiter that gives up must not keep its place, nor swallow the turn.
	gone, giveUp := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- p.acquire(gone, small) }()
	waitQueued(t, p, small, 1)
	giveUp()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled waiter got the turn")
	}
	go take(small, "small")
	waitQueued(t, p, small, 1)

	p.release()
	var got []string
	for range 4 {
		got = append(got, <-order)
	}
	want := []string{"small", "big", "big", "big"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("turns went to %v, want %v: the small caller must come right after the turn in progress", got, want)
		}
	}
	p.leave(small)
	p.leave(big)
	if err := p.acquire(ctx, p.join()); err != nil { // the turn is free again
		t.Fatal(err)
	}
}
