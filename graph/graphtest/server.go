package graphtest

import (
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a simulated Entra tenant with a Microsoft Graph v1.0 front end.
// All methods are safe for concurrent use.
type Server struct {
	opts Options          // immutable after New except the fields guarded by cfgMu
	now  func() time.Time // the simulated Graph's clock: clock (else opts.Now) shifted by clockOffset
	// authNow is the clock tokens are issued and checked on: opts.Now shifted by clockOffset, never the
	// clock SetClock installs (see there).
	authNow func() time.Time
	// clockOffset (nanoseconds) is atomic because every request reads it and a test may change it mid-run.
	clockOffset atomic.Int64
	// clock, when set, replaces opts.Now as the base of Graph's clock (SetClock); atomic for the same reason.
	clock      atomic.Pointer[func() time.Time]
	dir        *directory
	throttle   *throttler
	faults     *faultInjector
	perms      permissions
	stats      counters
	signingKey []byte
	handler    http.Handler

	cfgMu      sync.Mutex
	latency    time.Duration
	replyDelay time.Duration // see SetReplyDelay
	faultRate  float64
	faultRand  *rand.Rand // guarded by cfgMu; seeded for repeatable fault patterns

	credOnce sync.Once
	cred     *clientCredential
	credErr  error

	lifeMu   sync.Mutex
	srv      *http.Server
	listener net.Listener
	url      string
	certPEM  []byte
	certPool *x509.CertPool
	client   *http.Client
	closed   chan struct{}
}

// New builds the deterministic sample tenant. It does not listen; use Start,
// StartAt or Handler.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		panic(fmt.Sprintf("graphtest: random signing key: %v", err)) // crypto/rand never fails on supported platforms
	}
	s := &Server{
		opts:       opts,
		dir:        newDirectory(opts.Seed),
		faults:     newFaultInjector(),
		signingKey: key,
		latency:    opts.Latency,
		faultRate:  opts.FaultRate,
		faultRand:  mrand(opts.Seed),
		closed:     make(chan struct{}),
	}
	s.perms.denied, s.perms.readFails = map[string]bool{}, map[string]*injectedFault{}
	s.clockOffset.Store(int64(opts.ClockOffset))
	s.now = func() time.Time {
		base := opts.Now
		if c := s.clock.Load(); c != nil {
			base = *c
		}
		return base().Add(time.Duration(s.clockOffset.Load()))
	}
	s.authNow = func() time.Time { return opts.Now().Add(time.Duration(s.clockOffset.Load())) }
	s.throttle = newThrottler(opts.Now,
		bucketConfig{capacity: opts.ReadBudget, window: opts.ReadWindow},
		bucketConfig{capacity: opts.WriteBudget, window: opts.WriteWindow})
	s.throttle.setConfig(reportBucket, bucketConfig{capacity: opts.AuditBudget, window: opts.AuditWindow})
	buildSampleTenant(s.dir, opts)
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

func mrand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x6661_756c_7473)) }

// Start listens on 127.0.0.1 with a random port, over HTTPS.
func (s *Server) Start() error { return s.StartAt("127.0.0.1:0") }

// StartAt listens on addr over HTTPS with a freshly generated self-signed
// certificate for 127.0.0.1, ::1 and localhost.
func (s *Server) StartAt(addr string) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.srv != nil {
		return errors.New("graphtest: server already started")
	}
	cert, certPEM, err := newServerCert()
	if err != nil {
		return fmt.Errorf("graphtest: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("graphtest: listen %s: %w", addr, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.srv, s.listener, s.certPEM, s.certPool = srv, ln, certPEM, pool
	s.url = "https://" + dialableAddr(ln.Addr())
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		MaxIdleConns:      100, MaxIdleConnsPerHost: 100,
		IdleConnTimeout: 30 * time.Second,
	}}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Error("graphtest server stopped", "err", err)
		}
	}()
	s.opts.Logger.Info("simulated tenant listening", "url", s.url, "tenant", s.opts.TenantID)
	return nil
}

