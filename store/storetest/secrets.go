package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/signoutbot/signoutbot/store"
)

// testSecrets: the first secret stored under a name is the one every later call (and every concurrent one) gets;
// names are independent.
func testSecrets(t *testing.T, s store.Store) {
	c := ctx(t)
	got, err := s.Secret(c, "file-link-key", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first" {
		t.Fatalf("Secret = %q, want the fresh value %q", got, "first")
	}
	if got, err = s.Secret(c, "file-link-key", []byte("second")); err != nil || string(got) != "first" {
		t.Fatalf("Secret again = %q, %v; want %q, the one stored first", got, err, "first")
	}
	if got, err = s.Secret(c, "other", []byte{0, 1, 2, 0xff}); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("Secret(other) = %v, %v; want its own bytes", got, err)
	}
	if _, err := s.Secret(c, "empty", nil); err == nil {
		t.Fatal("Secret with an empty value: no error")
	}
	// Replicas starting at once agree on one value.
	var wg sync.WaitGroup
	vals := make([][]byte, 8)
	errs := make([]error, len(vals))
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], errs[i] = s.Secret(c, "race", []byte(fmt.Sprintf("replica-%d", i)))
		}()
	}
	wg.Wait()
	for i := range vals {
		if errs[i] != nil {
			t.Fatalf("concurrent Secret %d: %v", i, errs[i])
		}
		if !bytes.Equal(vals[i], vals[0]) {
			t.Fatalf("concurrent Secret: replica %d got %q, replica 0 %q", i, vals[i], vals[0])
		}
	}
}
