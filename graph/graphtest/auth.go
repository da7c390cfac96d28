package graphtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Entra v2.0 endpoints, enough for MSAL Go / azidentity's ClientSecretCredential
// and ClientCertificateCredential (with DisableInstanceDiscovery).

const (
	graphAudience     = "https://graph.microsoft.com"
	graphDefaultScope = "https://graph.microsoft.com/.default"
	graphAppIDScope   = "00000003-0000-0000-c000-000000000000/.default"
	tokenLifetime     = 3599 * time.Second
	tokenSkew         = 5 * time.Minute
	jwtBearerType     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

var appRoles = []string{"User.ReadWrite.All", "GroupMember.Read.All",
	"Policy.ReadWrite.ApplicationConfiguration", "Policy.Read.All", "AuditLog.Read.All"}

// accessClaims are the Graph access-token claims we issue and check.
type accessClaims struct {
	TenantID string   `json:"tid"`
	AppID    string   `json:"appid"`
	OID      string   `json:"oid"`
	Roles    []string `json:"roles"`
	IDType   string   `json:"idtyp"`
	Version  string   `json:"ver"`
	// Aud shadows RegisteredClaims.Audience: Entra emits aud as a plain
	// string, while golang-jwt would marshal ClaimStrings as an array.
	Aud string `json:"aud"`
	jwt.RegisteredClaims
}

func (c accessClaims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{c.Aud}, nil }

func (s *Server) tokenIssuer() string { return "https://sts.windows.net/" + s.opts.TenantID + "/" }

// knownTenant accepts the tenant id or a verified domain, as Entra does.
func (s *Server) knownTenant(t string) bool {
	return strings.EqualFold(t, s.opts.TenantID) || strings.EqualFold(t, s.opts.Domain) ||
		strings.EqualFold(t, onMicrosoftDomain(s.opts.Domain))
}

func (s *Server) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	if !s.knownTenant(tenant) {
		s.writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	// Endpoints use the caller's host: MSAL rejects an issuer whose host
	// differs from the authority it was configured with.
	base := requestBase(r) + "/" + s.opts.TenantID
	writeJSON(w, http.StatusOK, jsonObject{
		{"token_endpoint", base + "/oauth2/v2.0/token"},
		{"token_endpoint_auth_methods_supported", []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}},
		{"jwks_uri", base + "/discovery/v2.0/keys"},
		{"response_modes_supported", []string{"query", "fragment", "form_post"}},
		{"subject_types_supported", []string{"pairwise"}},
		{"id_token_signing_alg_values_supported", []string{"RS256"}},
		{"response_types_supported", []string{"code", "id_token", "code id_token", "id_token token"}},
		{"scopes_supported", []string{"openid", "profile", "email", "offline_access"}},
		{"issuer", base + "/v2.0"},
		{"authorization_endpoint", base + "/oauth2/v2.0/authorize"},
		{"device_authorization_endpoint", base + "/oauth2/v2.0/devicecode"},
		{"end_session_endpoint", base + "/oauth2/v2.0/logout"},
		{"tenant_region_scope", "EU"},
		{"cloud_instance_name", "microsoftonline.com"},
	})
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	// Access tokens are HS256 with a server-private key: nothing to publish.
	writeJSON(w, http.StatusOK, jsonObject{{"keys", []any{}}})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		s.writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", 900561,
			"AADSTS900561: The endpoint only accepts POST requests.")
		return
	}
	if !s.knownTenant(tenant) {
		s.writeOAuthError(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", tenant))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, http.StatusBadRequest, "invalid_request", 900144,
			"AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("AADSTS70003: The app requested an unsupported grant type '%s'.", gt))
		return
	}
	clientID := r.PostForm.Get("client_id")
	if clientID != AppClientID {
		s.writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, s.opts.TenantID))
		return
	}
	if err := checkScope(r.PostForm.Get("scope")); err != nil {
		s.writeOAuthError(w, http.StatusBadRequest, "invalid_scope", 1002012, err.Error())
		return
	}
	secret, assertion := r.PostForm.Get("client_secret"), r.PostForm.Get("client_assertion")
	switch {
	case secret != "":
		if secret != AppClientSecret {
			s.writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case assertion != "":
		if r.PostForm.Get("client_assertion_type") != jwtBearerType {
			s.writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 700024,
				"AADSTS700024: Client assertion type is not "+jwtBearerType+".")
			return
		}
		if err := s.verifyClientAssertion(assertion, clientID); err != nil {
			s.opts.Logger.Debug("client assertion rejected", "err", err)
			s.writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 700027,
				"AADSTS700027: Client assertion failed signature validation: "+err.Error())
			return
		}
	default:
		s.writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 7000216,
			"AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	token, err := s.issueAccessToken(clientID)
	if err != nil {
		s.writeOAuthError(w, http.StatusInternalServerError, "server_error", 50000, "AADSTS50000: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, jsonObject{
		{"token_type", "Bearer"},
		{"expires_in", int(tokenLifetime / time.Second)},
		{"ext_expires_in", int(tokenLifetime / time.Second)},
		{"access_token", token},
	})
}

