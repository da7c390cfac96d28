package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/bot/teams"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/store"
	"github.com/signoutbot/signoutbot/store/postgres"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

type serveConfig struct {
	listen, db, admins, adminGroup, protected string
	identities                                string
	graphURL, graphCA, credential             string
	signingSecret, botToken, appToken, apiURL string
	teamID, appID                             string
	// Teams (the Bot Framework's usual names).
	msAppID, msAppPassword, msAppTenant, msAppCert, msAppType string
	teamsAdmins, teamsOpenID, teamsAuthority, teamsCA         string
	teamsAnonymous                                            bool
	quorumAbove                                               int
	expiry, defaultLifetime, crossCheck                       time.Duration
	leaseTTL                                                  time.Duration
	writeRate                                                 float64
	// Report files: the bot's public address for download links, and the key that signs them.
	publicURL, fileKey string
}

func newServeCmd() *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the bot for Slack, Microsoft Teams, or both",
		Long: `serve runs signoutbot for a Slack workspace, a Microsoft Teams tenant, or both, in one process and one store.
Every setting is a flag or an environment variable (flags win). Slack is on when SLACK_BOT_TOKEN is set, Teams when
MICROSOFT_APP_ID is set (or SIGNOUTBOT_TEAMS_ANONYMOUS=1 for Microsoft's local developer tools).
Routes: POST /slack/commands, POST /slack/interactions (Slack), POST /api/messages (Teams), GET /files/{token}
(report files behind signed links), GET /healthz.
With SLACK_APP_TOKEN set the bot also connects over Socket Mode, which needs no public URL.
Graph credentials come from the AZURE_* variables; with SIGNOUTBOT_GRAPH_URL pointing at a simulated tenant
(signoutbot faketenant) and no AZURE_* credentials it authenticates against that tenant's own token endpoint.`,
		Example: `  SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… SIGNOUTBOT_ADMINS=U012ABC,U034DEF \
  AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=… signoutbot serve`,
	}
	ef := envFlag{fs: cmd.Flags(), env: os.Getenv}
	ef.str(&c.listen, "listen", "SIGNOUTBOT_LISTEN", "127.0.0.1:8080", "HTTP address for Slack's requests and /healthz")
	ef.str(&c.db, "db", "SIGNOUTBOT_DB", "signoutbot.db", "SQLite database file, or a postgres:// URL")
	ef.str(&c.admins, "admins", "SIGNOUTBOT_ADMINS", "", "Slack user ids (U…) and user group ids (S…) allowed to request and approve")
	ef.str(&c.adminGroup, "admin-group", "SIGNOUTBOT_ADMIN_GROUP", "", "Entra group (name or id) admins must also belong to, matched by their Slack e-mail")
	ef.str(&c.identities, "identities", "SIGNOUTBOT_IDENTITIES", "", "Slack user id = Entra UPN or object id, comma separated, for workspaces whose profile e-mails are not vouched for by SSO")
	ef.str(&c.protected, "protected", "SIGNOUTBOT_PROTECTED", "", "UPNs and group names or ids that are never signed out (break-glass accounts)")
	ef.str(&c.graphURL, "graph-url", "SIGNOUTBOT_GRAPH_URL", graph.DefaultGraphURL, "Microsoft Graph base URL (national cloud or simulated tenant)")
	ef.str(&c.graphCA, "graph-ca", "SIGNOUTBOT_GRAPH_CA", "", "PEM file of an extra certificate to trust for Graph (a simulated tenant's)")
	ef.str(&c.credential, "credential", "SIGNOUTBOT_CREDENTIAL", "auto", "auto, secret, certificate, workload-identity, managed-identity or simulated")
	ef.str(&c.signingSecret, "slack-signing-secret", "SLACK_SIGNING_SECRET", "", "Slack app signing secret (HTTP endpoints)")
	ef.str(&c.botToken, "slack-bot-token", "SLACK_BOT_TOKEN", "", "Slack bot token (xoxb-…)")
	ef.str(&c.appToken, "slack-app-token", "SLACK_APP_TOKEN", "", "Slack app-level token (xapp-…) for Socket Mode")
	ef.str(&c.apiURL, "slack-api-url", "SLACK_API_URL", "", "Slack Web API base URL (tests and rehearsals)")
	ef.str(&c.teamID, "slack-team-id", "SLACK_TEAM_ID", "", "only act on commands and clicks from this Slack workspace (T…)")
	ef.str(&c.appID, "slack-app-id", "SLACK_APP_ID", "", "only act on commands and clicks sent to this Slack app (A…)")
	ef.str(&c.msAppID, "microsoft-app-id", "MICROSOFT_APP_ID", "", "Teams: the Azure Bot's Microsoft App ID (an Entra application id)")
	ef.str(&c.msAppPassword, "microsoft-app-password", "MICROSOFT_APP_PASSWORD", "", "Teams: the app's client secret")
	ef.str(&c.msAppTenant, "microsoft-app-tenant-id", "MICROSOFT_APP_TENANT_ID", "", "Teams: the bot's own tenant (single-tenant bot)")
	ef.str(&c.msAppCert, "microsoft-app-certificate", "MICROSOFT_APP_CERTIFICATE_PATH", "", "Teams: a client certificate (PEM or PKCS#12) instead of the secret")
	ef.str(&c.msAppType, "microsoft-app-type", "MICROSOFT_APP_TYPE", "SingleTenant", "Teams: SingleTenant, or UserAssignedMSI for a managed identity")
	ef.str(&c.teamsAdmins, "teams-admins", "SIGNOUTBOT_TEAMS_ADMINS", "", "Teams: Entra object ids of the admins (comma separated); or use SIGNOUTBOT_ADMIN_GROUP")
	ef.str(&c.teamsOpenID, "teams-openid-url", "SIGNOUTBOT_TEAMS_OPENID_URL", "", "Teams: Bot Connector OpenID metadata URL (tests and rehearsals)")
	ef.str(&c.teamsAuthority, "teams-authority-host", "SIGNOUTBOT_TEAMS_AUTHORITY_HOST", "", "Teams: login host for the app token (tests and rehearsals)")
	ef.str(&c.publicURL, "public-url", "SIGNOUTBOT_PUBLIC_URL", "", "the bot's public address (https://…), for links to report files (GET /files/{token}); needed on Teams")
	ef.str(&c.fileKey, "file-key", "SIGNOUTBOT_FILE_KEY", "", "key that signs report download links (at least 32 characters; default: one kept in the database)")
	ef.str(&c.teamsCA, "teams-ca", "SIGNOUTBOT_TEAMS_CA", "", "Teams: PEM file of an extra certificate to trust for the login host (tests and rehearsals)")
	errs := []error{
		ef.boolean(&c.teamsAnonymous, "teams-anonymous", "SIGNOUTBOT_TEAMS_ANONYMOUS", false, "Teams: accept unauthenticated activities from loopback (Microsoft's local developer tools only; needs no app id and a loopback listener)"),
		ef.integer(&c.quorumAbove, "quorum-above", "SIGNOUTBOT_QUORUM_ABOVE", 100, "scopes larger than this need two approvers"),
		ef.dur(&c.expiry, "expiry", "SIGNOUTBOT_EXPIRY", 30*time.Minute, "how long a request waits for approval"),
		ef.dur(&c.defaultLifetime, "token-lifetime", "SIGNOUTBOT_TOKEN_LIFETIME", 2*time.Hour, "access-token lifetime assumed when the tenant has no organization-default policy"),
		ef.dur(&c.crossCheck, "audit-crosscheck", "SIGNOUTBOT_AUDIT_CROSSCHECK", 5*time.Minute, "how long after a run the directory audit log is checked for its revocations (0: never; needs AuditLog.Read.All)"),
		ef.num(&c.writeRate, "write-rate", "SIGNOUTBOT_WRITE_RATE", 20, "revocations per second (Entra ID allows one app 20/s per tenant)"),
		ef.dur(&c.leaseTTL, "lease-ttl", "SIGNOUTBOT_LEASE_TTL", 30*time.Second, "replicas on one PostgreSQL: how soon another replica takes over the work of one that died (its leases lapse)"),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := errors.Join(errs...); err != nil {
			return err
		}
		return runServe(cmd.Context(), c)
	}
	return cmd
}

