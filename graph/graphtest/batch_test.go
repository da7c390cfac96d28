package graphtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

type batchItemResp struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func revokeItem(id, target string) map[string]any {
	return map[string]any{"id": id, "method": "POST", "url": "/users/" + target + "/revokeSignInSessions",
		"headers": map[string]string{"Content-Type": "application/json"}}
}

func sendBatch(t *testing.T, c *testClient, items []map[string]any, gz bool) (response, map[string]batchItemResp) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"requests": items})
	if err != nil {
		t.Fatal(err)
	}
	headers := []string{}
	if gz {
		body = gzipBytes(t, body)
		headers = append(headers, "Content-Encoding", "gzip")
	}
	r := c.do(http.MethodPost, "/v1.0/$batch", body, headers...)
	if r.status != http.StatusOK {
		return r, nil
	}
	var env struct {
		Responses []batchItemResp `json:"responses"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("batch body %s: %v", r.body, err)
	}
	byID := map[string]batchItemResp{}
	for _, it := range env.Responses {
		byID[it.ID] = it
	}
	return r, byID
}

func TestBatchMixedStatuses(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	s := startServer(t, opts)
	c := newClient(t, s)
	alex, _ := s.User(UPNAlex)
	s.InjectFault(alex.ID, http.StatusTooManyRequests, 1, 3*time.Second)
	s.InjectFault(UPNDiego, http.StatusInternalServerError, 1, 0)
	s.SetWriteBudget(3, time.Minute) // items 1, 5 and 7 fit; item 8 is over budget

	items := []map[string]any{
		revokeItem("1", UPNLester),
		revokeItem("2", "ghost@contoso.com"),
		revokeItem("3", alex.ID),
		revokeItem("4", UPNDiego),
		revokeItem("5", url.PathEscape(UPNJaneGuest)),
		{"id": "6", "method": "GET", "url": "users/" + UPNAdele + "?$select=displayName"}, // no leading slash
		revokeItem("7", UPNMegan),
		revokeItem("8", UPNTesty),
		{"id": "9", "method": "GET", "url": "/users?$filter=" + url.QueryEscape("displayName eq 'x"), "dependsOn": []string{"1"}},
	}
	_, got := sendBatch(t, c, items, true)
	// Budget: 1 (ok, 1 token left=2), 2 (404 still charged: 1 left), 3 injected (free), 4 injected (free),
	// 5 ok (0 left), 7 over budget, 8 over budget.
	want := map[string]int{"1": 200, "2": 404, "3": 429, "4": 500, "5": 200, "6": 200, "7": 429, "8": 429, "9": 400}
	for id, status := range want {
		if got[id].Status != status {
			t.Errorf("item %s: status %d, want %d (%s)", id, got[id].Status, status, got[id].Body)
		}
	}
	if ra := got["3"].Headers["Retry-After"]; ra != "3" {
		t.Errorf("injected 429 Retry-After %q", ra)
	}
	if ra := got["7"].Headers["Retry-After"]; ra == "" || got["7"].Headers["x-ms-throttle-scope"] == "" {
		t.Errorf("budget 429 headers %v", got["7"].Headers)
	}
	var ok struct {
		Value bool `json:"value"`
	}
	if err := json.Unmarshal(got["1"].Body, &ok); err != nil || !ok.Value {
		t.Errorf("item 1 body %s", got["1"].Body)
	}
	var adele map[string]any
	if err := json.Unmarshal(got["6"].Body, &adele); err != nil || adele["displayName"] != "Adele Vance" {
		t.Errorf("item 6 body %s", got["6"].Body)
	}
	st := s.Stats()
	if st.Requests != 1 || st.BatchRequests != 1 || st.BatchItems != 9 || st.Writes != 2 ||
		st.Throttled429Items != 3 || st.Throttled429Requests != 0 || st.Faults5xx != 1 {
		t.Errorf("stats %+v", st)
	}
	if n := len(s.Revocations()); n != 2 {
		t.Errorf("revocations %d", n)
	}
}

func TestBatchEnvelopeValidation(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	many := func(n int, dupe bool) []map[string]any {
		var items []map[string]any
		for i := range n {
			id := fmt.Sprint(i + 1)
			if dupe {
				id = "1"
			}
			items = append(items, map[string]any{"id": id, "method": "GET", "url": "/users/" + UPNLester})
		}
		return items
	}
	tests := []struct {
		name   string
		items  []map[string]any
		status int
		msg    string
	}{
		{"20 is fine", many(20, false), 200, ""},
		{"21 is too many", many(21, false), 400, "Number of requests in the batch exceeds the maximum of 20."},
		{"duplicate ids", many(2, true), 400, ""},
		{"empty", nil, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := sendBatch(t, c, tt.items, false)
			if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.status == 400 && (r.errorCode(t) != "BadRequest" || tt.msg != "" && r.errorMessage(t) != tt.msg) {
				t.Fatalf("error %s %q", r.errorCode(t), r.errorMessage(t))
			}
		})
	}
	r := c.do(http.MethodPost, "/v1.0/$batch", []byte("not gzip"), "Content-Encoding", "gzip")
	if r.status != 400 {
		t.Fatalf("corrupt gzip: %d", r.status)
	}
}
