package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signoutbot/signoutbot/demo"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// chromium finds Debian's Chromium (installed by .ci/run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH: `bash .ci/run` installs Debian's chromium package; or apt-get install chromium")
	return ""
}

func startDemo(t *testing.T) *demo.Demo {
	t.Helper()
	d, err := demo.Start(context.Background(), demo.Options{
		Listen: "127.0.0.1:0", Data: t.TempDir(),
		Tenant:        graphtest.Options{Users: 40, BigGroupSize: 20, ReplicationDelay: 300 * time.Millisecond},
		TokenLifetime: 4 * time.Second, VerifyBackoff: []time.Duration{300 * time.Millisecond}, Poll: 100 * time.Millisecond,
		Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1300),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// pageErrors collects what a tab reports as errors (uncaught exceptions, console.error, the browser's own error
// log such as failed loads) and fails the test on any when it ends. The func it returns tells it that failed
// loads are expected from now on (the test takes the server away); exceptions still count.
func pageErrors(t *testing.T, ctx context.Context) (expectNetworkErrors func()) {
	t.Helper()
	var (
		mu      sync.Mutex
		errs    []string
		offline bool
	)
	msgs := chromedp.Console(ctx) // subscribes now, so nothing the page says from here on is missed
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleException && m.Type != chromedp.ConsoleError {
				continue
			}
			mu.Lock()
			if !offline || m.Type == chromedp.ConsoleException || m.Source == "" {
				errs = append(errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("the page reported an error: %s", e)
		}
	})
	return func() { mu.Lock(); offline = true; mu.Unlock() }
}

// open starts a browser on the demo page as user, collecting page errors, and waits until the page shows that
// user.
func open(t *testing.T, d *demo.Demo, user string) context.Context {
	t.Helper()
	ctx := browser(t)
	pageErrors(t, ctx)
	if err := chromedp.Do(ctx, steps(
		chromedp.Navigate(d.URL),
		chromedp.WaitReady(chromedp.CSS(`#who option[value="`+user+`"]`)),
		as(user),
	)...); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the page as "+user, `document.querySelector("#who").value === "`+user+`"`)
	return ctx
}

// waitJS waits until the JavaScript expression is true in the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// testLog sends the demo's warnings and errors to the test log, until the test's clean-up has stopped the demo.
func testLog(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// postJSON sends to the console's API as another browser would.
func postJSON(t *testing.T, d *demo.Demo, path, body string) {
	t.Helper()
	resp, err := http.Post(d.URL+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s: %s", path, resp.Status)
	}
}

// onlyRequest is the one request of the demo's store.
func onlyRequest(t *testing.T, d *demo.Demo) store.Request {
	t.Helper()
	reqs, err := d.Console.App.Store.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests in the store, want 1", len(reqs))
	}
	return reqs[0]
}

// as switches the page's identity through its own selector, as a person would.
func as(user string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.CSS("#who"), user),
		chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](`document.querySelector("#who").dispatchEvent(new Event("change"))`)(ctx, t)
			return chromedp.Void{}, err
		}),
	}
}

func typeCommand(text string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS("#text"), text),
		chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)),
	}
}

// steps flattens groups of actions into one list for chromedp.Do.
func steps(groups ...any) []chromedp.Action[chromedp.Void] {
	var out []chromedp.Action[chromedp.Void]
	for _, g := range groups {
		switch x := g.(type) {
		case chromedp.Action[chromedp.Void]:
			out = append(out, x)
		case []chromedp.Action[chromedp.Void]:
			out = append(out, x...)
		default:
			panic("steps: not an action")
		}
	}
	return out
}

