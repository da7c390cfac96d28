package graphtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenFlowAndGraphCall(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)

	// The access token carries the claims the brief specifies.
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(c.token, claims); err != nil {
		t.Fatalf("parse token: %v", err)
	}
	for k, want := range map[string]any{"aud": "https://graph.microsoft.com", "tid": s.TenantID(), "appid": s.ClientID(),
		"iss": "https://sts.windows.net/" + s.TenantID() + "/"} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 5 {
		t.Errorf("roles = %v", claims["roles"])
	}
	m := c.mustGet("/v1.0/users/" + UPNLester)
	if m["displayName"] != "Lester Tester" {
		t.Fatalf("lester = %v", m)
	}
}

func TestTokenEndpointRejections(t *testing.T) {
	s := startServer(t, smallOpts())
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()},
		"client_secret": {s.ClientSecret()}, "scope": {"https://graph.microsoft.com/.default openid profile offline_access"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		code   string
	}{
		{"ok with MSAL's extra OIDC scopes", s.TenantID(), good, 200, ""},
		{"tenant by domain", "contoso.com", good, 200, ""},
		{"bad secret", s.TenantID(), with("client_secret", "nope"), 401, "invalid_client"},
		{"no credential", s.TenantID(), with("client_secret", ""), 401, "invalid_client"},
		{"unknown app", s.TenantID(), with("client_id", "00000000-0000-0000-0000-000000000000"), 400, "unauthorized_client"},
		{"wrong scope", s.TenantID(), with("scope", "User.Read"), 400, "invalid_scope"},
		{"wrong grant", s.TenantID(), with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"unknown tenant", "fabrikam.com", good, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, s, "/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			if status != tt.status {
				t.Fatalf("status %d, want %d (%s)", status, tt.status, body)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if tt.code == "" {
				if m["token_type"] != "Bearer" || m["expires_in"] != float64(3599) || m["access_token"] == "" {
					t.Fatalf("token response %v", m)
				}
				return
			}
			if m["error"] != tt.code {
				t.Fatalf("error = %v, want %s", m["error"], tt.code)
			}
			if tt.code == "invalid_client" && tt.name == "bad secret" && !strings.Contains(m["error_description"].(string), "AADSTS7000215") {
				t.Fatalf("description %v", m["error_description"])
			}
		})
	}
}

func TestClientAssertion(t *testing.T) {
	s := startServer(t, smallOpts())
	pemData := s.ClientCertificatePEM()
	var key *rsa.PrivateKey
	var sawCert bool
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			sawCert = true
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			key = k.(*rsa.PrivateKey)
		}
	}
	if !sawCert || key == nil {
		t.Fatalf("ClientCertificatePEM lacks cert or key")
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokenURL := s.URL() + "/" + s.TenantID() + "/oauth2/v2.0/token"
	sign := func(method jwt.SigningMethod, k *rsa.PrivateKey, iss string) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(method, jwt.RegisteredClaims{Issuer: iss, Subject: iss,
			Audience: jwt.ClaimStrings{tokenURL}, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), ID: "x"}).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name      string
		assertion string
		status    int
	}{
		{"RS256 with app key", sign(jwt.SigningMethodRS256, key, s.ClientID()), 200},
		{"PS256 with app key", sign(jwt.SigningMethodPS256, key, s.ClientID()), 200},
		{"foreign key", sign(jwt.SigningMethodRS256, otherKey, s.ClientID()), 401},
		{"wrong issuer", sign(jwt.SigningMethodRS256, key, "someone-else"), 401},
		{"garbage", "not.a.jwt", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, s, "/"+s.TenantID()+"/oauth2/v2.0/token", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {s.ClientID()},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {tt.assertion}, "scope": {"https://graph.microsoft.com/.default"},
			})
			if status != tt.status {
				t.Fatalf("status %d want %d: %s", status, tt.status, body)
			}
		})
	}
}

func TestGraphRejectsBadTokens(t *testing.T) {
	clock := newFakeClock()
	opts := smallOpts()
	opts.Now = clock.Now
	s := startServer(t, opts)
	other := startServer(t, opts) // same claims, different signing key
	valid := fetchToken(t, s)

	tests := []struct {
		name    string
		token   string
		advance time.Duration
		status  int
		msg     string
	}{
		{"valid", valid, 0, 200, ""},
		{"missing", "", 0, 401, "Access token is empty."},
		{"garbage", "garbage", 0, 401, "not well formed"},
		{"foreign signature", fetchToken(t, other), 0, 401, "Signature validation failed"},
		{"expired", valid, 2 * time.Hour, 401, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			t.Cleanup(func() { clock.Advance(-tt.advance) })
			c := &testClient{t: t, s: s, token: tt.token}
			r := c.get("/v1.0/users?$top=1")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 401 {
				if code := r.errorCode(t); code != "InvalidAuthenticationToken" {
					t.Fatalf("code %s", code)
				}
				if !strings.Contains(r.errorMessage(t), tt.msg) {
					t.Fatalf("message %q lacks %q", r.errorMessage(t), tt.msg)
				}
			}
		})
	}
	if got := s.Stats().Unauthorized401; got != 4 {
		t.Fatalf("Unauthorized401 = %d, want 4", got)
	}
}

func TestDiscoveryEndpoints(t *testing.T) {
	s := startServer(t, smallOpts())
	c := &testClient{t: t, s: s}
	oidc := c.mustGet("/" + s.TenantID() + "/v2.0/.well-known/openid-configuration")
	base := s.URL() + "/" + s.TenantID()
	for k, want := range map[string]string{
		"token_endpoint": base + "/oauth2/v2.0/token", "issuer": base + "/v2.0",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize", "tenant_region_scope": "EU",
	} {
		if oidc[k] != want {
			t.Errorf("%s = %v, want %s", k, oidc[k], want)
		}
	}
	if _, ok := oidc["jwks_uri"]; !ok {
		t.Error("jwks_uri missing")
	}
	info := c.mustGet("/.well-known/signoutbot-simulated-tenant")
	for k, want := range map[string]string{"tenantId": s.TenantID(), "clientId": s.ClientID(),
		"clientSecret": s.ClientSecret(), "graphUrl": s.GraphURL(), "authorityHost": s.AuthorityHost()} {
		if info[k] != want {
			t.Errorf("%s = %v, want %s", k, info[k], want)
		}
	}
}

func TestCommonResponseHeaders(t *testing.T) {
	s := startServer(t, smallOpts())
	c := newClient(t, s)
	r := c.get("/v1.0/users/"+UPNAdele, "client-request-id", "my-correlation-id")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if r.header.Get("request-id") == "" || r.header.Get("Date") == "" {
		t.Fatalf("missing request-id/Date: %v", r.header)
	}
	if got := r.header.Get("client-request-id"); got != "my-correlation-id" {
		t.Fatalf("client-request-id = %q", got)
	}
	nf := c.get("/v1.0/users/nobody@contoso.com", "client-request-id", "cid-2")
	inner := nf.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["client-request-id"] != "cid-2" || inner["request-id"] != nf.header.Get("request-id") || inner["date"] == "" {
		t.Fatalf("innerError = %v", inner)
	}
}
