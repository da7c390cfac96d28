package teams_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// teamsDriver tells the adapter-neutral stories through the fake Bot Framework: signed channel messages that
// @mention the bot, Action.Execute invokes, and the person's 1:1 chat for what they see alone. A click's own
// answer (the refreshed card, with a refusal on top) is what only the clicker sees, so it counts as private.
type teamsDriver struct {
	e    *env
	opts envOpts
	mu   sync.Mutex
	seen map[string]*strings.Builder
}

func (d *teamsDriver) p(as string) *person { return d.e.p(as) }

func (d *teamsDriver) Command(t testing.TB, as, text string) { d.e.command(d.p(as), text) }
func (d *teamsDriver) click(t testing.TB, as, verb, id, reason string) {
	ans := d.e.invoke(d.p(as), verb, d.e.request(id), reason)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen[as] == nil {
		d.seen[as] = &strings.Builder{}
	}
	d.seen[as].WriteString(ans.text() + "\n")
}
func (d *teamsDriver) Approve(t testing.TB, as, id string)      { d.click(t, as, "approve", id, "") }
func (d *teamsDriver) Deny(t testing.TB, as, id, reason string) { d.click(t, as, "deny", id, reason) }
func (d *teamsDriver) Card(t testing.TB, id string) string {
	return d.e.card(d.e.request(id)).AllText()
}
func (d *teamsDriver) Thread(t testing.TB, id string) string { return d.e.threadText(d.e.request(id)) }
func (d *teamsDriver) Private(t testing.TB, as string) string {
	d.mu.Lock()
	answers := ""
	if b := d.seen[as]; b != nil {
		answers = b.String()
	}
	d.mu.Unlock()
	return d.e.privateText(d.p(as)) + answers
}
func (d *teamsDriver) Store() store.Store        { return d.e.st }
func (d *teamsDriver) Tenant() *graphtest.Server { return d.e.tenant }
func (d *teamsDriver) Restart(t testing.TB) {
	d.e.stop()
	d.e.start(d.opts)
}

func TestScenarios(t *testing.T) {
	bottest.Run(t, func(t *testing.T, o bottest.Options) bottest.Driver {
		opts := envOpts{policy: o.Policy, tenant: o.Tenant}
		return &teamsDriver{e: newEnv(t, opts), opts: opts, seen: map[string]*strings.Builder{}}
	})
}
