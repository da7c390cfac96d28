package demo_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/console"
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

// A scope above the quorum size needs two approvers besides the requester; the demo seeds enough admins for a
// rehearsal at real scale to go through, and one approval alone does not start it.
func TestDemoQuorumScopeNeedsTwoMoreAdmins(t *testing.T) {
	d, err := demo.Start(context.Background(), demo.Options{Listen: "127.0.0.1:0", Data: t.TempDir(),
		Tenant:        graphtest.Options{Users: 20, BigGroupSize: 150, ReplicationDelay: 100 * time.Millisecond},
		TokenLifetime: 2 * time.Second, VerifyBackoff: []time.Duration{200 * time.Millisecond}, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	send := func(path, body string) {
		t.Helper()
		resp, err := http.Post(d.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		d.Console.Wait()
	}
	card := func() (id, msg, text string) {
		t.Helper()
		// The card is the one shared message; Alice may also have private notices from the bot.
		var cards []console.Message
		for _, m := range d.Console.Snapshot("UALICE").Messages {
			if m.For == "" {
				cards = append(cards, m)
			}
		}
		if len(cards) != 1 {
			t.Fatalf("%d shared messages, want the one card: %+v", len(cards), cards)
		}
		f := strings.Fields(cards[0].Text) // "Sign-out request R… (…)"
		return f[2], cards[0].ID, cards[0].Text
	}
	send("api/command", `{"User":"UALICE","Text":"group `+graphtest.GroupBig+`","ID":"q1"}`)
	id, msg, _ := card()
	approve := func(user string) {
		send("api/action", `{"User":"`+user+`","Action":"approve","Value":"`+id+`","Message":"`+msg+`","ID":"`+user+`"}`)
	}
	approve("UBOB")
	time.Sleep(200 * time.Millisecond)
	if n := len(d.Tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations after one approval of a 150-user scope", n)
	}
	approve("UCAROL")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, text := card()
		if strings.Contains(text, "(done)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after two approvals: %s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(d.Tenant.Revocations()); n != 150 {
		t.Errorf("%d revocations, want 150", n)
	}
}
