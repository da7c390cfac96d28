package fakeconnector

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the issuer of the tokens the Bot Connector sends to bots.
const Issuer = "https://api.botframework.com"

// KeyName names one of the fake's signing keys.
type KeyName string

const (
	// KeyTeams is published and endorsed for "msteams": what Teams' activities are signed with.
	KeyTeams KeyName = "teams"
	// KeyWebchat is published but endorsed for "webchat" only.
	KeyWebchat KeyName = "webchat"
	// KeyUnpublished is a valid RSA key that the key set does not list: a forger's.
	KeyUnpublished KeyName = "unpublished"
)

type signingKey struct {
	kid          string
	key          *rsa.PrivateKey
	endorsements []string
	published    bool
}

type keyring struct {
	mu      sync.Mutex
	keys    map[KeyName]*signingKey
	current KeyName // what KeyTeams signs with after a rotation
	fetches int
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return b
}

func newSigningKey(kid string, endorsements []string, published bool) *signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("fakeconnector: generate RSA key: %v", err)) // only when the system's randomness fails
	}
	return &signingKey{kid: kid, key: k, endorsements: endorsements, published: published}
}

func newKeyring() *keyring {
	return &keyring{current: KeyTeams, keys: map[KeyName]*signingKey{
		KeyTeams:       newSigningKey("teams-key-1", []string{"msteams"}, true),
		KeyWebchat:     newSigningKey("webchat-key-1", []string{"webchat"}, true),
		KeyUnpublished: newSigningKey("teams-key-1x", []string{"msteams"}, false),
	}}
}

func (k *keyring) get(name KeyName) *signingKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	if name == KeyTeams {
		name = k.current
	}
	return k.keys[name]
}

// RotateKey publishes a new key endorsed for msteams and signs Teams' activities with it from now on, as the
// Bot Connector does when it rotates keys. It returns the new key's id.
func (s *Server) RotateKey() string {
	k := s.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	name := KeyName(fmt.Sprintf("teams-%d", len(k.keys)))
	k.keys[name] = newSigningKey(fmt.Sprintf("teams-key-%d", len(k.keys)), []string{"msteams"}, true)
	k.current = name
	return k.keys[name].kid
}

// KeyFetches counts requests for the signing keys.
func (s *Server) KeyFetches() int {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return s.keys.fetches
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *Server) botOpenID(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                Issuer,
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              s.srv.URL + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (s *Server) botKeys(w http.ResponseWriter, _ *http.Request) {
	k := s.keys
	k.mu.Lock()
	k.fetches++
	var keys []map[string]any
	names := make([]KeyName, 0, len(k.keys))
	for n := range k.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		sk := k.keys[n]
		if !sk.published {
			continue
		}
		pub := sk.key.PublicKey
		keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "kid": sk.kid, "n": b64(pub.N.Bytes()),
			"e": b64(big.NewInt(int64(pub.E)).Bytes()), "endorsements": sk.endorsements})
	}
	k.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// entraOpenID is the tenant's OpenID configuration, which azidentity (MSAL) reads before asking for a token.
// Endpoints use the caller's host: MSAL rejects an issuer whose host differs from its authority.
func (s *Server) entraOpenID(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if tenant != s.opts.TenantID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."})
		return
	}
	base := "https://" + r.Host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

