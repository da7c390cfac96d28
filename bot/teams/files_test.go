package teams_test

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot"
	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// fileLinks are the download links (Action.OpenUrl to /files/…) in the request's thread, in order.
func (e *env) fileLinks(r store.Request) []string {
	var out []string
	for _, m := range e.fc.Thread(channelConv, r.Message.ID) {
		card := m.Card()
		actions, _ := card["actions"].([]any)
		for _, a := range actions {
			act, _ := a.(map[string]any)
			if u, _ := act["url"].(string); act["type"] == "Action.OpenUrl" && strings.Contains(u, "/files/") {
				out = append(out, u)
			}
		}
	}
	return out
}

// download GETs a link as a browser would, without any login.
func download(t testing.TB, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// Files are the files the request's thread links to, downloaded through the links.
func (d *teamsDriver) Files(t testing.TB, id string) []bottest.File {
	var out []bottest.File
	for _, u := range d.e.fileLinks(d.e.request(id)) {
		resp, body := download(t, u)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d %s", u, resp.StatusCode, body)
		}
		_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		if err != nil {
			t.Fatalf("GET %s: Content-Disposition %q: %v", u, resp.Header.Get("Content-Disposition"), err)
		}
		out = append(out, bottest.File{Name: params["filename"], Content: body})
	}
	return out
}

func (d *teamsDriver) ThreadMessages(t testing.TB, id string) int {
	return len(d.e.fc.Thread(channelConv, d.e.request(id).Message.ID))
}

// The link in a Teams thread works for a day for whoever holds it, without a login, and for nothing else: a
// link with a changed byte, one signed with another key, one for another request or report, or one whose day
// is over gets nothing, and no detail.
func TestDownloadLink(t *testing.T) {
	e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 5, BigGroupSize: 60}})
	e.command(e.p("alice"), "signout group "+graphtest.GroupBig)
	r := e.onlyRequest()
	e.waitThread(r, "Everyone in scope: 60 users", "scope-"+r.ID+".csv", "Download scope-"+r.ID+".csv")
	links := e.fileLinks(r)
	if len(links) != 1 {
		t.Fatalf("%d download links in the thread, want 1", len(links))
	}
	link := links[0]
	base, tok, _ := strings.Cut(link, "/files/")
	if base != e.http.URL {
		t.Fatalf("link %s is not on the bot's public address %s", link, e.http.URL)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	// A payload changed to name the final report instead, with the original signature.
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	otherKind := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"kind":"scope"`, `"kind":"report"`, 1)))
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-2] == 'A' {
			b[len(b)-2] = 'B'
		} else {
			b[len(b)-2] = 'A'
		}
		return string(b)
	}
	now := time.Now()
	sign := func(l bot.FileLinks, kind bot.ReportKind, id string, at time.Time) string {
		t.Helper()
		tok, _, err := l.Token(kind, id, at)
		if err != nil {
			t.Fatal(err)
		}
		return base + "/files/" + tok
	}
	ours := bot.FileLinks{Key: []byte(testFileKey)}
	tests := []struct {
		name   string
		url    string
		status int
	}{
		{"the link as posted", link, http.StatusOK},
		{"the final report of the same request, freshly signed", sign(ours, bot.ReportFinal, r.ID, now), http.StatusOK},
		{"a changed signature", base + "/files/" + flip(tok), http.StatusNotFound},
		{"a changed payload", base + "/files/" + parts[0] + "." + otherKind + "." + parts[2], http.StatusNotFound},
		{"signed with another key", sign(bot.FileLinks{Key: []byte("another key, also 32 bytes or more")}, bot.ReportScope, r.ID, now), http.StatusNotFound},
		{"unsigned (alg none)", base + "/files/" + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", http.StatusNotFound},
		{"a request that does not exist", sign(ours, bot.ReportScope, "RNOSUCH", now), http.StatusNotFound},
		{"expired a minute ago", sign(ours, bot.ReportScope, r.ID, now.Add(-bot.DefaultFileLinkTTL-time.Minute)), http.StatusForbidden},
		{"not a token", base + "/files/not-a-token", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := download(t, tc.url)
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status != http.StatusOK {
				if s := string(body); strings.Contains(s, r.ID) || strings.Contains(s, "@contoso.com") || len(s) > 200 {
					t.Errorf("a refused download tells too much: %q", s)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("Content-Type %q, want text/csv", ct)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
				t.Errorf("Content-Disposition %q, want an attachment", cd)
			}
			if rows := bottest.ParseReport(t, body); len(rows) != 60 {
				t.Errorf("the file lists %d users, want 60", len(rows))
			}
		})
	}
}

// Without a public address the bot cannot link to its own copy: the thread says so, instead of a broken link.
func TestFileWithoutPublicURL(t *testing.T) {
	e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 5, BigGroupSize: 60}, noPublicURL: true})
	e.command(e.p("alice"), "signout group "+graphtest.GroupBig)
	r := e.onlyRequest()
	thread := e.waitThread(r, "Everyone in scope: 60 users", "SIGNOUTBOT_PUBLIC_URL")
	if links := e.fileLinks(r); len(links) != 0 {
		t.Errorf("links without a public address: %v", links)
	}
	if strings.Contains(thread, "/files/") {
		t.Errorf("the thread shows a link anyway:\n%s", thread)
	}
}
