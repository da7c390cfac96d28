package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/bot"
	slackbot "github.com/signoutbot/signoutbot/bot/slack"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store/sqlite"
)

type serveConfig struct {
	listen, db, admins, adminGroup, protected string
	graphURL, graphCA, credential             string
	signingSecret, botToken, appToken, apiURL string
	quorumAbove                               int
	expiry, defaultLifetime                   time.Duration
	writeRate                                 float64
}

func newServeCmd() *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the bot for Slack (HTTPS endpoints, or Socket Mode when SLACK_APP_TOKEN is set)",
		Long: `serve runs signoutbot for a Slack workspace. Every setting is a flag or an environment variable (flags win).
Routes: POST /slack/commands, POST /slack/interactions, GET /healthz.
With SLACK_APP_TOKEN set the bot also connects over Socket Mode, which needs no public URL.
Graph credentials come from the AZURE_* variables; with SIGNOUTBOT_GRAPH_URL pointing at a simulated tenant
(signoutbot faketenant) and no AZURE_* credentials it authenticates against that tenant's own token endpoint.`,
		Example: `  SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… SIGNOUTBOT_ADMINS=U012ABC,U034DEF \
  AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=… signoutbot serve`,
	}
	ef := envFlag{fs: cmd.Flags(), env: os.Getenv}
	ef.str(&c.listen, "listen", "SIGNOUTBOT_LISTEN", "127.0.0.1:8080", "HTTP address for Slack's requests and /healthz")
	ef.str(&c.db, "db", "SIGNOUTBOT_DB", "signoutbot.db", "SQLite database file")
	ef.str(&c.admins, "admins", "SIGNOUTBOT_ADMINS", "", "Slack user ids (U…) and user group ids (S…) allowed to request and approve")
	ef.str(&c.adminGroup, "admin-group", "SIGNOUTBOT_ADMIN_GROUP", "", "Entra group (name or id) admins must also belong to, matched by their Slack e-mail")
	ef.str(&c.protected, "protected", "SIGNOUTBOT_PROTECTED", "", "UPNs and group names or ids that are never signed out (break-glass accounts)")
	ef.str(&c.graphURL, "graph-url", "SIGNOUTBOT_GRAPH_URL", graph.DefaultGraphURL, "Microsoft Graph base URL (national cloud or simulated tenant)")
	ef.str(&c.graphCA, "graph-ca", "SIGNOUTBOT_GRAPH_CA", "", "PEM file of an extra certificate to trust for Graph (a simulated tenant's)")
	ef.str(&c.credential, "credential", "SIGNOUTBOT_CREDENTIAL", "auto", "auto, secret, certificate, workload-identity, managed-identity or simulated")
	ef.str(&c.signingSecret, "slack-signing-secret", "SLACK_SIGNING_SECRET", "", "Slack app signing secret (HTTP endpoints)")
	ef.str(&c.botToken, "slack-bot-token", "SLACK_BOT_TOKEN", "", "Slack bot token (xoxb-…)")
	ef.str(&c.appToken, "slack-app-token", "SLACK_APP_TOKEN", "", "Slack app-level token (xapp-…) for Socket Mode")
	ef.str(&c.apiURL, "slack-api-url", "SLACK_API_URL", "", "Slack Web API base URL (tests and rehearsals)")
	errs := []error{
		ef.integer(&c.quorumAbove, "quorum-above", "SIGNOUTBOT_QUORUM_ABOVE", 100, "scopes larger than this need two approvers"),
		ef.dur(&c.expiry, "expiry", "SIGNOUTBOT_EXPIRY", 30*time.Minute, "how long a request waits for approval"),
		ef.dur(&c.defaultLifetime, "token-lifetime", "SIGNOUTBOT_TOKEN_LIFETIME", 2*time.Hour, "access-token lifetime assumed when the tenant has no organization-default policy"),
		ef.num(&c.writeRate, "write-rate", "SIGNOUTBOT_WRITE_RATE", 20, "revocations per second (Entra ID allows one app 20/s per tenant)"),
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := errors.Join(errs...); err != nil {
			return err
		}
		return runServe(cmd.Context(), c)
	}
	return cmd
}

func (c serveConfig) validate() ([]string, []string, error) {
	var problems []error
	if c.botToken == "" {
		problems = append(problems, errors.New("SLACK_BOT_TOKEN is not set (the bot's xoxb- token)"))
	}
	if c.appToken != "" && !strings.HasPrefix(c.appToken, "xapp-") {
		problems = append(problems, errors.New("SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write"))
	}
	if c.signingSecret == "" && c.appToken == "" {
		problems = append(problems, errors.New("set SLACK_SIGNING_SECRET (HTTPS endpoints) or SLACK_APP_TOKEN (Socket Mode)"))
	}
	users, groups, err := splitAdmins(c.admins)
	if err != nil {
		problems = append(problems, err)
	} else if len(users)+len(groups) == 0 {
		problems = append(problems, errors.New("SIGNOUTBOT_ADMINS is empty: nobody could request or approve a sign-out"))
	}
	if c.quorumAbove < 1 {
		problems = append(problems, errors.New("SIGNOUTBOT_QUORUM_ABOVE must be at least 1"))
	}
	if c.expiry < time.Minute {
		problems = append(problems, errors.New("SIGNOUTBOT_EXPIRY must be at least 1m"))
	}
	if c.writeRate <= 0 || c.writeRate > 20 {
		problems = append(problems, errors.New("SIGNOUTBOT_WRITE_RATE must be above 0 and at most 20 (Graph's write limit per app and tenant)"))
	}
	return users, groups, errors.Join(problems...)
}

func runServe(ctx context.Context, c serveConfig) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	users, groups, err := c.validate()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
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
	st, err := sqlite.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkDirectorySettings(ctx, dir, list(c.protected), c.adminGroup); err != nil {
		return err
	}
	app := bot.NewApp(bot.Config{Store: st, Dir: dir, Protected: list(c.protected), AdminIDs: users, AdminUserGroups: groups,
		AdminEntraGroup: c.adminGroup, Policy: approvals.Policy{QuorumAbove: c.quorumAbove, Expiry: c.expiry}, Log: log})
	msgr := slackbot.NewMessenger(c.botToken, c.apiURL)
	app.AddMessenger(msgr)
	h := &slackbot.Handler{App: app, Messenger: msgr, SigningSecret: c.signingSecret, Log: log, Background: ctx}

	mux := http.NewServeMux()
	h.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("SIGNOUTBOT_LISTEN %s: %w", c.listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go app.RunScheduler(ctx, time.Second)
	if c.appToken != "" {
		go func() {
			if err := h.RunSocketMode(ctx, c.appToken); err != nil {
				log.Error("socket mode stopped", "err", err)
			}
		}()
	}
	log.Info("signoutbot serving", "listen", "http://"+ln.Addr().String(), "graph", c.graphURL, "credential", kind,
		"db", c.db, "socket_mode", c.appToken != "")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	h.Wait()
	return nil
}

// checkDirectorySettings resolves the groups the settings name, so a typo stops start-up instead of surfacing
// at the first request (when protection must work).
func checkDirectorySettings(ctx context.Context, dir graph.Directory, protected []string, adminGroup string) error {
	if _, err := scope.NewProtection(dir, protected).Set(ctx); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if adminGroup != "" {
		if _, err := dir.ResolveGroup(ctx, adminGroup); err != nil {
			return fmt.Errorf("configuration: SIGNOUTBOT_ADMIN_GROUP: %w", err)
		}
	}
	return nil
}
