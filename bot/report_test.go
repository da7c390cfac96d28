package bot

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// reportStore is a store holding one request with targets.
func reportStore(t *testing.T, req store.Request, targets []store.Target) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateRequest(context.Background(), req, targets, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReportCSV(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	revoked := time.Date(2026, 12, 2, 23, 0, 5, 0, berlin) // 22:00:05 UTC
	confirmed := revoked.Add(40 * time.Second)
	deadline := time.Date(2026, 12, 3, 0, 10, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    store.Target
		want string // the row as CSV
	}{
		{"pending", store.Target{UPN: "ann@contoso.com", DisplayName: "Ann", Status: store.TargetPending},
			"ann@contoso.com,Ann,pending,,,,"},
		{"revoked, not yet confirmed", store.Target{UPN: "bo@contoso.com", DisplayName: "Bo", Status: store.TargetRevoked, RevokedAt: revoked},
			"bo@contoso.com,Bo,revoked,2026-12-02T22:00:05Z,,2026-12-03T00:10:00Z,"},
		{"confirmed", store.Target{UPN: "cy@contoso.com", DisplayName: "Cy", Status: store.TargetSessionsInvalid, RevokedAt: revoked, ConfirmedAt: confirmed},
			"cy@contoso.com,Cy,sessions invalid,2026-12-02T22:00:05Z,2026-12-02T22:00:45Z,2026-12-03T00:10:00Z,"},
		{"tokens expired", store.Target{UPN: "di@contoso.com", DisplayName: "Di", Status: store.TargetTokensExpired, RevokedAt: revoked, ConfirmedAt: confirmed},
			"di@contoso.com,Di,access tokens expired,2026-12-02T22:00:05Z,2026-12-02T22:00:45Z,2026-12-03T00:10:00Z,"},
		{"unconfirmed", store.Target{UPN: "ed@contoso.com", DisplayName: "Ed", Status: store.TargetUnconfirmed, RevokedAt: revoked,
			Detail: "could not confirm: Graph shows 2026-12-01T10:00:00Z"},
			"ed@contoso.com,Ed,could not confirm,2026-12-02T22:00:05Z,,2026-12-03T00:10:00Z,could not confirm: Graph shows 2026-12-01T10:00:00Z"},
		{"failed", store.Target{UPN: "fay@contoso.com", DisplayName: "Fay, Jr.", Status: store.TargetFailed, Detail: "forbidden: Authorization_RequestDenied"},
			`fay@contoso.com,"Fay, Jr.",failed,,,,forbidden: Authorization_RequestDenied`},
		{"excluded", store.Target{UPN: "glass@contoso.com", DisplayName: "Break Glass", Status: store.TargetExcluded, Detail: "protected (Break Glass)"},
			"glass@contoso.com,Break Glass,excluded,,,,protected (Break Glass)"},
		{"guest: revoked here, no deadline", store.Target{UPN: "gus_fabrikam.com#EXT#@contoso.com", DisplayName: "Gus", Guest: true,
			Status: store.TargetGuest, RevokedAt: revoked, Detail: "guest"},
			"gus_fabrikam.com#EXT#@contoso.com,Gus,guest,2026-12-02T22:00:05Z,,,"},
		{"a formula as display name", store.Target{UPN: "hal@contoso.com", DisplayName: `=HYPERLINK("http://x","y")`, Status: store.TargetPending},
			`hal@contoso.com,"'=HYPERLINK(""http://x"",""y"")",pending,,,,`},
		{"formulas everywhere", store.Target{UPN: "@ivy@contoso.com", DisplayName: "+1", Status: store.TargetFailed, Detail: "-1+1"},
			"'@ivy@contoso.com,'+1,failed,,,,'-1+1"},
		{"a tab first", store.Target{UPN: "jo@contoso.com", DisplayName: "\t=1", Status: store.TargetPending},
			"jo@contoso.com,'\t=1,pending,,,,"},
		{"an equals sign inside is text", store.Target{UPN: "kim@contoso.com", DisplayName: "Kim = Boss", Status: store.TargetPending},
			"kim@contoso.com,Kim = Boss,pending,,,,"},
	}
	req := store.Request{ID: "RCSV01", Status: store.StatusRunning, CreatedAt: revoked, TokensExpireAt: deadline,
		Requester: store.Actor{Platform: "test", ID: "UA"}}
	var targets []store.Target
	for i, tc := range tests {
		x := tc.t
		x.Seq, x.UserID = i, fmt.Sprintf("id-%02d", i)
		targets = append(targets, x)
	}
	st := reportStore(t, req, targets)
	var buf bytes.Buffer
	if err := writeReport(context.Background(), &buf, st, req); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[0] != "upn,display_name,outcome,revoked_at,confirmed_at,deadline,error" {
		t.Fatalf("header %q", lines[0])
	}
	if len(lines) != len(tests)+1 {
		t.Fatalf("%d lines, want the header and %d rows:\n%s", len(lines), len(tests), buf.String())
	}
	for i, tc := range tests {
		if got := lines[i+1]; got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if _, err := csv.NewReader(&buf).ReadAll(); err != nil {
		t.Errorf("not valid CSV: %v", err)
	}
}

// A store that fails while the report is read makes the report fail, not end early as if it were whole.
func TestReportStoreFailure(t *testing.T) {
	req := store.Request{ID: "RGONE1"}
	var buf bytes.Buffer
	err := writeReport(context.Background(), &buf, failingTargets{}, req)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the store's", err)
	}
}

// failingTargets fails every read of targets, however forEachTarget reads them.
type failingTargets struct{ store.Store }

func (failingTargets) Targets(context.Context, string) ([]store.Target, error) {
	return nil, errors.New("disk on fire")
}

// TargetsPage fails too: forEachTarget reads the scope a page at a time.
func (failingTargets) TargetsPage(context.Context, string, int, int, ...store.TargetStatus) ([]store.Target, error) {
	return nil, errors.New("disk on fire")
}

func TestFileLinkTokens(t *testing.T) {
	now := time.Date(2026, 12, 2, 22, 0, 0, 0, time.UTC)
	l := FileLinks{Key: []byte("0123456789abcdef0123456789abcdef"), BaseURL: "https://bot.example/"}
	good, exp, err := l.Token(ReportFinal, "R7K3Q9P", now)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(DefaultFileLinkTTL)) {
		t.Errorf("expires %s, want %s", exp, now.Add(DefaultFileLinkTTL))
	}
	url, _, err := l.link(ReportScope, "R7K3Q9P", now)
	if err != nil || !strings.HasPrefix(url, "https://bot.example/files/ey") {
		t.Errorf("link = %q, %v", url, err)
	}
	if url, _, _ := (FileLinks{Key: l.Key}).link(ReportScope, "R7K3Q9P", now); url != "" {
		t.Errorf("a link without a public address: %q", url)
	}
	signed := func(method jwt.SigningMethod, key any, claims jwt.Claims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(kind ReportKind, aud string, exp time.Time) fileClaims {
		return fileClaims{Kind: kind, RegisteredClaims: jwt.RegisteredClaims{Subject: "R7K3Q9P", Audience: jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	tests := []struct {
		name    string
		token   string
		at      time.Time
		kind    ReportKind
		expired bool
		bad     bool
	}{
		{name: "fresh", token: good, at: now, kind: ReportFinal},
		{name: "an hour before it ends", token: good, at: now.Add(DefaultFileLinkTTL - time.Hour), kind: ReportFinal},
		{name: "at its end", token: good, at: now.Add(DefaultFileLinkTTL + time.Second), expired: true},
		{name: "another key", token: signed(jwt.SigningMethodHS256, []byte("another key, 32 bytes long, too."), claims(ReportFinal, fileAudience, now.Add(time.Hour))), at: now, bad: true},
		{name: "HS512 with the key", token: signed(jwt.SigningMethodHS512, l.Key, claims(ReportFinal, fileAudience, now.Add(time.Hour))), at: now, bad: true},
		{name: "alg none", token: signed(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(ReportFinal, fileAudience, now.Add(time.Hour))), at: now, bad: true},
		{name: "another audience", token: signed(jwt.SigningMethodHS256, l.Key, claims(ReportFinal, "someone-else", now.Add(time.Hour))), at: now, bad: true},
		{name: "no expiry", token: signed(jwt.SigningMethodHS256, l.Key, claims(ReportFinal, fileAudience, time.Time{})), at: now, bad: true},
		{name: "an unknown report", token: signed(jwt.SigningMethodHS256, l.Key, claims("audit", fileAudience, now.Add(time.Hour))), at: now, bad: true},
		{name: "a changed byte", token: good[:len(good)-3] + string(good[len(good)-3]^1) + good[len(good)-2:], at: now, bad: true},
		{name: "empty", token: "", at: now, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no expiry" {
				c := claims(ReportFinal, fileAudience, now)
				c.ExpiresAt = nil
				tc.token = signed(jwt.SigningMethodHS256, l.Key, c)
			}
			kind, id, err := l.check(tc.token, tc.at)
			switch {
			case tc.expired:
				if !errors.Is(err, errLinkExpired) {
					t.Errorf("err = %v, want expired", err)
				}
			case tc.bad:
				if err == nil || errors.Is(err, errLinkExpired) {
					t.Errorf("err = %v, want refused (not expired)", err)
				}
			case err != nil || kind != tc.kind || id != "R7K3Q9P":
				t.Errorf("check = %q, %q, %v; want %q for R7K3Q9P", kind, id, err, tc.kind)
			}
		})
	}
}

func TestFileHandler(t *testing.T) {
	now := time.Now()
	req := store.Request{ID: "RDL001", Status: store.StatusRunning, CreatedAt: now, Requester: store.Actor{Platform: "test", ID: "UA"}}
	st := reportStore(t, req, []store.Target{{UserID: "1", UPN: "ann@contoso.com", DisplayName: "Ann", Status: store.TargetPending}})
	a := &App{Store: st, Log: slog.New(slog.DiscardHandler), Files: FileLinks{Key: []byte("0123456789abcdef0123456789abcdef")}}
	mux := http.NewServeMux()
	mux.Handle("GET /files/{token}", a.FileHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := func(kind ReportKind, id string, at time.Time) string {
		tok, _, err := a.Files.Token(kind, id, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name, token string
		status      int
		filename    string
	}{
		{"scope", token(ReportScope, req.ID, now), http.StatusOK, "scope-RDL001.csv"},
		{"final report", token(ReportFinal, req.ID, now), http.StatusOK, "report-RDL001.csv"},
		{"expired", token(ReportScope, req.ID, now.Add(-DefaultFileLinkTTL-time.Second)), http.StatusForbidden, ""},
		{"no such request", token(ReportScope, "RNONE1", now), http.StatusNotFound, ""},
		{"garbage", "x.y.z", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/files/" + tc.token)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			if tc.status != http.StatusOK {
				if strings.Contains(string(body), "ann@") || strings.Contains(string(body), req.ID) {
					t.Errorf("refusal tells too much: %q", body)
				}
				return
			}
			if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="`+tc.filename+`"`; got != want {
				t.Errorf("Content-Disposition %q, want %q", got, want)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if !strings.Contains(string(body), "ann@contoso.com,Ann,pending") {
				t.Errorf("body %q", body)
			}
		})
	}
}

// fileChat is a threadChat that takes files: it refuses refuse uploads, and lostFile loses the answer to the
// next one (the file is in the thread all the same).
type fileChat struct {
	*threadChat
	fmu      sync.Mutex
	files    []File
	contents [][]byte
	refuse   int
	lostFile bool
}

func (c *fileChat) ReplyFile(ctx context.Context, _ store.MessageRef, f File) (store.MessageRef, error) {
	var buf bytes.Buffer
	if err := f.Write(ctx, &buf); err != nil {
		return store.MessageRef{}, err
	}
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.refuse > 0 {
		c.refuse--
		return store.MessageRef{}, errors.New("chat refused the upload")
	}
	c.files, c.contents = append(c.files, f), append(c.contents, buf.Bytes())
	if c.lostFile {
		c.lostFile = false
		return store.MessageRef{}, errors.New("the answer to the upload was lost")
	}
	return store.MessageRef{}, nil
}

func (c *fileChat) got() ([]File, [][]byte) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return append([]File(nil), c.files...), append([][]byte(nil), c.contents...)
}

// Above 50 users the scope and the final report are one file each, posted through the outbox: a refused upload
// is tried again and posted once, and a lost answer repeats that one file and nothing else.
func TestLargeThreadFiles(t *testing.T) {
	const n = 2000
	r := newThreadRig(t, n)
	chat := &fileChat{threadChat: &threadChat{allow: -1}, refuse: 1}
	r.chat = chat.threadChat
	r.app = &App{Store: r.st, Clock: r.clk, Log: slog.New(slog.DiscardHandler)}
	r.app.AddMessenger(chat)

	if err := r.flush(t); err == nil {
		t.Fatal("a refused upload was not reported, so nothing would retry it")
	}
	if files, _ := chat.got(); len(files) != 0 {
		t.Fatalf("%d files after a refused upload", len(files))
	}
	for range 2 { // the retry, then a flush with nothing new
		if err := r.flush(t); err != nil {
			t.Fatal(err)
		}
	}
	files, contents := chat.got()
	if len(files) != 1 || files[0].Name != "scope-RBIG01.csv" {
		t.Fatalf("files %v, want the scope file once", files)
	}
	if got := PlainText(files[0].Message.Blocks[0].Text); got != "📄 Everyone in scope: 2,000 users — scope-RBIG01.csv" {
		t.Errorf("the file's message: %q", got)
	}
	if rows := strings.Count(string(contents[0]), "@contoso.com,"); rows != n {
		t.Errorf("the scope file has %d users, want %d", rows, n)
	}
	if msgs := chat.texts(); len(msgs) != 0 {
		t.Errorf("messages besides the file: %q", msgs)
	}

	// The run: everyone confirmed, then the request ends; the answer to the final report is lost.
	r.record(t, span(0, n), store.TargetSessionsInvalid, nil, time.Millisecond)
	if err := r.flush(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, err := r.st.GetRequest(ctx, r.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	req.Status, req.FinishedAt = store.StatusDone, r.at
	if _, err := r.st.UpdateRequest(ctx, req, store.Event{At: r.at, RequestID: req.ID, Type: revocation.EventDone, Detail: "request finished"}); err != nil {
		t.Fatal(err)
	}
	chat.fmu.Lock()
	chat.lostFile = true
	chat.fmu.Unlock()
	if err := r.flush(t); err == nil {
		t.Fatal("a lost answer was not reported")
	}
	r.app = &App{Store: r.st, Clock: r.clk, Log: slog.New(slog.DiscardHandler)} // a new process, from the cursors alone
	r.app.AddMessenger(chat)
	for range 2 {
		if err := r.flush(t); err != nil {
			t.Fatal(err)
		}
	}
	files, contents = chat.got()
	if len(files) != 3 || files[1].Name != "report-RBIG01.csv" || files[2].Name != "report-RBIG01.csv" {
		t.Fatalf("files %v, want the scope file, then the final report twice (its answer was lost once)", names(files))
	}
	report := string(contents[2])
	if rows := strings.Count(report, ",sessions invalid,"); rows != n {
		t.Errorf("the final report has %d confirmed users, want %d", rows, n)
	}
	if got := PlainText(files[2].Message.Blocks[0].Text); !strings.Contains(got, "Every user's outcome: 2,000 users — report-RBIG01.csv") {
		t.Errorf("the report's message: %q", got)
	}
	if msgs := chat.texts(); len(msgs) == 0 || len(msgs) > 12 {
		t.Errorf("%d messages besides the files: %q", len(msgs), msgs)
	}
}

func names(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// A large request that fails ends with the final report too, carrying the failure: one post for the event.
func TestLargeThreadFailedRequestReport(t *testing.T) {
	const n = 60
	r := newThreadRig(t, n)
	chat := &fileChat{threadChat: &threadChat{allow: -1}}
	r.chat = chat.threadChat
	r.app = &App{Store: r.st, Clock: r.clk, Log: slog.New(slog.DiscardHandler)}
	r.app.AddMessenger(chat)
	r.record(t, span(0, n), store.TargetFailed, func(int) string { return "forbidden: Authorization_RequestDenied" }, time.Millisecond)
	ctx := context.Background()
	req, err := r.st.GetRequest(ctx, r.req.ID)
	if err != nil {
		t.Fatal(err)
	}
	failure := "Graph accepted no revocation: forbidden: Authorization_RequestDenied (60)"
	req.Status, req.FinishedAt, req.Failure = store.StatusFailed, r.at, failure
	if _, err := r.st.UpdateRequest(ctx, req, store.Event{At: r.at, RequestID: req.ID, Type: revocation.EventFailed, Detail: failure}); err != nil {
		t.Fatal(err)
	}
	if err := r.flush(t); err != nil {
		t.Fatal(err)
	}
	files, contents := chat.got()
	if len(files) != 2 || files[1].Name != "report-RBIG01.csv" {
		t.Fatalf("files %v, want the scope file and the final report", names(files))
	}
	var text []string
	for _, b := range files[1].Message.Blocks {
		text = append(text, PlainText(b.Text))
	}
	if got := strings.Join(text, "\n"); !strings.Contains(got, "❌ Failed: "+failure) || !strings.Contains(got, "Every user's outcome: 60 users") {
		t.Errorf("the final report's message:\n%s", got)
	}
	if rows := strings.Count(string(contents[1]), ",failed,,,,forbidden: Authorization_RequestDenied"); rows != n {
		t.Errorf("%d failed rows with Graph's reason, want %d:\n%s", rows, n, contents[1])
	}
	for _, m := range chat.texts() {
		if strings.Contains(m, "Failed: Graph accepted") {
			t.Errorf("the failure was posted as a message as well as with the report: %q", m)
		}
	}
}