// dialableAddr turns a wildcard listen address into one clients can dial and
// that the certificate covers.
func dialableAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Close stops the listener and drops all connections, aborting in-flight
// requests (including ones sleeping in simulated latency). Safe to call more
// than once.
func (s *Server) Close() {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	if s.srv != nil {
		// Not Shutdown: HTTP/2 clients keep connections open and graceful
		// shutdown would wait for them; a torn-down test tenant needn't drain.
		if err := s.srv.Close(); err != nil {
			s.opts.Logger.Debug("graphtest close", "err", err)
		}
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// URL is "https://127.0.0.1:PORT" once started ("" before).
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.url
}

// GraphURL is the Graph base URL, URL()+"/v1.0".
func (s *Server) GraphURL() string { return s.URL() + "/v1.0" }

// AuthorityHost is URL()+"/", for azidentity's Cloud.ActiveDirectoryAuthorityHost.
func (s *Server) AuthorityHost() string { return s.URL() + "/" }

// TenantID is the simulated tenant's id.
func (s *Server) TenantID() string { return s.opts.TenantID }

// ClientID is the app registered in the tenant (AppClientID).
func (s *Server) ClientID() string { return AppClientID }

// ClientSecret is that app's secret (AppClientSecret).
func (s *Server) ClientSecret() string { return AppClientSecret }

// Handler serves everything (auth, Graph, discovery) for mounting or httptest.
// Absolute URLs it returns use the request's Host.
func (s *Server) Handler() http.Handler { return s.handler }

// CertPEM is the server's TLS certificate (nil before Start).
func (s *Server) CertPEM() []byte {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return append([]byte(nil), s.certPEM...)
}

// CertPool trusts only the server's certificate (nil before Start).
func (s *Server) CertPool() *x509.CertPool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.certPool == nil {
		return nil
	}
	return s.certPool.Clone()
}

// HTTPClient trusts the server's certificate (nil before Start).
func (s *Server) HTTPClient() *http.Client {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.client
}

// ClientCertificatePEM is the registered app's certificate and PKCS#8 RSA key
// (PEM), for ClientCertificateCredential. The key is generated on first use
// rather than in New because RSA key generation is slow and most tests only
// use the secret; an assertion cannot have been signed before this was called.
func (s *Server) ClientCertificatePEM() []byte {
	cred, err := s.clientCredential()
	if err != nil {
		s.opts.Logger.Error("client certificate", "err", err)
		return nil
	}
	return append([]byte(nil), cred.pem...)
}

func (s *Server) clientCredential() (*clientCredential, error) {
	s.credOnce.Do(func() { s.cred, s.credErr = newClientCredential(AppClientID) })
	return s.cred, s.credErr
}

// SetLatency changes the delay added to every HTTP request.
func (s *Server) SetLatency(d time.Duration) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.latency = d
}

// SetWriteBudget changes the write bucket (n <0: unlimited) and refills it.
func (s *Server) SetWriteBudget(n int, window time.Duration) {
	if window <= 0 {
		window = DefaultWriteWindow
	}
	s.throttle.setConfig(writeBucket, bucketConfig{capacity: n, window: window})
}

// SetReadBudget changes the read bucket (n <0: unlimited) and refills it.
// Additive to the brief, symmetric with SetWriteBudget.
func (s *Server) SetReadBudget(n int, window time.Duration) {
	if window <= 0 {
		window = DefaultReadWindow
	}
	s.throttle.setConfig(readBucket, bucketConfig{capacity: n, window: window})
}

// SetAuditBudget changes the directory audit log's request limit per app (n <0: unlimited) and refills it.
// Graph's reporting API allows 5 requests per 10 s (the default); a test can scale that down, say to 5 per
// 500 ms, to see a client's pacing work without waiting for it.
func (s *Server) SetAuditBudget(n int, window time.Duration) {
	if window <= 0 {
		window = DefaultAuditWindow
	}
	s.throttle.setConfig(reportBucket, bucketConfig{capacity: n, window: window})
}

// SetClock makes now the base of the simulated Graph's clock in place of Options.Now (nil restores
// Options.Now), so a test that injects a fake clock into the bot can make Graph's timestamps follow it:
// Date headers, signInSessionsValidFromDateTime, revocation and audit times, innerError.date. The clock
// offset (SetClockOffset) still applies on top.
//
// Two things stay on Options.Now, because a fake clock that stands still or jumps hours ahead must not break
// them: throttling, which measures its windows there (a frozen clock would never refill a budget), and the
// access tokens the tenant issues and checks (azidentity caches a token by the host's real clock, and a jump
// past its expiry would make Graph refuse a token the SDK still holds as fresh).
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		s.clock.Store(nil)
		return
	}
	s.clock.Store(&now)
}

