package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/postgres"
)

// envReplica makes this test binary one `signoutbot serve` replica (TestReplicaProcess) for
// TestTwoReplicasOneKilledMidRun, which starts two of them as child processes so that one can be killed outright.
const envReplica = "SIGNOUTBOT_TEST_REPLICA_PROCESS"

// TestReplicaProcess is not a test of its own: run by TestTwoReplicasOneKilledMidRun as a child process, it is
// `signoutbot serve` on the environment it was given, until SIGTERM (or SIGKILL).
func TestReplicaProcess(t *testing.T) {
	if os.Getenv(envReplica) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	root := newRoot()
	root.SetArgs([]string{"serve"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
}

// testPostgres is a connection string to a fresh schema of the test PostgreSQL server, dropped when the test ends.
// Like store/postgres's tests, it fails rather than skips when no server is configured.
func testPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SIGNOUTBOT_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("SIGNOUTBOT_SKIP_POSTGRES") == "1" {
			t.Skip("SIGNOUTBOT_SKIP_POSTGRES=1: not testing replicas on PostgreSQL")
		}
		t.Fatal("replicas need a PostgreSQL server: set SIGNOUTBOT_TEST_POSTGRES (`bash .ci/run` starts one), " +
			"or SIGNOUTBOT_SKIP_POSTGRES=1 to skip")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to SIGNOUTBOT_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "signoutbot_replicas_" + hex.EncodeToString(b)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+ident); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, `DROP SCHEMA `+ident+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("SIGNOUTBOT_TEST_POSTGRES must be a postgres:// URL here: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// replica is one `signoutbot serve` child process.
type replica struct {
	name string
	base string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startReplica(t *testing.T, name string, env map[string]string) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$", "-test.count=1")
	// Nothing from the developer's environment leaks into the replica: only the settings the test gives.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(allSettings, k) && !slices.Contains(teamsSettings, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, envReplica+"=1", "SIGNOUTBOT_LISTEN="+addr)
	r := &replica{name: name, base: "http://" + addr, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("--- replica %s output:\n%s", name, r.out.String())
		}
	})
	waitUntil(t, "replica "+name+" healthy", func() bool {
		select {
		case <-r.done:
			t.Fatalf("replica %s exited:\n%s", name, r.out.String())
		default:
		}
		resp, err := http.Get(r.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return r
}

// slackSigned posts a form to a replica as Slack does, signed with secret.
func slackSigned(t testing.TB, base, secret, path string, form url.Values) {
	t.Helper()
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("slack %s: %v", path, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("slack %s: HTTP %d", path, resp.StatusCode)
	}
}

// Two replicas share one PostgreSQL database. A command Slack delivers to both makes one request; the run is
// killed (SIGKILL, no goodbye) in the middle on whichever replica holds it, while Graph has done revocations whose
// answers are still on their way; the other takes it over once the lease lapses and finishes it. Every user ends revoked exactly once in the audit log, nobody is left out, and the
// thread carries on from the survivor without the two ever posting the same reply.
func TestTwoReplicasOneKilledMidRun(t *testing.T) {
	if os.Getenv(envReplica) == "1" {
		return
	}
	dbURL := testPostgres(t)
	const wave = 200
	tenant := graphtest.New(graphtest.Options{Users: 20, BigGroupSize: wave})
	if err := tenant.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tenant.Close)
	ca := filepath.Join(t.TempDir(), "tenant.pem")
	if err := os.WriteFile(ca, tenant.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tenant.SetOrganizationDefaultPolicy("Short", 3*time.Second)
	for _, name := range []string{"sam", "sue"} {
		tenant.AddUser(graphtest.User{UserPrincipalName: name + "@contoso.com", DisplayName: name, UserType: "Member", AccountEnabled: true})
	}
	fs := fakeslack.New("xoxb-replicas")
	t.Cleanup(fs.Close)
	fs.AddUser(fakeslack.User{ID: "USAM", Name: "sam", Email: "sam@contoso.com", TZ: "UTC"})
	fs.AddUser(fakeslack.User{ID: "USUE", Name: "sue", Email: "sue@contoso.com", TZ: "UTC"})
	const secret = "shh"
	env := map[string]string{
		"SIGNOUTBOT_DB": dbURL, "SIGNOUTBOT_PROTECTED": "Break Glass", "SIGNOUTBOT_QUORUM_ABOVE": "1000",
		"SIGNOUTBOT_GRAPH_URL": tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA": ca, "SIGNOUTBOT_WRITE_RATE": "20",
		"SLACK_SIGNING_SECRET": secret, "SLACK_BOT_TOKEN": "xoxb-replicas", "SLACK_API_URL": fs.APIURL(),
		"SIGNOUTBOT_ADMINS": "USAM,USUE", "SIGNOUTBOT_LEASE_TTL": "2s",
	}
	reps := []*replica{startReplica(t, "a", env), startReplica(t, "b", env)}

	// Slack retries a command it thinks was lost; a load balancer may send each try to another replica.
	cmd := url.Values{"command": {"/signout"}, "text": {"group " + graphtest.GroupBig}, "user_id": {"USAM"},
		"user_name": {"sam"}, "channel_id": {"C1"}, "trigger_id": {"trigger-1"}}
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func() { defer wg.Done(); slackSigned(t, r.base, secret, "/slack/commands", cmd) }()
	}
	wg.Wait()
	waitUntil(t, "the approval card", func() bool { return len(fs.TopLevel("C1")) >= 1 })
	ctx := context.Background()
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var req store.Request
	waitUntil(t, "the request with its card", func() bool {
		reqs, err := st.ListRequests(ctx, store.Filter{})
		if err != nil || len(reqs) == 0 {
			return false
		}
		req = reqs[0]
		return req.Message.ID != ""
	})
	time.Sleep(300 * time.Millisecond) // a second request, had the duplicate delivery made one, would be there by now
	if reqs, _ := st.ListRequests(ctx, store.Filter{}); len(reqs) != 1 || len(fs.TopLevel("C1")) != 1 {
		t.Fatalf("one command delivered to both replicas made %d requests and %d cards, want 1 and 1", len(reqs), len(fs.TopLevel("C1")))
	}

	// Sue approves through the other replica.
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": "trigger-2", "user": map[string]any{"id": "USUE", "name": "sue"},
		"channel": map[string]any{"id": "C1"}, "team": map[string]any{"id": "T1"},
		"container": map[string]any{"type": "message", "message_ts": req.Message.ID, "channel_id": "C1"},
		"actions":   []map[string]any{{"action_id": "approve", "block_id": "signout_actions", "value": req.ID, "type": "button", "action_ts": "1.2"}}})
	// Graph's answers take half a second to come back: at any moment some revocations are done in Graph but not
	// yet known to the replica that sent them, which is where a kill hurts.
	tenant.SetReplyDelay(500 * time.Millisecond)
	slackSigned(t, reps[1].base, secret, "/slack/interactions", url.Values{"payload": {string(payload)}})

	// Kill whichever replica runs it, a third of the way through.
	waitUntil(t, "a third of the wave revoked", func() bool { return len(tenant.Revocations()) >= wave/3 })
	holder := leaseHolder(t, dbURL, "request:"+req.ID)
	var victim, survivor *replica
	for _, r := range reps {
		if strings.Contains(holder, fmt.Sprintf(":%d:", r.cmd.Process.Pid)) {
			victim = r
		} else {
			survivor = r
		}
	}
	if victim == nil {
		t.Fatalf("lease holder %q is neither replica (pids %d, %d)", holder, reps[0].cmd.Process.Pid, reps[1].cmd.Process.Pid)
	}
	repliesAtKill := len(fs.Thread("C1", req.Message.ID))
	revokedAtKill := len(tenant.Revocations())
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killedAt := time.Now()
	t.Logf("killed replica %s (the run's lease holder) after %d of %d revocations; replica %s carries on",
		victim.name, revokedAtKill, wave, survivor.name)

	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := st.GetRequest(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == store.StatusDone {
			req = r
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request still %s a minute after the kill", r.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the survivor finished the run %s after the kill", time.Since(killedAt).Round(100*time.Millisecond))

	// Every user in scope revoked exactly once in the audit log, and in Graph at least once.
	targets, err := st.Targets(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.Events(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	revokedEvents := map[string]int{}
	for _, ev := range events {
		if revocation.IsUserEvent(ev) && ev.Type == string(store.TargetRevoked) {
			revokedEvents[ev.Actor.ID]++
		}
	}
	inGraph := map[string]int{}
	for _, rv := range tenant.Revocations() {
		inGraph[rv.UserID]++
	}
	again, inScope := 0, 0
	for _, tg := range targets {
		if tg.Status == store.TargetExcluded {
			if inGraph[tg.UserID] > 0 {
				t.Errorf("%s is excluded (%s) but was revoked in Graph", tg.UPN, tg.Detail)
			}
			continue
		}
		inScope++
		if n := revokedEvents[tg.UserID]; n != 1 {
			t.Errorf("%s: %d 'revoked' events in the audit log, want exactly 1", tg.UPN, n)
		}
		if inGraph[tg.UserID] == 0 {
			t.Errorf("%s was never revoked in Graph", tg.UPN)
		}
		if inGraph[tg.UserID] > 1 {
			again++ // sent by the victim, not yet recorded when it died: revoked again by the survivor, harmlessly
		}
		if tg.RevokedAt.IsZero() || !tg.Status.Final() && tg.Status != store.TargetSessionsInvalid {
			t.Errorf("%s ended %s (revoked at %v)", tg.UPN, tg.Status, tg.RevokedAt)
		}
	}
	if inScope < wave-5 {
		t.Fatalf("only %d of %d users in scope: the test proves little", inScope, wave)
	}
	if again == 0 {
		t.Errorf("no revocation was in flight when the replica was killed: the test did not reach the case it is for")
	}
	t.Logf("%d users in scope; %d revoked twice in Graph (sent by the killed replica, not yet recorded), each recorded once", inScope, again)

	// The thread carried on from the survivor, and no reply was posted twice by two live replicas. A crash between
	// posting a reply and recording it repeats at most that one reply.
	waitUntil(t, "the thread's last news", func() bool {
		for _, m := range fs.Thread("C1", req.Message.ID) {
			if strings.Contains(m.AllText(), "expired") {
				return true
			}
		}
		return false
	})
	thread := fs.Thread("C1", req.Message.ID)
	if len(thread) <= repliesAtKill {
		t.Errorf("no thread reply after the kill (%d before, %d now)", repliesAtKill, len(thread))
	}
	seen := map[string]int{}
	repeats := 0
	for _, m := range thread {
		text := m.AllText()
		seen[text]++
		if seen[text] == 2 {
			repeats++
		}
	}
	if repeats > 1 {
		for text, n := range seen {
			if n > 1 {
				t.Errorf("posted %d times: %s", n, text)
			}
		}
	}
	t.Logf("%d thread replies, %d before the kill, %d repeated", len(thread), repliesAtKill, repeats)
	if card := fs.TopLevel("C1")[0].AllText(); !strings.Contains(card, "signed out") {
		t.Errorf("the card does not show the end:\n%s", card)
	}
}

// leaseHolder reads who holds a lease, as an operator would with psql.
func leaseHolder(t *testing.T, dbURL, name string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var owner string
	if err := conn.QueryRow(context.Background(), `SELECT owner FROM leases WHERE name = $1`, name).Scan(&owner); err != nil {
		t.Fatalf("lease %s: %v", name, err)
	}
	return owner
}
