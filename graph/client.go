package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
	// DefaultTokenLifetime is the access-token lifetime of apps no token lifetime policy covers, when the
	// tenant has no organization-default policy. Teams and Microsoft 365 clients can hold an access token for
	// up to 2 h in tenants without Conditional Access, so that is the safe default (and a shorter policy
	// assigned to some app does not lower it: the other apps still get it).
	DefaultTokenLifetime time.Duration
	// RequestTimeout bounds one attempt of one Graph call, $batch included, together with the token
	// acquisition it may need (default 60 s). Without it a stalled connection or token endpoint would hold a
	// revocation run for ever when the caller's context has no deadline.
	RequestTimeout time.Duration
	// AppID is the application (client) id the credential signs in as. RevocationAudits counts the audit
	// entries this app initiated, and the directory audit log names the app by it. Empty: it is read from the
	// appid claim of the client's own Graph token, which works with every credential this package makes
	// (secret, certificate, workload and managed identity, simulated); set it (AZURE_CLIENT_ID) where a
	// token's claims should not be relied on.
	AppID string
	// AuditRequests and AuditWindow are the reporting API's limit that reads of the directory audit log pace
	// themselves to: at most AuditRequests requests in any AuditWindow, less a margin (default 5 per 10 s,
	// Graph's limit per app per tenant).
	AuditRequests int
	AuditWindow   time.Duration
	// AuditPageSize is the $top of audit log reads (default 500).
	AuditPageSize int
	Logger        *slog.Logger
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
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.AuditRequests <= 0 {
		c.AuditRequests = 5
	}
	if c.AuditWindow <= 0 {
		c.AuditWindow = 10 * time.Second
	}
	if c.AuditPageSize <= 0 {
		c.AuditPageSize = 500
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
	audits  *windowLimiter // reads of the directory audit log
	log     *slog.Logger

	appMu      sync.Mutex
	tokenAppID string // the appid claim of our own token, once read (Config.AppID unset)
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
		auth, nil, nil, newHTTPClient(cfg.RootCAs, cfg.RequestTimeout))
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(cfg.GraphURL)
	return &Client{
		cfg:     cfg,
		sdk:     msgraphsdk.NewGraphServiceClient(adapter),
		adapter: adapter,
		writes:  newPacer(cfg.WriteRate, batchLimit),
		audits:  newWindowLimiter(cfg.AuditRequests, cfg.AuditWindow),
		log:     cfg.Logger,
	}, nil
}

// newHTTPClient is the SDK's default middleware pipeline with kiota's retry handler switched off: this
// package retries itself, per request and per $batch item, so that every 429 also slows the pacer down and
// no retry is hidden from the results it reports. Under the middleware sits dateCapture, which hands the
// response's Date header to whoever asked for it through the request's context.
func newHTTPClient(roots *x509.CertPool, timeout time.Duration) *http.Client {
	opts := msgraphsdk.GetDefaultClientOptions()
	var mws []khttp.Middleware
	for _, mw := range msgraphcore.GetDefaultMiddlewaresWithOptions(&opts) {
		if _, ok := mw.(*khttp.CompressionHandler); ok {
			mw = pooledCompression{} // the same wire format, without a new gzip writer per request
		}
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
		Transport: khttp.NewCustomTransportWithParentTransport(dateCapture{parent}, mws...),
		// A nextLink is followed by the SDK itself; redirects are not expected from Graph.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// A backstop for any request sent without Client.attempt's context, which bounds each try (token
		// acquisition included) by RequestTimeout; a little longer so that one reports first.
		Timeout: timeout + 5*time.Second,
	}
}

// dateHolder receives the Date header of the response to a request whose context carries it (withDateHolder).
// It is how sendBatch learns Graph's clock: kiota's BatchResponse keeps no outer response headers.
type dateHolder struct {
	mu   sync.Mutex
	date time.Time
}

func (h *dateHolder) set(t time.Time) {
	h.mu.Lock()
	h.date = t
	h.mu.Unlock()
}

// get is the last Date seen, zero when no response had a parseable one.
func (h *dateHolder) get() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.date
}

type dateHolderKey struct{}

// withDateHolder makes the HTTP responses to requests sent with ctx record their Date header in h.
func withDateHolder(ctx context.Context, h *dateHolder) context.Context {
	return context.WithValue(ctx, dateHolderKey{}, h)
}

// dateCapture is the RoundTripper under kiota's middleware: kiota builds its http.Request with the caller's
// context, so a holder put there by withDateHolder reaches this point.
type dateCapture struct{ next http.RoundTripper }

func (d dateCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if h, ok := req.Context().Value(dateHolderKey{}).(*dateHolder); ok {
		if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			h.set(t)
		}
	}
	return resp, nil
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
