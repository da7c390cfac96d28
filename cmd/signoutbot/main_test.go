package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// syncBuffer is an io.Writer the test can read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestFakeTenantPrintsBaseURLFirstAndServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	certFile := filepath.Join(t.TempDir(), "tenant.pem")
	out := &syncBuffer{}
	root := newRoot()
	root.SetOut(out)
	root.SetArgs([]string{"faketenant", "--addr", "127.0.0.1:0", "--users", "50", "--big-group", "10", "--cert-out", certFile})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var first string
	deadline := time.Now().Add(20 * time.Second)
	for first == "" {
		if s := out.String(); strings.Contains(s, "\n") {
			first = strings.SplitN(s, "\n", 2)[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output line; got %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	u, err := url.Parse(first)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" {
		t.Fatalf("first line %q is not the base URL", first)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := loadCA(certFile)
	if err != nil || len(pem) == 0 {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}).Get(first + "/.well-known/signoutbot-simulated-tenant")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "clientSecret") {
		t.Fatalf("well-known: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesBadConfigurationNamingTheSetting(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{}, []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SIGNOUTBOT_ADMINS"}},
		{"bad admin id", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SIGNOUTBOT_ADMINS": "alice"},
			[]string{`SIGNOUTBOT_ADMINS: "alice"`}},
		{"bad duration", map[string]string{"SIGNOUTBOT_EXPIRY": "soon"}, []string{"SIGNOUTBOT_EXPIRY"}},
		{"write rate above Graph's limit", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_WRITE_RATE": "50"}, []string{"SIGNOUTBOT_WRITE_RATE"}},
		{"no Graph credentials", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SIGNOUTBOT_ADMINS": "U1"},
			[]string{"no Graph credentials", "AZURE_CLIENT_SECRET"}},
		{"half a secret credential", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SIGNOUTBOT_ADMINS": "U1",
			"AZURE_CLIENT_SECRET": "x"}, []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID"}},
		{"protected group that does not exist", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_PROTECTED": "Brake Glass", "SIGNOUTBOT_GRAPH_URL": "$TENANT", "SIGNOUTBOT_GRAPH_CA": "$CA"},
			[]string{"SIGNOUTBOT_PROTECTED", "Brake Glass"}},
		{"protected user that does not exist (a typo protects nobody)", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_PROTECTED": "brakeglass@contoso.com", "SIGNOUTBOT_GRAPH_URL": "$TENANT", "SIGNOUTBOT_GRAPH_CA": "$CA"},
			[]string{"SIGNOUTBOT_PROTECTED", "brakeglass@contoso.com"}},
		{"ambiguous protected group", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_PROTECTED": "Sales", "SIGNOUTBOT_GRAPH_URL": "$TENANT", "SIGNOUTBOT_GRAPH_CA": "$CA"},
			[]string{"SIGNOUTBOT_PROTECTED", "2 groups are named"}},
		{"ambiguous admin group", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_ADMIN_GROUP": "Sales", "SIGNOUTBOT_GRAPH_URL": "$TENANT", "SIGNOUTBOT_GRAPH_CA": "$CA"},
			[]string{"SIGNOUTBOT_ADMIN_GROUP", "2 groups are named"}},
		{"bad identity mapping", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
			"SIGNOUTBOT_ADMINS": "U1", "SIGNOUTBOT_IDENTITIES": "U1", "SIGNOUTBOT_GRAPH_URL": "$TENANT", "SIGNOUTBOT_GRAPH_CA": "$CA"},
			[]string{"SIGNOUTBOT_IDENTITIES"}},
		{"bad app token", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong", "SIGNOUTBOT_ADMINS": "U1"},
			[]string{"SLACK_APP_TOKEN"}},
	}
	tenant, ca := startTenant(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range allSettings {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, strings.NewReplacer("$TENANT", tenant.GraphURL(), "$CA", ca).Replace(v))
			}
			t.Setenv("SIGNOUTBOT_DB", filepath.Join(t.TempDir(), "x.db"))
			root := newRoot()
			root.SetArgs([]string{"serve", "--listen", "127.0.0.1:0"})
			root.SetOut(io.Discard)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := root.ExecuteContext(ctx)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}

