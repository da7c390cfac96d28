package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// BenchmarkBoundedMemory100k rehearses a 100,000-user cutover against the real `signoutbot serve` binary, built
// here and run as a subprocess, so that its peak RSS (the kernel's VmHWM) counts the bot alone: the simulated
// tenant and the fake Slack run in this process. The tenant is real Graph scaled by boundedScale (write budget
// 3,000 per 150 s becomes 3,000 per 1.5 s, latency ÷ boundedScale), so the run takes under a minute; the bot is
// told the scaled write rate. It drives /signout group → approval by two other admins → "every revocation sent"
// and the first confirmations, and prints one summary line:
//
//	go test -run - -bench BoundedMemory -benchtime 1x ./cmd/signoutbot/
//
// SIGNOUTBOT_BOUNDED_USERS changes the group's size (default 100,000).
func BenchmarkBoundedMemory100k(b *testing.B) {
	users := 100000
	if v := os.Getenv("SIGNOUTBOT_BOUNDED_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		users = n
	}
	for range b.N {
		r := boundedMemoryRun(b, users)
		b.ReportMetric(float64(r.peakRSS)/(1<<20), "MB-peak-RSS")
		b.ReportMetric(r.preview.Seconds(), "s-preview")
		b.ReportMetric(r.run.Seconds(), "s-run")
		fmt.Println(r)
	}
}

const (
	boundedScale    = 100
	boundedLimitRSS = 150 << 20
)

type boundedResult struct {
	users                int
	peakRSS, idleRSS     int64
	peakAnon             int64
	preview, run         time.Duration
	confirmedAtSent      int
	confirmedAtEnd       int
	sentRate, writeLimit float64
	// What the channel got: thread replies (files among them) and the card's edits.
	replies, files, cardEdits int
	// Signed `/signout help` commands sent at 100 per second while it revoked, and their times to the HTTP ack.
	acks           int
	ackP50, ackP99 time.Duration
}

func (r boundedResult) String() string {
	return fmt.Sprintf("bounded-memory: %d users, peak RSS %d MB (limit %d MB, %.0f %%; %d MB idle; peak anonymous %d MB), preview %.1f s, run %.1f s "+
		"(%.0f revocations/s, ceiling %.0f/s), confirmed %d when every revocation was sent and %d at the end; "+
		"the channel got 1 card edited %d times and %d thread replies (%d of them files); %d signed /signout help at 100/s "+
		"during the run acknowledged in p50 %.1f ms, p99 %.1f ms (target 50 ms), cores=%d",
		r.users, r.peakRSS>>20, boundedLimitRSS>>20, 100*float64(r.peakRSS)/boundedLimitRSS, r.idleRSS>>20, r.peakAnon>>20, r.preview.Seconds(), r.run.Seconds(),
		r.sentRate, r.writeLimit, r.confirmedAtSent, r.confirmedAtEnd, r.cardEdits, r.replies, r.files,
		r.acks, float64(r.ackP50.Microseconds())/1000, float64(r.ackP99.Microseconds())/1000, runtime.NumCPU())
}

