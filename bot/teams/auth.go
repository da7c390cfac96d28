package teams

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Values of "Authenticate requests from the Bot Connector service".
const (
	// BotFrameworkOpenIDURL is the Bot Connector's OpenID metadata document, whose jwks_uri lists the keys that
	// sign the tokens it sends to bots.
	BotFrameworkOpenIDURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	// BotFrameworkIssuer is the issuer of every token the Bot Connector sends to a bot.
	BotFrameworkIssuer = "https://api.botframework.com"
	// ClockSkew is the clock skew the protocol allows when checking a token's times.
	ClockSkew = 5 * time.Minute
	// DefaultKeyRefresh is how long fetched signing keys are trusted before they are fetched again.
	DefaultKeyRefresh = 24 * time.Hour
	// DefaultUnknownKeyRefresh is the least time between two fetches caused by tokens signed with a key the bot
	// does not know: a key rotation is picked up at once, while a flood of forged tokens costs one fetch a minute.
	DefaultUnknownKeyRefresh = time.Minute
)

// maxMetadata bounds what is read of the OpenID metadata and key documents (a few kilobytes in practice).
const maxMetadata = 1 << 20

// ErrUnauthorized means a request's token is missing or invalid (answered with HTTP 401).
var ErrUnauthorized = errors.New("teams: unauthorized")

// ErrForbidden means a valid token does not cover the activity it came with (answered with HTTP 403): another
// service URL than the token names, or a channel its signing key is not endorsed for.
var ErrForbidden = errors.New("teams: forbidden")

// AuthConfig configures an Authenticator.
type AuthConfig struct {
	// AppID is the bot's Microsoft App ID: the audience every token must name.
	AppID string
	// OpenIDMetadataURL is the OpenID metadata document (default BotFrameworkOpenIDURL; tests use a local one).
	OpenIDMetadataURL string
	// HTTPClient fetches the metadata and keys (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// KeyRefresh and UnknownKeyRefresh default to DefaultKeyRefresh and DefaultUnknownKeyRefresh.
	KeyRefresh, UnknownKeyRefresh time.Duration
	// Now is the clock tokens are checked against (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Authenticator checks the bearer tokens the Bot Connector sends with every activity, as "Authenticate requests
// from the Bot Connector service" requires: signed (RS256 only) by a key listed in the Bot Connector's OpenID
// metadata, issued by https://api.botframework.com for this bot's app id, within its validity (5 minutes of clock
// skew), and — once the activity is read — naming the activity's service URL, with a signing key endorsed for
// the activity's channel.
//
// The keys are fetched and cached here rather than through a generic JWKS cache: the check needs each key's
// "endorsements", a Bot Framework member that generic caches drop, and reading key material and endorsements
// from one fetched document means the two can never disagree. jwkset (the JWK library behind keyfunc) parses
// and validates the key material itself.
type Authenticator struct {
	appID       string
	metadataURL string
	client      *http.Client
	refresh     time.Duration
	unknown     time.Duration
	now         func() time.Time
	log         *slog.Logger
	parser      *jwt.Parser

	mu      sync.Mutex
	keys    map[string]signingKey
	algs    []string  // id_token_signing_alg_values_supported of the metadata
	fetched time.Time // last successful fetch
	tried   time.Time // last fetch attempt
	// unknownTried is the last fetch caused by an unknown key id.
	unknownTried time.Time
	fetches      int
	fetchErr     error
}

type signingKey struct {
	key          any
	endorsements []string
}

// NewAuthenticator validates the configuration. Keys are fetched on first use.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if cfg.AppID == "" {
		return nil, errors.New("teams: the bot's app id (token audience) is required")
	}
	a := &Authenticator{appID: cfg.AppID, metadataURL: cfg.OpenIDMetadataURL, client: cfg.HTTPClient, refresh: cfg.KeyRefresh,
		unknown: cfg.UnknownKeyRefresh, now: cfg.Now, log: cfg.Log}
	if a.metadataURL == "" {
		a.metadataURL = BotFrameworkOpenIDURL
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 10 * time.Second}
	}
	if a.refresh <= 0 {
		a.refresh = DefaultKeyRefresh
	}
	if a.unknown <= 0 {
		a.unknown = DefaultUnknownKeyRefresh
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	// Only RS256: a token whose header names "none", HS256 (signed with the public key as a shared secret) or
	// anything else is refused before any key is looked at.
	a.parser = jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(BotFrameworkIssuer),
		jwt.WithAudience(cfg.AppID), jwt.WithLeeway(ClockSkew), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return a.now() }))
	return a, nil
}

// AppID is the audience tokens must name.
func (a *Authenticator) AppID() string { return a.appID }

// KeyFetches is how many times the keys were fetched (for tests and diagnostics).
func (a *Authenticator) KeyFetches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}

