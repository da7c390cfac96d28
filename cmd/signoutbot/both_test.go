package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/slack/fakeslack"
	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
	"github.com/signoutbot/signoutbot/graph/graphtest"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

// One process serves Slack and Teams with one store. Requests made at the same moment on each platform do not
// mix: each card goes to the platform it came from, each platform's admin approves their own, and each thread
// hears only of its own request.
func TestServeSlackAndTeamsTogether(t *testing.T) {
	clearSettings(t)
	tenant, ca := startTenant(t)
	const appID, tenantID = "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", "11111111-2222-4333-8444-555555555555"
	fc := fakeconnector.New(fakeconnector.Options{AppID: appID, AppSecret: "s3cret", TenantID: tenantID})
	t.Cleanup(fc.Close)
	fcCA := filepath.Join(t.TempDir(), "connector.pem")
	if err := os.WriteFile(fcCA, fc.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := fakeslack.New("xoxb-both")
	t.Cleanup(fs.Close)
	tenant.SetOrganizationDefaultPolicy("Short", 2*time.Second)
	for _, name := range []string{"sam", "sue", "tim", "tom"} {
		tenant.AddUser(graphtest.User{UserPrincipalName: name + "@contoso.com", DisplayName: name, UserType: "Member", AccountEnabled: true})
	}
	fs.AddUser(fakeslack.User{ID: "USAM", Name: "sam", Email: "sam@contoso.com", TZ: "UTC"})
	fs.AddUser(fakeslack.User{ID: "USUE", Name: "sue", Email: "sue@contoso.com", TZ: "UTC"})
	tim, _ := tenant.User("tim@contoso.com")
	tom, _ := tenant.User("tom@contoso.com")
	dbPath := filepath.Join(t.TempDir(), "bot.db")
	base := serveFor(t, map[string]string{
		"SIGNOUTBOT_DB": dbPath, "SIGNOUTBOT_PROTECTED": "Break Glass",
		"SIGNOUTBOT_GRAPH_URL": tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA": ca,
		"SLACK_SIGNING_SECRET": "shh", "SLACK_BOT_TOKEN": "xoxb-both", "SLACK_API_URL": fs.APIURL(), "SIGNOUTBOT_ADMINS": "USAM,USUE",
		"MICROSOFT_APP_ID": appID, "MICROSOFT_APP_PASSWORD": "s3cret", "MICROSOFT_APP_TENANT_ID": tenantID,
		"SIGNOUTBOT_TEAMS_ADMINS": tim.ID + "," + tom.ID, "SIGNOUTBOT_TEAMS_OPENID_URL": fc.OpenIDURL(),
		"SIGNOUTBOT_TEAMS_AUTHORITY_HOST": fc.AuthorityHost(), "SIGNOUTBOT_TEAMS_CA": fcCA,
	})
	ctx := context.Background()
	slackPost := func(path string, form url.Values) { slackSigned(t, base, "shh", path, form) }
	const channel = "19:ops@thread.tacv2"
	teamsActivity := func(fromID, name, aad, text string) fakeconnector.Activity {
		return fakeconnector.Activity{Type: "message", ID: "m-" + fromID, ServiceURL: fc.ServiceURL(), ChannelID: "msteams",
			From:         &fakeconnector.Account{ID: fromID, Name: name, AADObjectID: aad},
			Recipient:    &fakeconnector.Account{ID: fc.BotID(), Name: "signoutbot"},
			Conversation: &fakeconnector.Conversation{ID: channel + ";messageid=m-" + fromID, ConversationType: "channel", TenantID: tenantID, IsGroup: true},
			Text:         "<at>signoutbot</at> signout user " + graphtest.UPNLester,
			Entities: []fakeconnector.Entity{{Type: "mention", Text: "<at>signoutbot</at>", Mentioned: &fakeconnector.Account{ID: fc.BotID(), Name: "signoutbot"}},
				{Type: "clientInfo", Timezone: "Europe/Berlin"}},
			ChannelData: &fakeconnector.ChannelData{Tenant: &fakeconnector.IDName{ID: tenantID}, Team: &fakeconnector.IDName{ID: "19:team"},
				Channel: &fakeconnector.IDName{ID: channel}}}
	}
	// Both requests at once.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		slackPost("/slack/commands", url.Values{"command": {"/signout"}, "text": {"user " + graphtest.UPNTesty}, "user_id": {"USAM"},
			"user_name": {"sam"}, "channel_id": {"C1"}, "trigger_id": {"t1"}})
	}()
	go func() {
		defer wg.Done()
		if resp, err := fc.Send(ctx, base+"/api/messages", teamsActivity("29:tim", "Tim", tim.ID, "")); err != nil || resp.Status != 200 {
			t.Errorf("teams command: %+v %v", resp, err)
		}
	}()
	wg.Wait()
	waitUntil(t, "a card on each platform", func() bool { return len(fs.TopLevel("C1")) == 1 && len(fc.TopLevel(channel)) == 1 })
	// Read the store as a second process would, to learn which request is whose.
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reqs, err := st.ListRequests(ctx, store.Filter{})
	if err != nil || len(reqs) != 2 {
		t.Fatalf("%d requests, %v", len(reqs), err)
	}
	byPlatform := map[string]store.Request{}
	for _, r := range reqs {
		byPlatform[r.Requester.Platform] = r
	}
	sr, tr := byPlatform["slack"], byPlatform["teams"]
	if sr.Message.Platform != "slack" || tr.Message.Platform != "teams" {
		t.Fatalf("cards crossed platforms: slack request on %q, teams request on %q", sr.Message.Platform, tr.Message.Platform)
	}
	if card := fs.TopLevel("C1")[0].AllText(); !strings.Contains(card, sr.ID) || strings.Contains(card, tr.ID) {
		t.Errorf("the Slack card shows the wrong request:\n%s", card)
	}
	if card := fc.TopLevel(channel)[0].AllText(); !strings.Contains(card, tr.ID) || strings.Contains(card, sr.ID) {
		t.Errorf("the Teams card shows the wrong request:\n%s", card)
	}
	// Each platform's second admin approves their own request, at the same moment.
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": "t2", "user": map[string]any{"id": "USUE", "name": "sue"},
		"channel": map[string]any{"id": "C1"}, "team": map[string]any{"id": "T1"},
		"container": map[string]any{"type": "message", "message_ts": sr.Message.ID, "channel_id": "C1"},
		"actions":   []map[string]any{{"action_id": "approve", "block_id": "signout_actions", "value": sr.ID, "type": "button", "action_ts": "1.2"}}})
	invoke := teamsActivity("29:tom", "Tom", tom.ID, "")
	invoke.Type, invoke.Name, invoke.Text, invoke.Entities = "invoke", "adaptiveCard/action", "", []fakeconnector.Entity{{Type: "clientInfo", Timezone: "UTC"}}
	invoke.ID, invoke.ReplyToID = "inv-1", tr.Message.ID
	invoke.Conversation.ID = channel + ";messageid=" + tr.Message.ID
	invoke.Value = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": "approve", "data": map[string]any{"requestId": tr.ID}}}
	wg.Add(2)
	go func() { defer wg.Done(); slackPost("/slack/interactions", url.Values{"payload": {string(payload)}}) }()
	go func() {
		defer wg.Done()
		if resp, err := fc.Send(ctx, base+"/api/messages", invoke); err != nil || resp.Status != 200 {
			t.Errorf("teams invoke: %+v %v", resp, err)
		}
	}()
	wg.Wait()
	waitUntil(t, "both requests done", func() bool {
		a, _ := st.GetRequest(ctx, sr.ID)
		b, _ := st.GetRequest(ctx, tr.ID)
		return a.Status == store.StatusDone && b.Status == store.StatusDone
	})
	waitUntil(t, "each card done", func() bool {
		return strings.Contains(fs.TopLevel("C1")[0].AllText(), "every client is signed out") &&
			strings.Contains(fc.TopLevel(channel)[0].AllText(), "every client is signed out")
	})
	for _, m := range fs.Thread("C1", sr.Message.ID) {
		if strings.Contains(m.AllText(), graphtest.UPNLester) {
			t.Errorf("the Slack thread heard of the Teams request: %s", m.AllText())
		}
	}
	for _, m := range fc.Thread(channel, tr.Message.ID) {
		if strings.Contains(m.AllText(), graphtest.UPNTesty) {
			t.Errorf("the Teams thread heard of the Slack request: %s", m.AllText())
		}
	}
}