// checkScope accepts Graph's /.default scope; MSAL appends the OIDC scopes
// openid/profile/offline_access, which Entra ignores for this grant.
func checkScope(scope string) error {
	var resource []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access":
		default:
			resource = append(resource, sc)
		}
	}
	if len(resource) != 1 || !(strings.EqualFold(resource[0], graphDefaultScope) || strings.EqualFold(resource[0], graphAppIDScope)) {
		return fmt.Errorf("AADSTS1002012: The provided value for scope %q is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)", scope)
	}
	return nil
}

func (s *Server) verifyClientAssertion(assertion, clientID string) error {
	cred, err := s.clientCredential()
	if err != nil {
		return err
	}
	// The client signs with its own wall clock, so check times against the
	// real clock, not the (possibly simulated) Options.Now.
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Minute))
	var claims jwt.RegisteredClaims
	if _, err := parser.ParseWithClaims(assertion, &claims, func(*jwt.Token) (any, error) {
		return &cred.key.PublicKey, nil
	}); err != nil {
		return fmt.Errorf("parse assertion: %w", err)
	}
	if claims.Issuer != clientID || claims.Subject != clientID {
		return fmt.Errorf("assertion iss %q / sub %q must both be the client id", claims.Issuer, claims.Subject)
	}
	okAud := false
	for _, a := range claims.Audience {
		if strings.Contains(a, "/oauth2/") && strings.HasSuffix(a, "/token") {
			okAud = true
		}
	}
	if !okAud {
		return fmt.Errorf("assertion audience %v is not a token endpoint", claims.Audience)
	}
	return nil
}

func (s *Server) issueAccessToken(appID string) (string, error) {
	now := s.authNow()
	var uti [16]byte
	if _, err := rand.Read(uti[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	// Entra dates iat and nbf five minutes back to absorb clock skew; here that also keeps a token valid
	// when a test moves the simulated clock back (SetClockOffset) after it was issued.
	issued := now.Add(-tokenSkew)
	claims := accessClaims{
		TenantID: s.opts.TenantID, AppID: appID, OID: appObjectID, Roles: appRoles, IDType: "app", Version: "1.0",
		Aud: graphAudience,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.tokenIssuer(),
			Subject:   appObjectID,
			IssuedAt:  jwt.NewNumericDate(issued),
			NotBefore: jwt.NewNumericDate(issued),
			ExpiresAt: jwt.NewNumericDate(now.Add(tokenLifetime)),
			ID:        hex.EncodeToString(uti[:]),
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.signingKey)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// authenticate validates the bearer token and returns the caller's app id, or
// Graph's 401 message.
func (s *Server) authenticate(r *http.Request) (string, string) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", "Access token is empty."
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience(graphAudience), jwt.WithIssuer(s.tokenIssuer()), jwt.WithTimeFunc(s.authNow))
	var claims accessClaims
	_, err := parser.ParseWithClaims(strings.TrimSpace(token), &claims, func(*jwt.Token) (any, error) {
		return s.signingKey, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return "", "Lifetime validation failed, the token is expired."
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "", "IDX14100: JWT is not well formed, there are no dots (.)."
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "", "Signature validation failed."
	default:
		return "", "Invalid access token: " + err.Error()
	}
	if claims.TenantID != s.opts.TenantID || claims.AppID == "" {
		return "", "Access token validation failure. Invalid audience."
	}
	return claims.AppID, ""
}

// writeOAuthError uses the OAuth2 error shape (not Graph's), as Entra does.
func (s *Server) writeOAuthError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	traceID := newRequestID()
	writeJSON(w, status, jsonObject{
		{"error", code},
		{"error_description", desc + "\r\nTrace ID: " + traceID},
		{"error_codes", []int{aadsts}},
		{"timestamp", s.now().UTC().Format("2006-01-02 15:04:05Z")},
		{"trace_id", traceID},
		//lint:ignore SA1008 the header is set under Graph's lower-case spelling, so it is read back under it
		{"correlation_id", strings.Join(w.Header()["client-request-id"], "")},
	})
}