var allSettings = []string{"SIGNOUTBOT_AUDIT_CROSSCHECK", "SIGNOUTBOT_IDENTITIES", "SLACK_TEAM_ID", "SLACK_APP_ID", "SIGNOUTBOT_LISTEN", "SIGNOUTBOT_DB", "SIGNOUTBOT_ADMINS", "SIGNOUTBOT_ADMIN_GROUP", "SIGNOUTBOT_PROTECTED",
	"SIGNOUTBOT_GRAPH_URL", "SIGNOUTBOT_GRAPH_CA", "SIGNOUTBOT_CREDENTIAL", "SIGNOUTBOT_QUORUM_ABOVE", "SIGNOUTBOT_EXPIRY",
	"SIGNOUTBOT_TOKEN_LIFETIME", "SIGNOUTBOT_WRITE_RATE", "SIGNOUTBOT_LEASE_TTL", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL",
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
	"AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "SIGNOUTBOT_PUBLIC_URL", "SIGNOUTBOT_FILE_KEY"}

// TestServeAgainstSimulatedTenantAndFakeSlack runs `signoutbot serve` configured only through its documented
// environment variables, against a simulated tenant (no AZURE_* credentials) and a fake Slack.
func TestServeAgainstSimulatedTenantAndFakeSlack(t *testing.T) {
	tenant, ca := startTenant(t)
	fs := fakeslack.New("xoxb-serve")
	t.Cleanup(fs.Close)
	fs.AddUser(fakeslack.User{ID: "UALICE", Name: "alice", RealName: "Alice", TZ: "Europe/Paris"})
	base := serveFor(t, map[string]string{
		"SIGNOUTBOT_DB": filepath.Join(t.TempDir(), "bot.db"), "SIGNOUTBOT_ADMINS": "UALICE,UBOB",
		"SIGNOUTBOT_PROTECTED": "Break Glass", "SIGNOUTBOT_GRAPH_URL": tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA": ca,
		"SLACK_SIGNING_SECRET": "shh", "SLACK_BOT_TOKEN": "xoxb-serve", "SLACK_API_URL": fs.APIURL(),
		// Alice's Slack profile has no e-mail: the explicit mapping binds her to an Entra user.
		"SIGNOUTBOT_IDENTITIES": "UALICE=adele@contoso.com",
	})
	body := url.Values{"command": {"/signout"}, "text": {"group Test"}, "user_id": {"UALICE"}, "user_name": {"alice"},
		"channel_id": {"C1"}, "trigger_id": {"t1"}}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte("shh"))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest(http.MethodPost, base+"/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("slash command acknowledged in %s", time.Since(start))
	if resp.StatusCode != 200 {
		t.Fatalf("slash command: %d", resp.StatusCode)
	}
	waitUntil(t, "the approval card", func() bool {
		if eph := fs.Ephemerals("UALICE"); len(eph) > 0 {
			t.Fatalf("alice was told: %s", eph[0].AllText())
		}
		return len(fs.TopLevel("C1")) == 1
	})
	card := fs.TopLevel("C1")[0].AllText()
	for _, want := range []string{"members of group *Test (", "Break Glass Admin", "protected account", "Lester Tester", "<!date^"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// startTenant starts a simulated tenant and writes its certificate where SIGNOUTBOT_GRAPH_CA can name it.
func startTenant(t *testing.T) (*graphtest.Server, string) {
	t.Helper()
	tenant := graphtest.New(graphtest.Options{Users: 20, BigGroupSize: 5})
	if err := tenant.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tenant.Close)
	ca := filepath.Join(t.TempDir(), "tenant.pem")
	if err := os.WriteFile(ca, tenant.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return tenant, ca
}

// serveFor runs `signoutbot serve` (with args) on the settings in env until the test ends: every other setting is
// cleared, SIGNOUTBOT_LISTEN defaults to a free loopback port, and SIGNOUTBOT_DB to a fresh file. It returns the
// base URL once /healthz answers.
func serveFor(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	clearSettings(t)
	if env["SIGNOUTBOT_LISTEN"] == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		env["SIGNOUTBOT_LISTEN"] = ln.Addr().String()
		ln.Close()
	}
	if env["SIGNOUTBOT_DB"] == "" {
		env["SIGNOUTBOT_DB"] = filepath.Join(t.TempDir(), "bot.db")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetArgs(append([]string{"serve"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	base := "http://" + env["SIGNOUTBOT_LISTEN"]
	waitUntil(t, "healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}