// waitText polls the channel until it contains every want.
func waitText(t *testing.T, ctx context.Context, what string, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var text string
	for {
		var err error
		if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#channel"))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: page never showed %q; it shows:\n%s", what, missing, text)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func TestBrowserGroupTestApprovedBySecondAdmin(t *testing.T) {
	d := startDemo(t)
	ctx := browser(t)
	pageErrors(t, ctx)
	if err := chromedp.Do(ctx, steps(
		chromedp.Navigate(d.URL),
		chromedp.WaitReady(chromedp.CSS(`#who option[value="UALICE"]`)),
		as("UALICE"),
		typeCommand("/signout group Test --reason \"browser test\""),
		chromedp.WaitVisible(chromedp.CSS(`button.action[data-action="approve"]`)),
	)...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "approval card", 10*time.Second, "Sign-out request", "members of group Test", "browser test", "Break Glass Admin", "protected account")

	// Alice asked, so her own approval is refused and nothing changes.
	if err := chromedp.Do(ctx, approveSteps()...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "self-approval refusal", 10*time.Second, "cannot approve it: a second admin must", "only visible to you")
	if n := len(d.Tenant.Revocations()); n != 0 {
		t.Fatalf("%d revocations after a refused self-approval", n)
	}

	if err := chromedp.Do(ctx, steps(as("UBOB"), approveSteps())...); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, upn := range graphtest.TestGroupMemberUPNs() {
		switch upn {
		case graphtest.UPNBreakGlass, graphtest.UPNJaneGuest:
			continue // protected, guest: never "sessions invalid" (a disabled account is signed out too)
		}
		want = append(want, upn+" — confirmed")
	}
	text := waitText(t, ctx, "every member of Test confirmed", 30*time.Second, append(want, "Sessions invalid, confirmed from Graph")...)
	if strings.Contains(text, graphtest.UPNBreakGlass+" — confirmed") {
		t.Error("the protected account shows as signed out")
	}
	waitText(t, ctx, "deadline notice", 30*time.Second, "Access tokens expired — every client is signed out")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), "signoutbot-demo-browser-test.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the finished run as Bob sees it: %s", path)
}

// approveSteps clicks Approve on the card and confirms in the page's dialog.
func approveSteps() []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		clickWhenThere(`button.action[data-action="approve"]`),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		clickWhenThere("#confirm-ok"),
	}
}

// clickWhenThere clicks the element selector names as soon as the page shows it. The page redraws what changed
// (switching the person redraws the channel), so a node found a moment ago may be gone by the time a click is
// sent by node id; a click in the page itself always hits the current node.
func clickWhenThere(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		js := `(() => { const b = document.querySelector(` + strconv.Quote(selector) + `);
			if (!b || b.offsetParent === null || b.disabled) return false; b.click(); return true; })()`
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](js)(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			if ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("%s never appeared", selector)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// A fresh demo has no messages yet: the page must still draw the tenant panel and the people, say the channel is
// empty, and throw nothing.
func TestBrowserFreshPageShowsTenantWithoutErrors(t *testing.T) {
	d := startDemo(t)
	ctx := browser(t)
	pageErrors(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.URL)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "tenant rows", `document.querySelectorAll("#tenant tbody tr").length > 0`)
	rows := eval[int](t, ctx, `document.querySelectorAll("#tenant tbody tr").length`)
	if want := min(60, len(d.Tenant.Users())); rows != want {
		t.Errorf("tenant panel shows %d rows, want %d", rows, want)
	}
	for what, expr := range map[string]string{
		"the people to choose from": `document.querySelectorAll("#who option").length === 4`,
		"the empty channel's hint":  `!document.querySelector("#empty").hidden && document.querySelectorAll("#channel article").length === 0`,
		"the notes":                 `document.querySelectorAll("#notes li").length > 0`,
		"the connection":            `document.querySelector("#offline").hidden`,
	} {
		if !eval[bool](t, ctx, expr) {
			t.Errorf("a fresh page lacks %s (%s)", what, expr)
		}
	}
}