func (c serveConfig) slack() bool {
	return c.botToken != "" || c.signingSecret != "" || c.appToken != ""
}
func (c serveConfig) teams() bool { return c.msAppID != "" || c.teamsAnonymous }

func (c serveConfig) validate() ([]string, []string, error) {
	var problems []error
	if !c.slack() && !c.teams() {
		problems = append(problems, errors.New("no chat platform is configured: for Slack set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET "+
			"(or SLACK_APP_TOKEN) and SIGNOUTBOT_ADMINS; for Teams set MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, "+
			"MICROSOFT_APP_TENANT_ID and SIGNOUTBOT_TEAMS_ADMINS"))
	}
	var users, groups []string
	if c.slack() {
		if c.botToken == "" {
			problems = append(problems, errors.New("SLACK_BOT_TOKEN is not set (the bot's xoxb- token)"))
		}
		if c.appToken != "" && !strings.HasPrefix(c.appToken, "xapp-") {
			problems = append(problems, errors.New("SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write"))
		}
		if c.signingSecret == "" && c.appToken == "" {
			problems = append(problems, errors.New("set SLACK_SIGNING_SECRET (HTTPS endpoints) or SLACK_APP_TOKEN (Socket Mode)"))
		}
		if c.teamID != "" && (c.teamID[0] != 'T' || !isSlackID(c.teamID)) {
			problems = append(problems, fmt.Errorf("SLACK_TEAM_ID: %q is not a Slack workspace id (T…, under Settings → About this workspace)", c.teamID))
		}
		if c.appID != "" && (c.appID[0] != 'A' || !isSlackID(c.appID)) {
			problems = append(problems, fmt.Errorf("SLACK_APP_ID: %q is not a Slack app id (A…, under the app's Basic Information)", c.appID))
		}
		var err error
		users, groups, err = splitAdmins(c.admins)
		if err != nil {
			problems = append(problems, err)
		} else if len(users)+len(groups) == 0 {
			problems = append(problems, errors.New("SIGNOUTBOT_ADMINS is empty: nobody could request or approve a sign-out in Slack"))
		}
	}
	if c.teams() {
		problems = append(problems, c.validateTeams()...)
	}
	problems = append(problems, c.checkFileSettings()...)
	if c.quorumAbove < 1 {
		problems = append(problems, errors.New("SIGNOUTBOT_QUORUM_ABOVE must be at least 1"))
	}
	if c.leaseTTL < time.Second {
		problems = append(problems, errors.New("SIGNOUTBOT_LEASE_TTL must be at least 1s"))
	}
	if c.expiry < time.Minute {
		problems = append(problems, errors.New("SIGNOUTBOT_EXPIRY must be at least 1m"))
	}
	// A simulated tenant may be scaled up (signoutbot faketenant --write-budget/--write-window), so that a rehearsal
	// of a 100,000-user cutover takes a minute; real Graph never allows one app more than 20 writes per second.
	if c.writeRate <= 0 || c.writeRate > 20 && c.credential != "simulated" {
		problems = append(problems, errors.New("SIGNOUTBOT_WRITE_RATE must be above 0 and at most 20 (Graph's write limit per app and tenant; "+
			"more only against a simulated tenant with SIGNOUTBOT_CREDENTIAL=simulated)"))
	}
	return users, groups, errors.Join(problems...)
}