// SetClockOffset makes the simulated Graph's clock run d ahead of the host's (Options.Now, or the clock
// SetClock installed; negative d: behind) from now on: Date headers, the signInSessionsValidFromDateTime a
// revoke writes, audit times, innerError.date and token times follow it. Real tenants' clocks differ from a bot host's by seconds or more, and a bot that
// compares Graph's timestamps with its own clock must be caught out by it in tests.
func (s *Server) SetClockOffset(d time.Duration) { s.clockOffset.Store(int64(d)) }

// ClockOffset is the current offset set by SetClockOffset or Options.ClockOffset.
func (s *Server) ClockOffset() time.Duration { return time.Duration(s.clockOffset.Load()) }

// Now is the time on the simulated Graph's clock (Options.Now or SetClock's clock, plus the clock offset).
func (s *Server) Now() time.Time { return s.now() }

// SetFaultRate changes the probability of random 503s.
func (s *Server) SetFaultRate(p float64) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.faultRate = clampProbability(p)
}

// SetReplyDelay holds back every answer this long after Graph has acted on the request: the revocation is done,
// but the client does not know yet, as when the way back is slow or the client dies meanwhile.
func (s *Server) SetReplyDelay(d time.Duration) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.replyDelay = d
}

func (s *Server) currentReplyDelay() time.Duration {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.replyDelay
}

func (s *Server) currentLatency() time.Duration {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.latency
}

// randomFault rolls the dice for a transient 503.
func (s *Server) randomFault() bool {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.faultRate > 0 && s.faultRand.Float64() < s.faultRate
}

// Stats are cumulative counters since New or the last ResetStats.
type Stats struct {
	Requests             int // HTTP requests to /v1.0 (a $batch envelope counts once)
	BatchRequests        int // $batch envelopes
	BatchItems           int // items inside $batch envelopes
	Writes               int // accepted revokeSignInSessions calls
	Throttled429Requests int // direct requests answered 429 (budget or injected)
	Throttled429Items    int // batch items answered 429 (budget or injected)
	Faults5xx            int // 5xx answers, direct or item (random or injected)
	Unauthorized401      int // requests rejected for a missing/invalid token
	// AuditRequests counts reads of the directory audit log, direct or in $batch, that were put to its
	// budget: the ones it answered 429 included, ones refused 403 not.
	AuditRequests int
}

type counters struct {
	requests, batchRequests, batchItems, writes  atomic.Int64
	throttledRequests, throttledItems, faults5xx atomic.Int64
	unauthorized, auditRequests                  atomic.Int64
}

// Stats returns the counters; each is read atomically.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Requests: int(c.requests.Load()), BatchRequests: int(c.batchRequests.Load()),
		BatchItems: int(c.batchItems.Load()), Writes: int(c.writes.Load()),
		Throttled429Requests: int(c.throttledRequests.Load()), Throttled429Items: int(c.throttledItems.Load()),
		Faults5xx: int(c.faults5xx.Load()), Unauthorized401: int(c.unauthorized.Load()),
		AuditRequests: int(c.auditRequests.Load()),
	}
}

// ResetStats zeroes all counters.
func (s *Server) ResetStats() {
	c := &s.stats
	for _, a := range []*atomic.Int64{&c.requests, &c.batchRequests, &c.batchItems, &c.writes,
		&c.throttledRequests, &c.throttledItems, &c.faults5xx, &c.unauthorized, &c.auditRequests} {
		a.Store(0)
	}
}

// countOutcome updates the 429/5xx counters for one direct request or item.
func (s *Server) countOutcome(status int, item bool) {
	switch {
	case status == http.StatusTooManyRequests && item:
		s.stats.throttledItems.Add(1)
	case status == http.StatusTooManyRequests:
		s.stats.throttledRequests.Add(1)
	case status >= 500:
		s.stats.faults5xx.Add(1)
	}
}

// simulatedTenantInfo is served unauthenticated so `signoutbot serve` can
// discover how to sign in to a simulated tenant.
func (s *Server) handleWellKnown(w http.ResponseWriter, r *http.Request) {
	base := requestBase(r)
	writeJSON(w, http.StatusOK, jsonObject{
		{"tenantId", s.opts.TenantID},
		{"clientId", AppClientID},
		{"clientSecret", AppClientSecret},
		{"graphUrl", base + "/v1.0"},
		{"authorityHost", base + "/"},
	})
}

func isEventual(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get("ConsistencyLevel")), "eventual")
}
