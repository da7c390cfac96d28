package demo_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/demo"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// A second run on the same --data gets a new simulated tenant, so it must not resume the first run's requests
// against it (nor edit cards its page never showed); the first run's database stays for reading.
func TestEachRunHasItsOwnDatabase(t *testing.T) {
	data := t.TempDir()
	start := func() *demo.Demo {
		d, err := demo.Start(context.Background(), demo.Options{Listen: "127.0.0.1:0", Data: data,
			Tenant: graphtest.Options{Users: 20, BigGroupSize: 5}, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := start()
	resp, err := http.Post(first.URL+"api/command", "application/json",
		bytes.NewBufferString(`{"User":"UALICE","Text":"user lester@contoso.com","ID":"one"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	first.Console.Wait()
	if n := len(first.Console.Snapshot("UALICE").Messages); n != 1 {
		t.Fatalf("first run shows %d messages, want the request's card", n)
	}
	first.Close()

	second := start()
	t.Cleanup(second.Close)
	if second.DB == first.DB {
		t.Fatalf("both runs use %s", first.DB)
	}
	if n := len(second.Console.Snapshot("UALICE").Messages); n != 0 {
		t.Errorf("second run's page starts with %d messages", n)
	}
	count := func(path string) int {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		reqs, err := st.ListRequests(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(reqs)
	}
	if _, err := os.Stat(first.DB); err != nil {
		t.Fatalf("the first run's database is gone: %v", err)
	}
	if a, b := count(first.DB), count(second.DB); a != 1 || b != 0 {
		t.Errorf("requests: first run %d (want 1), second run %d (want 0)", a, b)
	}
}