func (c serveConfig) validateTeams() []error {
	var problems []error
	switch {
	case c.teamsAnonymous && c.msAppID != "":
		problems = append(problems, errors.New("SIGNOUTBOT_TEAMS_ANONYMOUS is for Microsoft's local developer tools only and cannot be "+
			"combined with MICROSOFT_APP_ID"))
	case c.teamsAnonymous:
		if host, _, err := net.SplitHostPort(c.listen); err != nil || !isLoopback(host) {
			problems = append(problems, fmt.Errorf("SIGNOUTBOT_TEAMS_ANONYMOUS needs SIGNOUTBOT_LISTEN on loopback (127.0.0.1 or [::1]), not %q", c.listen))
		}
	default:
		if !guidRE.MatchString(c.msAppID) {
			problems = append(problems, fmt.Errorf("MICROSOFT_APP_ID %q is not an app id (a GUID)", c.msAppID))
		}
		if !guidRE.MatchString(c.msAppTenant) {
			problems = append(problems, errors.New("MICROSOFT_APP_TENANT_ID must be the bot's own tenant id (a GUID): new bots are single-tenant"))
		}
		if c.msAppType != "UserAssignedMSI" && c.msAppPassword == "" && c.msAppCert == "" {
			problems = append(problems, errors.New("set MICROSOFT_APP_PASSWORD (client secret) or MICROSOFT_APP_CERTIFICATE_PATH, "+
				"or MICROSOFT_APP_TYPE=UserAssignedMSI for a managed identity"))
		}
	}
	if list(c.teamsAdmins) == nil && c.adminGroup == "" {
		problems = append(problems, errors.New("SIGNOUTBOT_TEAMS_ADMINS (Entra object ids) or SIGNOUTBOT_ADMIN_GROUP must name the Teams admins"))
	}
	for _, id := range list(c.teamsAdmins) {
		if !guidRE.MatchString(id) {
			problems = append(problems, fmt.Errorf("SIGNOUTBOT_TEAMS_ADMINS: %q is not an Entra object id (a GUID)", id))
		}
	}
	return problems
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, c serveConfig) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	users, groups, err := c.validate()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	startProfiling(ctx, log)
	setMemoryLimit(log)
	roots, err := loadCA(c.graphCA)
	if err != nil {
		return err
	}
	cred, kind, err := graph.NewCredential(ctx, graph.CredentialConfig{Kind: c.credential, GraphURL: c.graphURL, RootCAs: roots})
	if err != nil {
		return err
	}
	dir, err := graph.New(graph.Config{GraphURL: c.graphURL, Credential: cred, RootCAs: roots, WriteRate: c.writeRate,
		DefaultTokenLifetime: c.defaultLifetime, Logger: log})
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c.db)
	if err != nil {
		return err
	}
	defer st.Close()
	idMap, err := parseIdentities(c.identities)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	fileKey, err := c.fileLinkKey(ctx, st)
	if err != nil {
		return err
	}
	// NewApp resolves the protected accounts and the admin group to object ids: a typo stops start-up here
	// instead of protecting nobody.
	app, err := bot.NewApp(ctx, bot.Config{Store: st, Dir: dir, Protected: list(c.protected), AdminIDs: users, AdminUserGroups: groups,
		FileKey: fileKey, PublicURL: c.publicBase(),
		AdminEntraGroup: c.adminGroup, Identities: idMap, DefaultTokenLifetime: c.defaultLifetime, WriteRate: c.writeRate,
		TeamsAdmins: list(c.teamsAdmins), CrossCheckAfter: crossCheckSetting(c.crossCheck), LeaseTTL: c.leaseTTL,
		Policy: approvals.Policy{QuorumAbove: c.quorumAbove, Expiry: c.expiry}, Log: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	var waits []func()
	var h *slackbot.Handler
	if c.slack() {
		msgr := slackbot.NewMessenger(c.botToken, c.apiURL)
		app.AddMessenger(msgr)
		h = &slackbot.Handler{App: app, Messenger: msgr, SigningSecret: c.signingSecret, TeamID: c.teamID, AppID: c.appID,
			Log: log, Background: ctx}
		h.Routes(mux)
		waits = append(waits, h.Wait)
	}
	if c.teams() {
		th, err := c.teamsHandler(ctx, app, log)
		if err != nil {
			return err
		}
		th.Routes(mux)
		waits = append(waits, th.Wait)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// Report files for whoever holds a signed link (Teams' threads link here); the token is the permission.
	mux.Handle("GET /files/{token}", app.FileHandler())
	if c.teams() && c.publicURL == "" {
		log.Warn("SIGNOUTBOT_PUBLIC_URL is not set: Teams threads of requests above 50 users will say that their report files cannot be linked")
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("SIGNOUTBOT_LISTEN %s: %w", c.listen, err)
	}
	srv := newHTTPServer(mux)
	go func() { _ = srv.Serve(ln) }()
	go app.RunScheduler(ctx, time.Second)
	if h != nil && c.appToken != "" {
		go func() {
			if err := h.RunSocketMode(ctx, c.appToken); err != nil {
				log.Error("socket mode stopped", "err", err)
			}
		}()
	}
	log.Info("signoutbot serving", "listen", "http://"+ln.Addr().String(), "graph", c.graphURL, "credential", kind,
		"db", c.db, "slack", c.slack(), "socket_mode", c.appToken != "", "teams", c.teams(), "teams_anonymous", c.teamsAnonymous)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	for _, wait := range waits {
		wait()
	}
	return nil
}

// teamsHandler builds the Teams adapter: the Bot Connector's tokens are checked on every request, and the bot's
// own app token (scope api.botframework.com) comes from its own tenant through azidentity.
func (c serveConfig) teamsHandler(ctx context.Context, app *bot.App, log *slog.Logger) (*teams.Handler, error) {
	var cred azcore.TokenCredential
	client, err := c.teamsHTTPClient()
	if err != nil {
		return nil, err
	}
	if !c.teamsAnonymous {
		if cred, err = c.teamsCredential(client); err != nil {
			return nil, err
		}
	}
	msgr, err := teams.NewMessenger(teams.MessengerConfig{AppID: c.msAppID, Credential: cred, HTTPClient: client, Log: log})
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	app.AddMessenger(msgr)
	hc := teams.HandlerConfig{App: app, Messenger: msgr, Anonymous: c.teamsAnonymous, TenantID: c.msAppTenant, Background: ctx, Log: log}
	if !c.teamsAnonymous {
		if hc.Auth, err = teams.NewAuthenticator(teams.AuthConfig{AppID: c.msAppID, OpenIDMetadataURL: c.teamsOpenID, HTTPClient: client,
			Log: log}); err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
	}
	h, err := teams.NewHandler(hc)
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return h, nil
}

// teamsHTTPClient trusts SIGNOUTBOT_TEAMS_CA as well as the system's roots (nil without it: the defaults).
func (c serveConfig) teamsHTTPClient() (*http.Client, error) {
	if c.teamsCA == "" {
		return nil, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	pem, err := os.ReadFile(c.teamsCA)
	if err != nil {
		return nil, fmt.Errorf("SIGNOUTBOT_TEAMS_CA: %w", err)
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SIGNOUTBOT_TEAMS_CA: %s holds no PEM certificate", c.teamsCA)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}, nil
}

// teamsCredential is the bot's app registration: a client secret, a client certificate, or a user-assigned
// managed identity (MICROSOFT_APP_TYPE=UserAssignedMSI, the Bot Framework's own name for it).
func (c serveConfig) teamsCredential(client *http.Client) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{}
	if c.teamsAuthority != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: c.teamsAuthority}
	}
	if client != nil {
		opts.Transport = client
	}
	switch {
	case c.msAppType == "UserAssignedMSI":
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts,
			ID: azidentity.ClientID(c.msAppID)})
	case c.msAppPassword != "":
		return azidentity.NewClientSecretCredential(c.msAppTenant, c.msAppID, c.msAppPassword,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: c.teamsAuthority != ""})
	}
	data, err := os.ReadFile(c.msAppCert)
	if err != nil {
		return nil, fmt.Errorf("MICROSOFT_APP_CERTIFICATE_PATH: %w", err)
	}
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil {
		return nil, fmt.Errorf("MICROSOFT_APP_CERTIFICATE_PATH: %w", err)
	}
	return azidentity.NewClientCertificateCredential(c.msAppTenant, c.msAppID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: c.teamsAuthority != ""})
}