// Token is what a validated token vouches for.
type Token struct {
	// ServiceURL is the token's serviceurl claim: the only service URL activities sent with it may name.
	ServiceURL string
	// Endorsements are the channels the signing key is endorsed for.
	Endorsements []string
	KeyID        string
}

type connectorClaims struct {
	ServiceURL string `json:"serviceurl"`
	jwt.RegisteredClaims
}

// Authenticate validates the Authorization header of a request. Errors wrap ErrUnauthorized.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Token, error) {
	scheme, raw, ok := strings.Cut(strings.TrimSpace(header), " ")
	raw = strings.TrimSpace(raw)
	if header == "" || !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return Token{}, fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	var tok Token
	var claims connectorClaims
	_, err := a.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no signing key (kid)")
		}
		k, algs, err := a.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(algs, t.Method.Alg()) {
			return nil, fmt.Errorf("algorithm %s is not among the metadata's %v", t.Method.Alg(), algs)
		}
		tok.KeyID, tok.Endorsements = kid, k.endorsements
		return k.key, nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if claims.ServiceURL == "" {
		return Token{}, fmt.Errorf("%w: token has no serviceurl claim", ErrUnauthorized)
	}
	tok.ServiceURL = claims.ServiceURL
	return tok, nil
}

// Covers checks that the token may carry an activity with this service URL and channel id. Errors wrap
// ErrForbidden.
func (t Token) Covers(serviceURL, channelID string) error {
	if serviceURL != t.ServiceURL {
		return fmt.Errorf("%w: the activity's serviceUrl %q is not the token's %q", ErrForbidden, serviceURL, t.ServiceURL)
	}
	if channelID == "" || !slices.Contains(t.Endorsements, channelID) {
		return fmt.Errorf("%w: signing key %s is not endorsed for channel %q (endorsements %v)", ErrForbidden, t.KeyID, channelID, t.Endorsements)
	}
	return nil
}

// key returns the signing key kid, fetching the keys when they are older than the refresh interval or kid is
// unknown. A failed refresh keeps the keys already known: an outage of the metadata endpoint must not lock the
// bot out. Fetches caused by unknown keys are spaced by UnknownKeyRefresh, so forged kids cannot make the bot
// hammer the endpoint, while the first token signed with a newly rotated key is accepted at once.
func (a *Authenticator) key(ctx context.Context, kid string) (signingKey, []string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	k, known := a.keys[kid]
	stale := a.fetched.IsZero() || now.Sub(a.fetched) >= a.refresh
	if known && !stale {
		return k, a.algs, nil
	}
	fetch := false
	switch {
	case a.keys == nil:
		fetch = true // nothing to check any token with yet
	case stale:
		fetch = now.Sub(a.tried) >= a.unknown // the daily refresh; after a failure, retried at this pace
	default:
		fetch = now.Sub(a.unknownTried) >= a.unknown // a key rotation, or a forger's kid
		if fetch {
			a.unknownTried = now
		}
	}
	if fetch {
		a.tried = now
		if err := a.fetchLocked(ctx); err != nil {
			a.fetchErr = err
			a.log.Error("teams: fetching the Bot Connector's signing keys failed", "url", a.metadataURL, "err", err)
		}
		k, known = a.keys[kid]
	}
	if !known {
		if a.keys == nil && a.fetchErr != nil {
			return signingKey{}, nil, fmt.Errorf("signing keys unavailable: %w", a.fetchErr)
		}
		return signingKey{}, nil, fmt.Errorf("signing key %q is not in the Bot Connector's key set", kid)
	}
	return k, a.algs, nil
}

// fetchLocked reads the OpenID metadata, then the key set its jwks_uri names.
func (a *Authenticator) fetchLocked(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := a.getJSON(ctx, a.metadataURL, &meta); err != nil {
		return fmt.Errorf("openid metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return errors.New("openid metadata names no jwks_uri")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := a.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	keys := make(map[string]signingKey, len(set.Keys))
	for _, raw := range set.Keys {
		var extra struct {
			KID          string   `json:"kid"`
			Endorsements []string `json:"endorsements"`
		}
		if err := json.Unmarshal(raw, &extra); err != nil || extra.KID == "" {
			a.log.Warn("teams: signing key without a kid ignored")
			continue
		}
		jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			a.log.Warn("teams: unusable signing key ignored", "kid", extra.KID, "err", err)
			continue
		}
		pub, ok := jwk.Key().(*rsa.PublicKey)
		if !ok || jwk.Marshal().USE == jwkset.UseEnc {
			continue // not an RSA signing key: no RS256 token can use it
		}
		keys[extra.KID] = signingKey{key: pub, endorsements: extra.Endorsements}
	}
	if len(keys) == 0 {
		return errors.New("the key set holds no usable key")
	}
	a.keys, a.algs, a.fetched, a.fetchErr = keys, meta.Algs, a.now(), nil
	a.fetches++
	return nil
}

func (a *Authenticator) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadata)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
