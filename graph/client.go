package graph

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Config tunes the Graph client. Zero values take the defaults noted on each field.
type Config struct {
	GraphURL   string                 // default DefaultGraphURL
	Credential azcore.TokenCredential // required
	// RootCAs, when set, is the only set of roots trusted for Graph (the simulated tenant's self-signed
	// certificate in tests and rehearsals).
	RootCAs *x509.CertPool
	// WriteRate is the write ceiling the client paces itself to, in revocations per second. Entra ID allows one
	// app 3,000 writes per 150 s in one tenant: 20/s (the default).
	WriteRate float64
	// Concurrency is how many $batch requests may be in flight at once (default 4).
	Concurrency int
	// MaxAttempts bounds the tries of one request or batch item before it is reported failed (default 8).
	// 429 answers don't count against it: Graph told us when to come back.
	MaxAttempts int
	// RetryBaseDelay is the first back-off for failures without Retry-After (default 500 ms, doubling).
	RetryBaseDelay time.Duration
	// DefaultTokenLifetime applies when the tenant has no organization-default token lifetime policy. Teams
	// and Microsoft 365 clients can hold an access token for up to 2 h in tenants without Conditional
	// Access, so that is the safe default.
	DefaultTokenLifetime time.Duration
	Logger               *slog.Logger
}

func (c *Config) setDefaults() {
	if c.GraphURL == "" {
		c.GraphURL = DefaultGraphURL
	}
	c.GraphURL = strings.TrimRight(c.GraphURL, "/")
	if c.WriteRate <= 0 {
		c.WriteRate = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.RetryBaseDelay <= 0 {
		c.RetryBaseDelay = 500 * time.Millisecond
	}
	if c.DefaultTokenLifetime <= 0 {
		c.DefaultTokenLifetime = 2 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Client implements Directory over msgraph-sdk-go.
type Client struct {
	cfg     Config
	sdk     *msgraphsdk.GraphServiceClient
	adapter abstractions.RequestAdapter
	writes  *pacer
	log     *slog.Logger
}

var _ Directory = (*Client)(nil)

// graphScope is the only scope an app-only Graph token has.
const graphScope = "https://graph.microsoft.com/.default"

// New builds a client. It does not contact Graph.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if cfg.Credential == nil {
		return nil, errors.New("graph: no credential configured")
	}
	base, err := url.Parse(cfg.GraphURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("graph: SIGNOUTBOT_GRAPH_URL %q is not an absolute URL", cfg.GraphURL)
	}
	if base.Scheme != "https" && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("graph: SIGNOUTBOT_GRAPH_URL %q must use https", cfg.GraphURL)
	}
	// Tokens go to the configured Graph host only, never to a host a nextLink might name.
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cfg.Credential,
		[]string{graphScope}, []string{base.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph: auth provider: %w", err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, nil, nil, newHTTPClient(cfg.RootCAs))
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(cfg.GraphURL)
	return &Client{
		cfg:     cfg,
		sdk:     msgraphsdk.NewGraphServiceClient(adapter),
		adapter: adapter,
		writes:  newPacer(cfg.WriteRate, batchLimit),
		log:     cfg.Logger,
	}, nil
}

// newHTTPClient is the SDK's default middleware pipeline with kiota's retry handler switched off: this
// package retries itself, per request and per $batch item, so that every 429 also slows the pacer down and
// no retry is hidden from the results it reports.
func newHTTPClient(roots *x509.CertPool) *http.Client {
	opts := msgraphsdk.GetDefaultClientOptions()
	var mws []khttp.Middleware
	for _, mw := range msgraphcore.GetDefaultMiddlewaresWithOptions(&opts) {
		if _, ok := mw.(*khttp.RetryHandler); ok {
			mw = khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
				ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
			})
		}
		mws = append(mws, mw)
	}
	parent := http.DefaultTransport.(*http.Transport).Clone()
	parent.MaxIdleConnsPerHost = 32
	if roots != nil {
		parent.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent, mws...),
		// A nextLink is followed by the SDK itself; redirects are not expected from Graph.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       100 * time.Second,
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// consistencyEventual is the header Graph's advanced queries ($search, $count, casts on transitiveMembers) need.
func consistencyEventual() *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	return h
}
