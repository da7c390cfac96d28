package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/console"
	"github.com/signoutbot/signoutbot/demo"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

func start(t *testing.T) *demo.Demo {
	t.Helper()
	d, err := demo.Start(context.Background(), demo.Options{Listen: "127.0.0.1:0", Data: t.TempDir(),
		Tenant: graphtest.Options{Users: 10, BigGroupSize: 5}, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func post(t *testing.T, d *demo.Demo, path, contentType, body string) int {
	t.Helper()
	resp, err := http.Post(d.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func state(t *testing.T, d *demo.Demo, viewer string) console.State {
	t.Helper()
	resp, err := http.Get(d.URL + "api/state?user=" + viewer)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st console.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCommandRequestsAreValidated(t *testing.T) {
	d := start(t)
	tests := []struct {
		name, contentType, body string
		want                    int
	}{
		{"form post from another page", "application/x-www-form-urlencoded", "User=UALICE&Text=group+Test", http.StatusUnsupportedMediaType},
		{"text/plain from another page", "text/plain", `{"User":"UALICE","Text":"group Test"}`, http.StatusUnsupportedMediaType},
		{"bad JSON", "application/json", `{"User":`, http.StatusBadRequest},
		{"unknown user", "application/json", `{"User":"UMALLORY","Text":"group Test"}`, http.StatusBadRequest},
		{"good", "application/json", `{"User":"UALICE","Text":"group Test","ID":"1"}`, http.StatusAccepted},
	}
	for _, tt := range tests {
		if got := post(t, d, "api/command", tt.contentType, tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	d.Console.Wait()
	st := state(t, d, "UBOB")
	if len(st.Messages) != 1 {
		t.Fatalf("%d messages after one accepted command", len(st.Messages))
	}
	card, _ := json.Marshal(st.Messages[0])
	for _, want := range []string{"Sign-out request", "Lester Tester", `"ID":"approve"`, `"ID":"deny"`} {
		if !strings.Contains(string(card), want) {
			t.Errorf("card lacks %s: %s", want, card)
		}
	}
}

func TestEphemeralsOnlyForTheirViewer(t *testing.T) {
	d := start(t)
	if got := post(t, d, "api/command", "application/json", `{"User":"UNINA","Text":"group Test","ID":"n1"}`); got != http.StatusAccepted {
		t.Fatal(got)
	}
	d.Console.Wait()
	nina := state(t, d, "UNINA")
	if len(nina.Messages) != 1 || !strings.Contains(nina.Messages[0].Text, "Only configured sign-out admins") || nina.Messages[0].For != "UNINA" {
		t.Fatalf("nina sees %+v", nina.Messages)
	}
	if alice := state(t, d, "UALICE"); len(alice.Messages) != 0 {
		t.Errorf("alice sees nina's refusal: %+v", alice.Messages)
	}
}

func TestEventsStreamAnnouncesChanges(t *testing.T) {
	d := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "data: ") {
				return strings.TrimPrefix(l, "data: ")
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if first := next(); first != "0" {
		t.Fatalf("first version %q, want 0", first)
	}
	post(t, d, "api/command", "application/json", `{"User":"UALICE","Text":"help","ID":"h1"}`)
	for v := next(); v == "0"; v = next() {
	}
}

func TestPageIsServedWithItsAssets(t *testing.T) {
	d := start(t)
	for path, want := range map[string]string{"": "<title>signoutbot demo", "app.js": "EventSource", "app.css": ".modal"} {
		resp, err := http.Get(d.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		buf := new(strings.Builder)
		_, _ = bufio.NewReader(resp.Body).WriteTo(buf)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(buf.String(), want) {
			t.Errorf("/%s: %d, lacks %q", path, resp.StatusCode, want)
		}
	}
}
