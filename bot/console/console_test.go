package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/console"
	"github.com/signoutbot/signoutbot/demo"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
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

// sse reads a server-sent event stream one event at a time.
type sse struct {
	t     *testing.T
	lines *bufio.Scanner
}

func (s sse) next() (event, data string) {
	s.t.Helper()
	for s.lines.Scan() {
		l := s.lines.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: "):
			data = strings.TrimPrefix(l, "data: ")
		case l == "" && event != "":
			return event, data
		}
	}
	s.t.Fatalf("stream ended: %v", s.lines.Err())
	return "", ""
}

// nextChange skips other events until a "change".
func (s sse) nextChange() string {
	s.t.Helper()
	for {
		if ev, data := s.next(); ev == "change" {
			return data
		}
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
	stream := sse{t, bufio.NewScanner(resp.Body)}
	if first := stream.nextChange(); first != "0" {
		t.Fatalf("first version %q, want 0", first)
	}
	if ev, fp := stream.next(); ev != "tenant" || fp == "" {
		t.Fatalf("second event %q %q, want the tenant panel's fingerprint", ev, fp)
	}
	post(t, d, "api/command", "application/json", `{"User":"UALICE","Text":"help","ID":"h1"}`)
	if v := stream.nextChange(); v == "0" {
		t.Fatalf("change announced version %s after a reply", v)
	}
}

// A fresh console has nothing to show yet: every list in its state is empty, never null, so the page can draw
// it as it is.
func TestStateOfFreshConsoleHasEmptyLists(t *testing.T) {
	d := start(t)
	resp, err := http.Get(d.URL + "api/state?user=UALICE")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if got := string(raw["messages"]); got != "[]" {
		t.Errorf(`"messages": %s, want []`, got)
	}
	for _, key := range []string{"people", "notes"} {
		if got := string(raw[key]); !strings.HasPrefix(got, "[") {
			t.Errorf("%q: %s, want a list", key, got)
		}
	}
	var tenant console.TenantPage
	if err := json.Unmarshal(raw["tenant"], &tenant); err != nil {
		t.Fatal(err)
	}
	if tenant.Total == 0 || len(tenant.Rows) == 0 || len(tenant.Rows) > console.TenantRowsShown {
		t.Errorf("tenant panel: %d of %d users, %d rows", tenant.Matching, tenant.Total, len(tenant.Rows))
	}

	// A console without messages, people or a tenant at all answers the same way.
	empty := httptest.NewServer((&console.Console{}).Handler())
	t.Cleanup(empty.Close)
	resp, err = http.Get(empty.URL + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := new(strings.Builder)
	_, _ = bufio.NewReader(resp.Body).WriteTo(body)
	for _, want := range []string{`"messages":[]`, `"people":[]`, `"notes":[]`, `"rows":[]`} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("empty console's state lacks %s: %s", want, body)
		}
	}
}

func changes(t *testing.T, d *demo.Demo, viewer string, since int) console.Changes {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%sapi/messages?user=%s&since=%d", d.URL, viewer, since))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("api/messages: %s", resp.Status)
	}
	var ch console.Changes
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		t.Fatal(err)
	}
	return ch
}

