package demo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signoutbot/signoutbot/demo"
	"github.com/signoutbot/signoutbot/graph/graphtest"
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
		want = append(want, upn+" — sessions invalid, confirmed")
	}
	text := waitText(t, ctx, "every member of Test confirmed", 30*time.Second, want...)
	if strings.Contains(text, graphtest.UPNBreakGlass+" — sessions invalid") {
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
		chromedp.WaitVisible(chromedp.CSS(`button.action[data-action="approve"]`)),
		chromedp.Click(chromedp.CSS(`button.action[data-action="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
	}
}