func boundedMemoryRun(b *testing.B, users int) boundedResult {
	dir := b.TempDir()
	bin := filepath.Join(dir, "signoutbot")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build signoutbot: %v", err)
	}
	ceiling := 20.0 * boundedScale
	tenant := graphtest.New(graphtest.Options{Users: 20, BigGroupSize: users, Latency: 100 * time.Millisecond / boundedScale,
		WriteBudget: graphtest.DefaultWriteBudget, WriteWindow: graphtest.DefaultWriteWindow / boundedScale,
		ReadBudget: graphtest.DefaultReadBudget, ReadWindow: graphtest.DefaultReadWindow / boundedScale})
	if err := tenant.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tenant.Close)
	ca := filepath.Join(dir, "tenant.pem")
	if err := os.WriteFile(ca, tenant.CertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	fs := fakeslack.New("xoxb-bounded")
	b.Cleanup(fs.Close)
	for _, u := range []fakeslack.User{{ID: "UALICE", Name: "alice", RealName: "Alice"}, {ID: "UBOB", Name: "bob", RealName: "Bob"},
		{ID: "UCAROL", Name: "carol", RealName: "Carol"}} {
		fs.AddUser(u)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	profiles := os.Getenv("SIGNOUTBOT_BOUNDED_PROFILE") // a directory: heap profiles every 5 s go there
	pprofAddr := ""
	if profiles != "" {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		pprofAddr = pl.Addr().String()
		pl.Close()
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "SIGNOUTBOT_PPROF_LISTEN="+pprofAddr,
		"SIGNOUTBOT_LISTEN="+listen, "SIGNOUTBOT_DB="+filepath.Join(dir, "bot.db"), "SIGNOUTBOT_ADMINS=UALICE,UBOB,UCAROL",
		"SIGNOUTBOT_IDENTITIES=UALICE="+graphtest.UPNAdele+",UBOB="+graphtest.UPNAlex+",UCAROL="+graphtest.UPNDiego,
		"SIGNOUTBOT_PROTECTED=Break Glass", "SIGNOUTBOT_GRAPH_URL="+tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA="+ca,
		"SIGNOUTBOT_CREDENTIAL=simulated", fmt.Sprintf("SIGNOUTBOT_WRITE_RATE=%g", ceiling), "SIGNOUTBOT_AUDIT_CROSSCHECK=0",
		"SLACK_SIGNING_SECRET=shh", "SLACK_BOT_TOKEN=xoxb-bounded", "SLACK_API_URL="+fs.APIURL())
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if b.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				b.Logf("serve log (tail):\n%s", tail(string(log), 4000))
			}
		}
	})
	mem := sampleRSS(cmd.Process.Pid)
	b.Cleanup(func() { mem.stop() })
	if profiles != "" {
		stop := make(chan struct{})
		b.Cleanup(func() { close(stop) })
		go saveHeapProfiles(profiles, pprofAddr, mem, stop)
	}
	base := "http://" + listen
	waitForServe(b, "healthz", 30*time.Second, exited, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	idle := mem.current()
	start := time.Now()
	slackSigned(b, base, "shh", "/slack/commands", url.Values{"command": {"/signout"}, "text": {"group " + graphtest.GroupBig},
		"user_id": {"UALICE"}, "user_name": {"alice"}, "channel_id": {"C1"}, "trigger_id": {"t1"}})
	waitForServe(b, "the approval card", 10*time.Minute, exited, func() bool {
		if eph := fs.Ephemerals("UALICE"); len(eph) > 0 {
			b.Fatalf("alice was told: %s", eph[0].AllText())
		}
		return len(fs.TopLevel("C1")) == 1
	})
	res := boundedResult{users: users, preview: time.Since(start), writeLimit: ceiling, idleRSS: idle}
	card := fs.TopLevel("C1")[0]
	m := regexp.MustCompile(`Sign-out request (R[0-9A-Z]+)`).FindStringSubmatch(card.Text)
	if m == nil {
		b.Fatalf("no request id in the card: %s", card.Text)
	}
	id := m[1]
	for i, who := range []string{"UBOB", "UCAROL"} {
		payload, _ := json.Marshal(map[string]any{
			"type": "block_actions", "trigger_id": fmt.Sprintf("t%d", i+2),
			"user":      map[string]any{"id": who, "name": strings.ToLower(who[1:])},
			"channel":   map[string]any{"id": "C1", "name": "secops"},
			"container": map[string]any{"type": "message", "message_ts": card.TS, "channel_id": "C1"},
			"actions":   []map[string]any{{"action_id": "approve", "block_id": "signout_actions", "value": id, "type": "button"}},
		})
		slackSigned(b, base, "shh", "/slack/interactions", url.Values{"payload": {string(payload)}})
	}
	approved := time.Now()
	sent := func() bool {
		for _, msg := range fs.Thread("C1", card.TS) {
			if strings.Contains(msg.Text, "Every revocation has been sent") {
				return true
			}
		}
		return false
	}
	// Admins keep typing while a cutover runs: signed commands on a fixed schedule (open loop, so a slow answer
	// cannot hold back the next send), timed to Slack's HTTP ack, on the real process under its memory limit.
	var (
		ackMu   sync.Mutex
		ackTook []time.Duration
		ackWG   sync.WaitGroup
	)
	probing := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-probing:
				return
			case <-tick.C:
			}
			ackWG.Add(1)
			go func() {
				defer ackWG.Done()
				t0 := time.Now()
				slackSigned(b, base, "shh", "/slack/commands", url.Values{"command": {"/signout"}, "text": {"help"},
					"user_id": {"UBOB"}, "user_name": {"bob"}, "channel_id": {"C1"}, "trigger_id": {fmt.Sprintf("help-%d", i)}})
				ackMu.Lock()
				ackTook = append(ackTook, time.Since(t0))
				ackMu.Unlock()
			}()
		}
	}()
	waitForServe(b, "every revocation sent", 30*time.Minute, exited, sent)
	res.run = time.Since(approved)
	close(probing)
	ackWG.Wait()
	slices.Sort(ackTook)
	if res.acks = len(ackTook); res.acks > 0 {
		res.ackP50, res.ackP99 = ackTook[res.acks/2], ackTook[min(res.acks-1, res.acks*99/100)]
	}
	res.sentRate = float64(users) / res.run.Seconds()
	res.confirmedAtSent = confirmedOnCard(fs, card.TS)
	// The read-backs go on after the last revocation: watch them for a while too.
	end := time.Now().Add(15 * time.Second)
	waitForServe(b, "confirmations", 16*time.Second, exited, func() bool { return time.Now().After(end) })
	res.confirmedAtEnd = confirmedOnCard(fs, card.TS)
	res.files = len(fs.ThreadFiles("C1", card.TS))
	res.replies = len(fs.Thread("C1", card.TS)) + res.files
	for _, msg := range fs.TopLevel("C1") {
		if msg.TS == card.TS {
			res.cardEdits = msg.Edits
		}
	}
	res.peakRSS = mem.stop()
	res.peakAnon = mem.peakAnonymous()
	return res
}

