package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Credential kinds, as named by SIGNOUTBOT_CREDENTIAL.
const (
	CredAuto            = "auto"
	CredSecret          = "secret"
	CredCertificate     = "certificate"
	CredWorkload        = "workload-identity"
	CredManagedIdentity = "managed-identity"
	CredSimulated       = "simulated"
)

// CredentialConfig says where to take credentials from. Env is normally os.Getenv.
type CredentialConfig struct {
	Kind     string // one of the Cred* constants; "" means auto
	Env      func(string) string
	GraphURL string
	RootCAs  *x509.CertPool // trust for a simulated tenant's self-signed certificate
}

// SimulatedTenantInfo is what a simulated tenant publishes at /.well-known/signoutbot-simulated-tenant.
type SimulatedTenantInfo struct {
	TenantID      string `json:"tenantId"`
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	GraphURL      string `json:"graphUrl"`
	AuthorityHost string `json:"authorityHost"`
}

// NewCredential picks an azidentity credential from the usual AZURE_* variables, like DefaultAzureCredential
// but deterministic and saying what it chose:
//   - AZURE_CLIENT_SECRET                      → client secret (with AZURE_TENANT_ID, AZURE_CLIENT_ID)
//   - AZURE_CLIENT_CERTIFICATE_PATH            → client certificate (+ AZURE_CLIENT_CERTIFICATE_PASSWORD)
//   - AZURE_FEDERATED_TOKEN_FILE               → workload identity (Kubernetes)
//   - IDENTITY_ENDPOINT / MSI_ENDPOINT present → managed identity (user-assigned when AZURE_CLIENT_ID is set)
//   - none of these, and the Graph URL is not Microsoft's → the simulated tenant's own token endpoint
//
// AZURE_AUTHORITY_HOST selects a national cloud's login host.
func NewCredential(ctx context.Context, cfg CredentialConfig) (azcore.TokenCredential, string, error) {
	env := cfg.Env
	if env == nil {
		env = os.Getenv
	}
	kind := strings.ToLower(strings.TrimSpace(cfg.Kind))
	if kind == "" || kind == CredAuto {
		kind = autoKind(env, cfg.GraphURL)
	}
	opts := azcore.ClientOptions{}
	if host := env("AZURE_AUTHORITY_HOST"); host != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: host}
	}
	tenant, client := env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID")
	need := func(names ...string) error {
		var missing []string
		for _, n := range names {
			if env(n) == "" {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("credential %s needs %s", kind, strings.Join(missing, ", "))
		}
		return nil
	}
	switch kind {
	case CredSecret:
		if err := need("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"); err != nil {
			return nil, kind, err
		}
		c, err := azidentity.NewClientSecretCredential(tenant, client, env("AZURE_CLIENT_SECRET"),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
		return c, kind, wrapCred(kind, err)
	case CredCertificate:
		if err := need("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"); err != nil {
			return nil, kind, err
		}
		data, err := os.ReadFile(env("AZURE_CLIENT_CERTIFICATE_PATH"))
		if err != nil {
			return nil, kind, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
		}
		var pw []byte
		if p := env("AZURE_CLIENT_CERTIFICATE_PASSWORD"); p != "" {
			pw = []byte(p)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return nil, kind, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
		}
		c, err := azidentity.NewClientCertificateCredential(tenant, client, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, SendCertificateChain: env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN") == "true"})
		return c, kind, wrapCred(kind, err)
	case CredWorkload:
		if err := need("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"); err != nil {
			return nil, kind, err
		}
		c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, TenantID: tenant, ClientID: client, TokenFilePath: env("AZURE_FEDERATED_TOKEN_FILE"),
		})
		return c, kind, wrapCred(kind, err)
	case CredManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if client != "" {
			mo.ID = azidentity.ClientID(client)
		}
		c, err := azidentity.NewManagedIdentityCredential(mo)
		return c, kind, wrapCred(kind, err)
	case CredSimulated:
		c, err := SimulatedCredential(ctx, cfg.GraphURL, cfg.RootCAs)
		return c, kind, err
	case "":
		return nil, kind, errors.New("no Graph credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET " +
			"(or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_FEDERATED_TOKEN_FILE), run on Azure with a managed identity, " +
			"or point SIGNOUTBOT_GRAPH_URL at a simulated tenant")
	default:
		return nil, kind, fmt.Errorf("SIGNOUTBOT_CREDENTIAL %q is not one of auto, secret, certificate, workload-identity, managed-identity, simulated", cfg.Kind)
	}
}

func autoKind(env func(string) string, graphURL string) string {
	switch {
	case env("AZURE_CLIENT_SECRET") != "":
		return CredSecret
	case env("AZURE_CLIENT_CERTIFICATE_PATH") != "":
		return CredCertificate
	case env("AZURE_FEDERATED_TOKEN_FILE") != "":
		return CredWorkload
	case env("IDENTITY_ENDPOINT") != "" || env("MSI_ENDPOINT") != "":
		return CredManagedIdentity
	case graphURL != "" && !isMicrosoftGraph(graphURL):
		return CredSimulated
	}
	return ""
}

// isMicrosoftGraph reports whether u is one of Microsoft's Graph endpoints (global or national clouds).
func isMicrosoftGraph(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := strings.ToLower(p.Hostname())
	for _, suffix := range []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"} {
		if h == suffix || strings.HasSuffix(h, "."+suffix) {
			return true
		}
	}
	return false
}

func wrapCred(kind string, err error) error {
	if err != nil {
		return fmt.Errorf("credential %s: %w", kind, err)
	}
	return nil
}

// SimulatedCredential authenticates against a simulated tenant with the real azidentity client-secret
// credential, using the tenant and app it publishes, so rehearsals run the production credential code.
func SimulatedCredential(ctx context.Context, graphURL string, roots *x509.CertPool) (azcore.TokenCredential, error) {
	info, err := FetchSimulatedTenant(ctx, graphURL, roots)
	if err != nil {
		return nil, err
	}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: info.AuthorityHost}}
	if roots != nil {
		opts.Transport = trustingClient(roots)
	}
	c, err := azidentity.NewClientSecretCredential(info.TenantID, info.ClientID, info.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	return c, wrapCred(CredSimulated, err)
}

// FetchSimulatedTenant reads a simulated tenant's published app registration.
func FetchSimulatedTenant(ctx context.Context, graphURL string, roots *x509.CertPool) (SimulatedTenantInfo, error) {
	var info SimulatedTenantInfo
	u, err := url.Parse(graphURL)
	if err != nil || u.Host == "" {
		return info, fmt.Errorf("SIGNOUTBOT_GRAPH_URL %q is not an absolute URL", graphURL)
	}
	wk := u.Scheme + "://" + u.Host + "/.well-known/signoutbot-simulated-tenant"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wk, nil)
	if err != nil {
		return info, err
	}
	resp, err := trustingClient(roots).Do(req)
	if err != nil {
		return info, fmt.Errorf("SIGNOUTBOT_GRAPH_URL is not Microsoft Graph and no AZURE_* credentials are set, "+
			"so it should be a simulated tenant, but %s did not answer: %w", wk, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("%s answered %s: is SIGNOUTBOT_GRAPH_URL a simulated tenant? Otherwise set AZURE_* credentials", wk, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("%s: %w", wk, err)
	}
	return info, nil
}

func trustingClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

var _ policy.Transporter = (*http.Client)(nil)
