package slack_test

import (
	"strings"
	"testing"

	"github.com/signoutbot/signoutbot/bot/bottest"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
)

// slackDriver tells the adapter-neutral stories through the fake Slack: signed slash commands and clicks, the
// deny modal, chat.postEphemeral for what one person sees.
type slackDriver struct {
	e    *env
	opts envOpts
}

var slackIDs = map[string]string{bottest.Alice: alice, bottest.Bob: bob, bottest.Carol: carol, bottest.Eve: eve}

func (d *slackDriver) req(t testing.TB, id string) store.Request {
	t.Helper()
	return d.e.request(id)
}

func (d *slackDriver) Command(t testing.TB, as, text string) { d.e.slash(slackIDs[as], text) }
func (d *slackDriver) Approve(t testing.TB, as, id string) {
	d.e.click(slackIDs[as], "approve", d.req(t, id))
}
func (d *slackDriver) Deny(t testing.TB, as, id, reason string) {
	d.e.clickDenyWithReason(slackIDs[as], d.req(t, id), reason)
}
func (d *slackDriver) Card(t testing.TB, id string) string { return d.e.card(d.req(t, id)).AllText() }
func (d *slackDriver) Thread(t testing.TB, id string) string {
	return d.e.threadText(d.req(t, id))
}
func (d *slackDriver) Private(t testing.TB, as string) string {
	var b strings.Builder
	for _, m := range d.e.slack.Ephemerals(slackIDs[as]) {
		b.WriteString(m.AllText() + "\n")
	}
	return b.String()
}
func (d *slackDriver) Store() store.Store        { return d.e.st }
func (d *slackDriver) Tenant() *graphtest.Server { return d.e.tenant }
func (d *slackDriver) Restart(t testing.TB) {
	d.e.stop()
	d.e.start(d.opts)
}

func TestScenarios(t *testing.T) {
	bottest.Run(t, func(t *testing.T, o bottest.Options) bottest.Driver {
		opts := envOpts{policy: o.Policy, tenant: o.Tenant, writeRate: o.WriteRate}
		return &slackDriver{e: newEnv(t, opts), opts: opts}
	})
}
