package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/bot/teams/fakeconnector"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

var teamsSettings = []string{"MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID", "MICROSOFT_APP_CERTIFICATE_PATH",
	"MICROSOFT_APP_TYPE", "SIGNOUTBOT_TEAMS_ADMINS", "SIGNOUTBOT_TEAMS_OPENID_URL", "SIGNOUTBOT_TEAMS_AUTHORITY_HOST", "SIGNOUTBOT_TEAMS_CA",
	"SIGNOUTBOT_TEAMS_ANONYMOUS"}

func clearSettings(t *testing.T) {
	for _, k := range append(append([]string{}, allSettings...), teamsSettings...) {
		t.Setenv(k, "")
	}
}

// Teams alone, configured only through its documented variables, with nothing for Slack: `serve` checks the
// Bot Connector's token on /api/messages, takes its app token from its own tenant, and posts the approval card.
func TestServeForTeamsAlone(t *testing.T) {
	clearSettings(t)
	tenant, ca := startTenant(t)
	const appID, tenantID = "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", "11111111-2222-4333-8444-555555555555"
	fc := fakeconnector.New(fakeconnector.Options{AppID: appID, AppSecret: "s3cret", TenantID: tenantID})
	t.Cleanup(fc.Close)
	fcCA := filepath.Join(t.TempDir(), "connector.pem")
	if err := os.WriteFile(fcCA, fc.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := tenant.AddUser(graphtest.User{UserPrincipalName: "alice@contoso.com", DisplayName: "Alice", UserType: "Member", AccountEnabled: true})
	bob := tenant.AddUser(graphtest.User{UserPrincipalName: "bob@contoso.com", DisplayName: "Bob", UserType: "Member", AccountEnabled: true})
	base := serveFor(t, map[string]string{
		"SIGNOUTBOT_DB": filepath.Join(t.TempDir(), "bot.db"), "SIGNOUTBOT_PROTECTED": "Break Glass",
		"SIGNOUTBOT_GRAPH_URL": tenant.GraphURL(), "SIGNOUTBOT_GRAPH_CA": ca,
		"MICROSOFT_APP_ID": appID, "MICROSOFT_APP_PASSWORD": "s3cret", "MICROSOFT_APP_TENANT_ID": tenantID,
		"SIGNOUTBOT_TEAMS_ADMINS": alice.ID + "," + bob.ID, "SIGNOUTBOT_TEAMS_OPENID_URL": fc.OpenIDURL(),
		"SIGNOUTBOT_TEAMS_AUTHORITY_HOST": fc.AuthorityHost(), "SIGNOUTBOT_TEAMS_CA": fcCA,
	})
	ctx := context.Background()
	const channel = "19:ops@thread.tacv2"
	act := fakeconnector.Activity{Type: "message", ID: "1001", ServiceURL: fc.ServiceURL(), ChannelID: "msteams",
		From:         &fakeconnector.Account{ID: "29:alice", Name: "Alice", AADObjectID: alice.ID},
		Recipient:    &fakeconnector.Account{ID: fc.BotID(), Name: "signoutbot"},
		Conversation: &fakeconnector.Conversation{ID: channel + ";messageid=1001", ConversationType: "channel", TenantID: tenantID, IsGroup: true},
		Text:         "<at>signoutbot</at> signout group Test",
		Entities: []fakeconnector.Entity{{Type: "mention", Text: "<at>signoutbot</at>", Mentioned: &fakeconnector.Account{ID: fc.BotID(), Name: "signoutbot"}},
			{Type: "clientInfo", Timezone: "Europe/Berlin"}},
		ChannelData: &fakeconnector.ChannelData{Tenant: &fakeconnector.IDName{ID: tenantID}, Team: &fakeconnector.IDName{ID: "19:team"},
			Channel: &fakeconnector.IDName{ID: channel}}}
	// Unsigned: refused before anything is read.
	if resp, err := fc.SendRaw(ctx, base+"/api/messages", []byte(`{"type":"message"}`), ""); err != nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned activity: %+v, %v", resp, err)
	}
	resp, err := fc.Send(ctx, base+"/api/messages", act)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("signed command: %+v, %v", resp, err)
	}
	waitUntil(t, "the approval card in the channel", func() bool {
		for _, m := range fc.TopLevel(channel) {
			if strings.Contains(m.AllText(), "Sign-out request") {
				return true
			}
		}
		return false
	})
	// The download route of report files is mounted, needs no login, and gives nothing for a token it did not sign.
	dl, err := http.Get(base + "/files/eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
	if err != nil {
		t.Fatal(err)
	}
	dl.Body.Close()
	if dl.StatusCode != http.StatusNotFound {
		t.Errorf("GET /files/<forged token>: HTTP %d, want 404", dl.StatusCode)
	}
}

func TestServeRefusesBadTeamsConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"anonymous off loopback", map[string]string{"SIGNOUTBOT_TEAMS_ANONYMOUS": "1", "SIGNOUTBOT_LISTEN": "0.0.0.0:8080",
			"SIGNOUTBOT_TEAMS_ADMINS": "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f"}, []string{"SIGNOUTBOT_TEAMS_ANONYMOUS needs SIGNOUTBOT_LISTEN on loopback"}},
		{"anonymous with an app id", map[string]string{"SIGNOUTBOT_TEAMS_ANONYMOUS": "1", "MICROSOFT_APP_ID": "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f",
			"SIGNOUTBOT_TEAMS_ADMINS": "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f"}, []string{"cannot be combined with MICROSOFT_APP_ID"}},
		{"no tenant, no secret, bad admin", map[string]string{"MICROSOFT_APP_ID": "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f",
			"SIGNOUTBOT_TEAMS_ADMINS": "alice"}, []string{"MICROSOFT_APP_TENANT_ID", "MICROSOFT_APP_PASSWORD", `SIGNOUTBOT_TEAMS_ADMINS: "alice"`}},
		{"no admins", map[string]string{"MICROSOFT_APP_ID": "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", "MICROSOFT_APP_PASSWORD": "x",
			"MICROSOFT_APP_TENANT_ID": "11111111-2222-4333-8444-555555555555"}, []string{"SIGNOUTBOT_TEAMS_ADMINS (Entra object ids) or SIGNOUTBOT_ADMIN_GROUP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearSettings(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			t.Setenv("SIGNOUTBOT_DB", filepath.Join(t.TempDir(), "x.db"))
			root := newRoot()
			root.SetArgs([]string{"serve"})
			err := root.ExecuteContext(context.Background())
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// SIGNOUTBOT_DB selects the backend: a postgres:// URL is PostgreSQL (an unreachable one fails naming the
// setting), anything else a SQLite file.
func TestOpenStoreChoosesTheBackend(t *testing.T) {
	ctx := context.Background()
	st, err := openStore(ctx, filepath.Join(t.TempDir(), "bot.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := openStore(cctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=2"); err == nil ||
		!strings.Contains(err.Error(), "SIGNOUTBOT_DB") {
		t.Errorf("an unreachable PostgreSQL: %v", err)
	}
}