// newHTTPServer bounds every phase of a connection, so slow or idle clients (anyone can reach the Slack
// endpoints) cannot hold connections and goroutines open: headers within 10 s, the whole request within 30 s
// (Slack's bodies are a few kilobytes, and it gives up on an answer after 3 s anyway), the answer within
// 60 s, and a kept-alive connection closes after 2 minutes without a request.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
}

// parseIdentities reads SIGNOUTBOT_IDENTITIES: "U012ABCDE=alice@contoso.com,U034FGHIJ=6f1c…" binds Slack
// accounts to Entra users explicitly, for workspaces whose profile e-mails are not vouched for by SSO.
func parseIdentities(s string) (map[string]string, error) {
	m := map[string]string{}
	var problems []error
	for _, part := range list(s) {
		id, ref, ok := strings.Cut(part, "=")
		id, ref = strings.TrimSpace(id), strings.TrimSpace(ref)
		switch {
		case !ok || id == "" || ref == "":
			problems = append(problems, fmt.Errorf("SIGNOUTBOT_IDENTITIES: %q is not chat-user-id=UPN-or-object-id", part))
		case m[id] != "" && !strings.EqualFold(m[id], ref):
			problems = append(problems, fmt.Errorf("SIGNOUTBOT_IDENTITIES: %s is mapped twice (%s and %s)", id, m[id], ref))
		default:
			m[id] = ref
		}
	}
	return m, errors.Join(problems...)
}

// crossCheckSetting maps SIGNOUTBOT_AUDIT_CROSSCHECK to the core's setting, where 0 means the default.
func crossCheckSetting(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// openStore opens SIGNOUTBOT_DB: a postgres:// URL selects PostgreSQL (several replicas share one database);
// anything else is a SQLite file.
func openStore(ctx context.Context, db string) (store.Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("SIGNOUTBOT_DB: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("SIGNOUTBOT_DB: %w", err)
	}
	return st, nil
}