// The page fits a 420 px phone and a wide screen: nothing scrolls sideways, in the page or inside the channel
// and tenant boxes, with a card and its thread (long UPNs) on screen.
func TestBrowserLayoutFitsNarrowAndWide(t *testing.T) {
	d := startDemo(t)
	ctx := open(t, d, "UALICE")
	if err := chromedp.Do(ctx, steps(typeCommand("/signout group Test"), as("UBOB"), approveSteps())...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "the thread", 30*time.Second, "Sessions invalid, confirmed from Graph", graphtest.UPNLester+" — confirmed")
	for _, width := range []int64{420, 1280} {
		t.Run(fmt.Sprintf("%dpx", width), func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 1000)); err != nil {
				t.Fatal(err)
			}
			// Measured after two frames, so the new width has been laid out.
			m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
				const box = (s) => document.querySelector(s);
				done({
					inner: window.innerWidth, page: document.documentElement.scrollWidth,
					channel: box("#channel").scrollWidth, channelBox: box("#channel").clientWidth,
					table: box("#tenant").getBoundingClientRect().width, tableBox: box(".table-box").clientWidth,
					tableScroll: box(".table-box").scrollWidth,
					replies: document.querySelectorAll("#channel .replies article").length,
				});
			})))`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if m["inner"] != float64(width) {
				t.Fatalf("viewport is %v px wide, want %d", m["inner"], width)
			}
			if m["replies"] == 0 {
				t.Error("no thread replies on screen")
			}
			if m["page"] > m["inner"] {
				wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter((e) =>
					e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`))
				t.Errorf("the page is %v px wide in a %v px window; too wide: %v", m["page"], m["inner"], wide)
			}
			if m["channel"] > m["channelBox"] {
				t.Errorf("the channel's content is %v px wide in a %v px box: text is cut", m["channel"], m["channelBox"])
			}
			if m["table"] > m["tableBox"]+0.5 || m["tableScroll"] > m["tableBox"] {
				t.Errorf("the tenant table is %v px wide in a %v px box", m["table"], m["tableBox"])
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(os.TempDir(), fmt.Sprintf("signoutbot-demo-%d.png", width))
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot at %d px: %s", width, path)
		})
	}
}