var confirmedRE = regexp.MustCompile(`sessions invalid \(confirmed from Graph\) (\d+)/`)

// confirmedOnCard is how many users the card says are confirmed.
func confirmedOnCard(fs *fakeslack.Server, ts string) int {
	for _, msg := range fs.TopLevel("C1") {
		if msg.TS != ts {
			continue
		}
		if m := confirmedRE.FindStringSubmatch(msg.AllText()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

func waitForServe(b *testing.B, what string, limit time.Duration, exited <-chan error, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case err := <-exited:
			b.Fatalf("signoutbot serve exited while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// saveHeapProfiles saves the bot's heap profile every 5 s as heap-<seconds>s-<RSS>MB.pb.gz, until stop.
func saveHeapProfiles(dir, addr string, mem *rssSampler, stop <-chan struct{}) {
	start := time.Now()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
		if err != nil {
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			continue
		}
		name := fmt.Sprintf("heap-%03.0fs-%dMB.pb.gz", time.Since(start).Seconds(), mem.current()>>20)
		_ = os.WriteFile(filepath.Join(dir, name), body, 0o644)
	}
}

// rssSampler reads a process's peak resident set: the kernel's own high-water mark (VmHWM), and VmRSS every
// 100 ms as a check on it (and for a process that has exited by the time it is read).
type rssSampler struct {
	pid      int
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	peak     int64
	peakAnon int64 // RssAnon: the process's own memory, without the pages of its binary (RssFile)
	last     int64 // VmRSS as last read
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			s.read()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) read() {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "VmHWM" && k != "VmRSS" && k != "RssAnon" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		s.mu.Lock()
		switch k {
		case "RssAnon":
			s.peakAnon = max(s.peakAnon, kb<<10)
		case "VmRSS":
			s.last = kb << 10
			fallthrough
		default:
			s.peak = max(s.peak, kb<<10)
		}
		s.mu.Unlock()
	}
}

// current is the resident set now.
func (s *rssSampler) current() int64 {
	s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// peakAnonymous is the highest RssAnon seen.
func (s *rssSampler) peakAnonymous() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakAnon
}

// stop ends the sampling and returns the peak seen.
func (s *rssSampler) stop() int64 {
	s.once.Do(func() {
		s.read()
		close(s.done)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
