package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

func TestVersionOfBuild(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "devel"},
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.2"}}, "v1.4.2"},
		{"work tree, no VCS stamp", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"work tree at a commit", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "66f6a4f4477944a4187b59d44bf4df7af9e4cb87"}, {Key: "vcs.modified", Value: "false"}}},
			"devel 66f6a4f4477944a4187b59d44bf4df7af9e4cb87"},
		{"work tree with changes", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "66f6a4f4477944a4187b59d44bf4df7af9e4cb87"}, {Key: "vcs.modified", Value: "true"}}},
			"devel 66f6a4f4477944a4187b59d44bf4df7af9e4cb87+dirty"},
	}
	for _, tt := range tests {
		if got := versionOf(tt.bi); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestVersionFlagPrintsVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := "signoutbot " + version() + "\n"; out.String() != want {
		t.Errorf("--version printed %q, want %q", out.String(), want)
	}
}

func TestMistakesPointAtHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "signoutbot --help"}},
		{[]string{"dmeo"}, []string{`unknown command "dmeo"`, "demo", "signoutbot --help"}},
		{[]string{"--frobnicate"}, []string{"unknown flag: --frobnicate", "signoutbot --help"}},
		{[]string{"demo", "--frobnicate"}, []string{"unknown flag: --frobnicate", "signoutbot demo --help"}},
		{[]string{"demo", "--expiry", "-1m"}, []string{"--expiry"}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, &out, &errOut); code != 1 {
			t.Errorf("%v: exit %d, want 1", tt.args, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("%v: error output %q lacks %q", tt.args, errOut.String(), w)
			}
		}
	}
}

// A demo started on a busy address says which flag to change and leaves nothing behind in --data.
func TestDemoOnBusyPortNamesListenAndLeavesNoDatabase(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	data := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"demo", "--listen", busy.Addr().String(), "--data", data, "--users", "5"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d on a busy port; output %q", code, out.String())
	}
	for _, want := range []string{busy.Addr().String(), "--listen"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("error %q does not name %q", errOut.String(), want)
		}
	}
	if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
		t.Errorf("--data holds %d file(s) after a failed start, e.g. %s", len(entries), entries[0].Name())
	}
}

// lockedBuffer is an io.Writer the test reads while a command writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// --expiry reaches the approval policy: a request nobody decides expires after it, and the audit export of the
// run's database says so.
func TestDemoExpiryFlagExpiresRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--expiry", "1s",
			"--users", "10", "--big-group", "5", "--latency", "0s"}, out, out)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d: %s", code, out.String())
		}
	})
	started := regexp.MustCompile(`open (http://\S+)\n(?s:.*)this run's audit database: (\S+?);`)
	var m []string
	waitFor(t, "the demo to start", func() bool { m = started.FindStringSubmatch(out.String()); return m != nil })
	url, db := m[1], m[2]

	resp, err := http.Post(url+"api/command", "application/json",
		strings.NewReader(`{"User":"UALICE","Text":"user lester@contoso.com","ID":"x1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "the request to expire", func() bool {
		reqs, err := st.ListRequests(ctx, store.Filter{Statuses: []store.RequestStatus{store.StatusExpired}})
		if err != nil {
			t.Fatal(err)
		}
		return len(reqs) == 1
	})

	var export, errOut bytes.Buffer
	if code := run(context.Background(), []string{"audit", "export", "--db", db, "--format", "json"}, &export, &errOut); code != 0 {
		t.Fatalf("audit export: exit %d: %s", code, errOut.String())
	}
	var events []struct{ Type string }
	if err := json.Unmarshal(export.Bytes(), &events); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	if !strings.Contains(strings.Join(types, " "), "requested expired") {
		t.Errorf("audit log types %v, want requested then expired", types)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