// token is the tenant's client-credentials token endpoint, for the bot's app and the Bot Framework scope only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("tenant") != s.opts.TenantID {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: unsupported grant type.")
		return
	}
	if f.Get("client_id") != s.opts.AppID {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	}
	if f.Get("client_secret") != s.opts.AppSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	var resource []string
	for _, sc := range strings.Fields(f.Get("scope")) {
		if sc != "openid" && sc != "profile" && sc != "offline_access" {
			resource = append(resource, sc)
		}
	}
	if len(resource) != 1 || resource[0] != Issuer+"/.default" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: the scope must be https://api.botframework.com/.default")
		return
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, appClaims{AppID: s.opts.AppID, TenantID: s.opts.TenantID,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "https://sts.windows.net/" + s.opts.TenantID + "/",
			Audience: jwt.ClaimStrings{botFrameworkAudience}, IssuedAt: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(s.tokenSecret)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// tokenSpec is what Token signs.
type tokenSpec struct {
	audience, issuer, serviceURL string
	noServiceURL                 bool
	iat, nbf, exp                time.Time
	key                          KeyName
	alg                          string // "RS256", "none", "HS256"
	noKID                        bool
	header                       *string // the Authorization header as sent, overriding the token
}

// Option changes the token Send and Token make.
type Option func(*tokenSpec)

// WithAudience sets aud (default: the bot's app id).
func WithAudience(aud string) Option { return func(t *tokenSpec) { t.audience = aud } }

// WithIssuer sets iss (default Issuer).
func WithIssuer(iss string) Option { return func(t *tokenSpec) { t.issuer = iss } }

// WithServiceURL sets the serviceurl claim (default: the activity's serviceUrl).
func WithServiceURL(u string) Option { return func(t *tokenSpec) { t.serviceURL = u } }

// WithoutServiceURL leaves the serviceurl claim out.
func WithoutServiceURL() Option { return func(t *tokenSpec) { t.noServiceURL = true } }

// WithTimes sets iat, nbf and exp.
func WithTimes(iat, nbf, exp time.Time) Option {
	return func(t *tokenSpec) { t.iat, t.nbf, t.exp = iat, nbf, exp }
}

// SignedBy signs with another of the fake's keys.
func SignedBy(k KeyName) Option { return func(t *tokenSpec) { t.key = k } }

// AlgNone makes an unsigned token ("alg": "none").
func AlgNone() Option { return func(t *tokenSpec) { t.alg = "none" } }

// HS256WithPublicKey signs with HMAC, using the published RSA public key as the shared secret: the classic
// algorithm-confusion forgery.
func HS256WithPublicKey() Option { return func(t *tokenSpec) { t.alg = "HS256" } }

// WithoutKeyID leaves kid out of the header.
func WithoutKeyID() Option { return func(t *tokenSpec) { t.noKID = true } }

// WithAuthorization sends this Authorization header instead of a token ("" sends none).
func WithAuthorization(h string) Option { return func(t *tokenSpec) { t.header = &h } }

type connectorClaims struct {
	ServiceURL string `json:"serviceurl,omitempty"`
	jwt.RegisteredClaims
}

// Token signs a token for an activity whose serviceUrl is serviceURL, as the Bot Connector does.
func (s *Server) Token(serviceURL string, opts ...Option) string {
	now := time.Now()
	t := tokenSpec{audience: s.opts.AppID, issuer: Issuer, serviceURL: serviceURL, iat: now, nbf: now, exp: now.Add(time.Hour),
		key: KeyTeams, alg: "RS256"}
	for _, o := range opts {
		o(&t)
	}
	c := connectorClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: t.issuer, Audience: jwt.ClaimStrings{t.audience},
		IssuedAt: jwt.NewNumericDate(t.iat), NotBefore: jwt.NewNumericDate(t.nbf), ExpiresAt: jwt.NewNumericDate(t.exp)}}
	if !t.noServiceURL {
		c.ServiceURL = t.serviceURL
	}
	k := s.keys.get(t.key)
	var tok *jwt.Token
	var key any
	switch t.alg {
	case "none":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodNone, c), jwt.UnsafeAllowNoneSignatureType
	case "HS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodHS256, c), k.key.PublicKey.N.Bytes()
	default:
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, c), k.key
	}
	if !t.noKID {
		tok.Header["kid"] = k.kid
		tok.Header["x5t"] = k.kid
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("fakeconnector: sign token: %v", err)) // the keys and methods above always sign
	}
	return signed
}

// Response is the bot's answer to an activity.
type Response struct {
	Status int
	Body   []byte
}

// Send posts an activity to a bot's messaging endpoint as the Bot Connector does: JSON, with a bearer token
// signed for its serviceUrl (changed by opts).
func (s *Server) Send(ctx context.Context, endpoint string, a Activity, opts ...Option) (Response, error) {
	t := tokenSpec{}
	for _, o := range opts {
		o(&t)
	}
	header := "Bearer " + s.Token(a.ServiceURL, opts...)
	if t.header != nil {
		header = *t.header
	}
	body, err := json.Marshal(a)
	if err != nil {
		return Response{}, fmt.Errorf("fakeconnector: encode activity: %w", err)
	}
	return s.SendRaw(ctx, endpoint, body, header)
}

// SendRaw posts a body with an Authorization header ("" for none).
func (s *Server) SendRaw(ctx context.Context, endpoint string, body []byte, authorization string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("fakeconnector: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("fakeconnector: send activity: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("fakeconnector: read answer: %w", err)
	}
	return Response{Status: resp.StatusCode, Body: b}, nil
}