// The page patches what changed instead of redrawing the channel, so text someone selected in one message stays
// selected while other messages arrive and are edited, for longer than the old 2 s redraw.
func TestBrowserSelectionSurvivesOtherMessagesChanging(t *testing.T) {
	d := startDemo(t)
	ctx := open(t, d, "UALICE")
	if err := chromedp.Do(ctx, typeCommand("/signout user "+graphtest.UPNLester)...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Alice's card", 10*time.Second, "Sign-out request", "Lester Tester")
	selected := eval[string](t, ctx, `(() => {
		const text = document.querySelector("#channel article .block-header").firstChild;
		const r = document.createRange();
		r.setStart(text, 0);
		r.setEnd(text, Math.min(text.length, 20));
		getSelection().removeAllRanges();
		getSelection().addRange(r);
		return getSelection().toString();
	})()`)
	if selected == "" {
		t.Fatal("could not select the card's title")
	}

	// Another admin asks for another sign-out and a third approves it: a new card, edited as the run goes on,
	// and its thread.
	postJSON(t, d, "api/command", `{"User":"UBOB","Text":"group Test","ID":"bob-1"}`)
	waitText(t, ctx, "Bob's card", 10*time.Second, "members of group Test")
	reqs, err := d.Console.App.Store.ListRequests(context.Background(), store.Filter{Statuses: []store.RequestStatus{store.StatusPending}})
	if err != nil {
		t.Fatal(err)
	}
	var bob store.Request
	for _, r := range reqs {
		if r.Requester.ID == "UBOB" {
			bob = r
		}
	}
	if bob.ID == "" {
		t.Fatal("Bob's request is not in the store")
	}
	postJSON(t, d, "api/action", fmt.Sprintf(`{"User":"UCAROL","Action":"approve","Value":%q,"Message":%q,"ID":"carol-1"}`, bob.ID, bob.Message.ID))
	waitText(t, ctx, "Bob's run", 30*time.Second, "Sessions invalid, confirmed from Graph", graphtest.UPNLester+" — confirmed")
	time.Sleep(2500 * time.Millisecond) // past the old redraw interval, with nothing else for the page to do

	got := eval[string](t, ctx, `getSelection().rangeCount && getSelection().anchorNode.isConnected ? getSelection().toString() : ""`)
	if got != selected {
		t.Errorf("the selection is %q after other messages changed, want %q", got, selected)
	}
}

// What the admin types reaches the bot as typed: text in angle brackets is neither dropped nor shown as HTML.
func TestBrowserCommandTextIsSentAsTyped(t *testing.T) {
	d := startDemo(t)
	ctx := open(t, d, "UALICE")
	const reason = `<b>x</b> & y`
	if err := chromedp.Do(ctx, typeCommand(`/signout user `+graphtest.UPNLester+` --reason "`+reason+`"`)...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "the card", 10*time.Second, "Sign-out request", reason)
	if got := onlyRequest(t, d).Reason; got != reason {
		t.Errorf("stored reason %q, want %q", got, reason)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#channel b").length`); n != 0 {
		t.Errorf("the reason became %d <b> element(s)", n)
	}
}

// Who you are belongs to the tab: two tabs choose two people and keep them through a reload, and ?as= picks one.
func TestBrowserViewerIsPerTab(t *testing.T) {
	d := startDemo(t)
	bob := open(t, d, "UBOB")
	carol, cancel := chromedp.NewContext(bob) // a second tab in the same browser
	t.Cleanup(cancel)
	pageErrors(t, carol)
	if err := chromedp.Do(carol, steps(
		chromedp.Navigate(d.URL),
		chromedp.WaitReady(chromedp.CSS(`#who option[value="UCAROL"]`)),
		as("UCAROL"),
	)...); err != nil {
		t.Fatal(err)
	}
	nina, cancelNina := chromedp.NewContext(bob)
	t.Cleanup(cancelNina)
	pageErrors(t, nina)
	if err := chromedp.Do(nina, chromedp.Navigate(d.URL+"?as=UNINA")); err != nil {
		t.Fatal(err)
	}
	tabs := []struct {
		name string
		ctx  context.Context
		want string
	}{{"Bob's tab", bob, "UBOB"}, {"Carol's tab", carol, "UCAROL"}, {"?as=UNINA", nina, "UNINA"}}
	for _, reload := range []bool{false, true} {
		for _, tab := range tabs {
			if reload {
				if err := chromedp.Do(tab.ctx, chromedp.Reload()); err != nil {
					t.Fatal(err)
				}
			}
			waitJS(t, tab.ctx, tab.name+" loaded", `document.querySelectorAll("#tenant tbody tr").length > 0`)
			if got := eval[string](t, tab.ctx, `document.querySelector("#who").value`); got != tab.want {
				t.Errorf("%s (reloaded: %t) shows %s, want %s", tab.name, reload, got, tab.want)
			}
		}
	}
}

// When the demo server goes away the page says so, keeps what was typed, and sends it once the server is back.
func TestBrowserDisconnectedKeepsTypedCommand(t *testing.T) {
	d := startDemo(t)
	ctx := browser(t)
	expectNetworkErrors := pageErrors(t, ctx)
	if err := chromedp.Do(ctx, steps(
		chromedp.Navigate(d.URL),
		chromedp.WaitReady(chromedp.CSS(`#who option[value="UALICE"]`)),
		as("UALICE"),
	)...); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the page", `document.querySelectorAll("#tenant tbody tr").length > 0`)
	if !eval[bool](t, ctx, `document.querySelector("#offline").hidden`) {
		t.Fatal("the disconnected banner shows while connected")
	}

	expectNetworkErrors()
	demo.Pause(d)
	waitJS(t, ctx, "the disconnected banner", `!document.querySelector("#offline").hidden && document.querySelector("#offline").offsetHeight > 0`)
	if text := eval[string](t, ctx, `document.querySelector("#offline").textContent`); !strings.Contains(strings.ToLower(text), "disconnected — reconnecting") {
		t.Errorf("banner says %q", text)
	}
	typed := "/signout user " + graphtest.UPNLester + ` --reason "while offline"`
	if err := chromedp.Do(ctx, typeCommand(typed)...); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the page to report the command unsent", `document.querySelector("#status").textContent.includes("Not sent yet")`)
	if got := eval[string](t, ctx, `document.querySelector("#text").value`); got != typed {
		t.Errorf("the box holds %q while disconnected, want what was typed", got)
	}

	if err := demo.Resume(d); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the banner to go", `document.querySelector("#offline").hidden`)
	waitText(t, ctx, "the command sent after reconnecting", 20*time.Second, "Sign-out request", "while offline")
	waitJS(t, ctx, "the box to empty once the server accepted it", `document.querySelector("#text").value === ""`)
	if r := onlyRequest(t, d); r.Reason != "while offline" {
		t.Errorf("stored reason %q", r.Reason)
	}
}

// Deny asks for an optional reason, which reaches the audit log; Back sends nothing.
func TestBrowserDenyAsksForReason(t *testing.T) {
	d := startDemo(t)
	ctx := open(t, d, "UALICE")
	deny := chromedp.CSS(`button.action[data-action="deny"]`)
	if err := chromedp.Do(ctx, steps(
		typeCommand("/signout user "+graphtest.UPNLester),
		chromedp.WaitVisible(deny),
		as("UBOB"),
		clickWhenThere(`button.action[data-action="deny"]`),
		chromedp.WaitVisible(chromedp.CSS("#deny-reason")),
		chromedp.Click(chromedp.CSS("#deny-back")),
		chromedp.WaitNotVisible(chromedp.CSS("#deny")),
	)...); err != nil {
		t.Fatal(err)
	}
	if r := onlyRequest(t, d); r.Status != store.StatusPending {
		t.Fatalf("after Back the request is %s", r.Status)
	}
	const reason = "wrong user: the ticket names <Lara> & not Lester"
	if err := chromedp.Do(ctx, steps(
		clickWhenThere(`button.action[data-action="deny"]`),
		chromedp.WaitVisible(chromedp.CSS("#deny-reason")),
		chromedp.SendKeys(chromedp.CSS("#deny-reason"), reason),
		chromedp.Click(chromedp.CSS("#deny-ok")),
		chromedp.WaitNotVisible(chromedp.CSS("#deny")),
	)...); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "the denied card", 10*time.Second, "Denied by")
	r := onlyRequest(t, d)
	events, err := d.Console.App.Store.Events(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events {
		found = found || ev.Type == "denied" && strings.Contains(ev.Detail, reason)
	}
	if r.Status != store.StatusDenied || !found {
		t.Errorf("request %s; audit log %+v lacks a denied event with %q", r.Status, events, reason)
	}
}

// Times in the bot's markup are shown in the chosen person's zone with UTC beside it: the date only when it is
// not today there, and UTC's date when it differs from the local one. User text stays as typed around them.
func TestBrowserTimesInChosenPersonsZone(t *testing.T) {
	d := startDemo(t)
	ctx := open(t, d, "UALICE")
	now := time.Now().Truncate(time.Minute)
	moments := []time.Time{
		now,
		time.Date(2025, time.March, 1, 23, 30, 0, 0, time.UTC), // the next day in Berlin and Sydney
		time.Date(2025, time.July, 4, 2, 15, 0, 0, time.UTC),   // the day before in New York
	}
	for _, p := range demo.People[:3] {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, as(p.ID)...); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, p.Name+"'s view", `document.querySelector("#who").value === "`+p.ID+`" && viewer === "`+p.ID+`"`)
		for _, m := range moments {
			got := eval[string](t, ctx, fmt.Sprintf(`(() => { const e = document.createElement("div");
				e.innerHTML = markup("*Due* \ue004%d\ue005 for \ue000*you* <b>&</b>\ue001"); return e.textContent; })()`, m.Unix()))
			if want := "Due " + wantTime(m, loc) + " for *you* <b>&</b>"; got != want {
				t.Errorf("%s sees %q, want %q", p.Name, got, want)
			}
		}
	}
}

// wantTime is the page's time format, as Go writes it.
func wantTime(m time.Time, loc *time.Location) string {
	local, utc, today := m.In(loc), m.UTC(), time.Now().In(loc)
	sameDay := func(a, b time.Time) bool { return a.Format(time.DateOnly) == b.Format(time.DateOnly) }
	date := func(x time.Time) string {
		s := x.Format("2 Jan")
		if x.Year() != today.Year() {
			s += x.Format(" 2006")
		}
		return s + " "
	}
	s := local.Format("15:04 MST")
	if !sameDay(local, today) {
		s = date(local) + s
	}
	u := utc.Format("15:04") + " UTC"
	if !sameDay(utc, local) {
		u = date(utc) + u
	}
	return s + " (" + u + ")"
}