// The page asks only for what changed after the version it shows: nothing when nothing changed, the one edited
// card when a card changed, and never another person's private replies.
func TestMessagesSinceListsOnlyChanges(t *testing.T) {
	d := start(t)
	post(t, d, "api/command", "application/json", `{"User":"UALICE","Text":"user lester@contoso.com","ID":"c1"}`)
	post(t, d, "api/command", "application/json", `{"User":"UNINA","Text":"group Test","ID":"n1"}`)
	d.Console.Wait()
	all := changes(t, d, "UALICE", 0)
	if len(all.Messages) != 1 || !strings.Contains(all.Messages[0].Text, "Sign-out request") {
		t.Fatalf("Alice's changes since 0: %+v", all.Messages)
	}
	card := all.Messages[0]
	if idle := changes(t, d, "UALICE", all.Version); len(idle.Messages) != 0 || idle.Version != all.Version || idle.Epoch != all.Epoch {
		t.Errorf("nothing changed, yet: %+v", idle)
	}
	if nina := changes(t, d, "UNINA", 0); len(nina.Messages) != 2 {
		t.Errorf("Nina sees %d messages, want the card and her own refusal", len(nina.Messages))
	}

	// Bob denies: the card is edited (the core edits cards in the background, so wait for it), and whatever Alice
	// gets since then is new or changed.
	id := strings.Fields(card.Text)[2]
	post(t, d, "api/action", "application/json", fmt.Sprintf(`{"User":"UBOB","Action":"deny","Value":%q,"Message":%q,"ID":"d1"}`, id, card.ID))
	var after console.Changes
	deadline := time.Now().Add(10 * time.Second)
	for edited := false; !edited; {
		after = changes(t, d, "UALICE", all.Version)
		for _, m := range after.Messages {
			edited = edited || m.ID == card.ID && strings.Contains(m.Text, "denied")
		}
		if !edited && time.Now().After(deadline) {
			t.Fatalf("the card never changed to denied; Alice gets %+v", after.Messages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range after.Messages {
		if m.Rev <= all.Version || m.For != "" && m.For != "UALICE" {
			t.Errorf("message %s (rev %d, for %q) is not a change for Alice after version %d", m.ID, m.Rev, m.For, all.Version)
		}
	}

	if got := post(t, d, "api/messages?since=x", "application/json", ``); got != http.StatusMethodNotAllowed {
		t.Errorf("POST api/messages: %d", got)
	}
	resp, err := http.Get(d.URL + "api/messages?since=-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since=-1: %s", resp.Status)
	}
}

// The bot gets the command text as the admin typed it: angle brackets and ampersands are the user's, not markup.
func TestCommandTextReachesBotAsTyped(t *testing.T) {
	d := start(t)
	const reason = `<b>x</b> & y &amp; <@U123> <http://x|y>`
	body, _ := json.Marshal(map[string]string{"User": "UALICE", "ID": "r1",
		"Text": `user lester@contoso.com --reason "` + strings.ReplaceAll(reason, `"`, `\"`) + `"`})
	if got := post(t, d, "api/command", "application/json", string(body)); got != http.StatusAccepted {
		t.Fatal(got)
	}
	d.Console.Wait()
	reqs, err := d.Console.App.Store.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Reason != reason {
		t.Fatalf("requests %+v, want one with reason %q", reqs, reason)
	}
}

// A deny may carry a reason: it reaches the core as the click's Note and is written to the audit log.
func TestDenyReasonReachesAuditLog(t *testing.T) {
	tests := []struct {
		name   string
		note   string
		status int
		want   string // in the "denied" event's detail; "" when nothing may be decided
	}{
		{"with a reason", "wrong ticket: <b>Sales</b> & not Test", http.StatusAccepted, "wrong ticket: <b>Sales</b> & not Test"},
		{"without a reason", "", http.StatusAccepted, "denied"},
		{"reason too long", strings.Repeat("é", console.MaxNote+1), http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := start(t)
			post(t, d, "api/command", "application/json", `{"User":"UALICE","Text":"user lester@contoso.com","ID":"c1"}`)
			d.Console.Wait()
			reqs, err := d.Console.App.Store.ListRequests(context.Background(), store.Filter{})
			if err != nil || len(reqs) != 1 {
				t.Fatalf("requests %+v, %v", reqs, err)
			}
			req := reqs[0]
			body, _ := json.Marshal(map[string]string{"User": "UBOB", "Action": "deny", "Value": req.ID,
				"Message": req.Message.ID, "Note": tt.note, "ID": "d1"})
			if got := post(t, d, "api/action", "application/json", string(body)); got != tt.status {
				t.Fatalf("deny: %d, want %d", got, tt.status)
			}
			d.Console.Wait()
			events, err := d.Console.App.Store.Events(context.Background(), req.ID)
			if err != nil {
				t.Fatal(err)
			}
			var denied []store.Event
			for _, ev := range events {
				if ev.Type == "denied" {
					denied = append(denied, ev)
				}
			}
			switch {
			case tt.want == "" && len(denied) != 0:
				t.Errorf("a refused click denied the request: %+v", denied)
			case tt.want != "" && (len(denied) != 1 || !strings.Contains(denied[0].Detail, tt.want) || denied[0].Actor.ID != "UBOB"):
				t.Errorf("denied events %+v, want one by UBOB with %q", denied, tt.want)
			}
		})
	}
}

// The tenant panel is filtered and cut by the server: a big tenant is never sent whole.
func TestTenantPanelFilters(t *testing.T) {
	d := start(t)
	tests := []struct {
		query               string
		wantRows            int
		wantMatchingAtLeast int
	}{
		{"", console.TenantRowsShown, 0},
		{"q=LESTER", 1, 1},
		{"q=nobody-at-all", 0, 0},
		{"limit=3", 3, 4},
	}
	for _, tt := range tests {
		resp, err := http.Get(d.URL + "api/tenant?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var page console.TenantPage
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := min(tt.wantRows, page.Matching)
		if len(page.Rows) != want || page.Matching < tt.wantMatchingAtLeast || page.Total < page.Matching {
			t.Errorf("%q: %d rows, %d matching of %d; want %d rows", tt.query, len(page.Rows), page.Matching, page.Total, want)
		}
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
