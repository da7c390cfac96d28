package graphtest

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandlerMountedElsewhere checks absolute URLs follow the request's host,
// so Handler works behind httptest or another mux.
func TestHandlerMountedElsewhere(t *testing.T) {
	s := New(smallOpts())
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	tok, err := s.issueAccessToken(AppClientID)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1.0/users?$top=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode}
	r.body = readAll(t, resp)
	next, _ := r.json(t)["@odata.nextLink"].(string)
	if !strings.HasPrefix(next, ts.URL+"/v1.0/users?$top=1&$skiptoken=") {
		t.Fatalf("nextLink %q does not use the mounted host %s", next, ts.URL)
	}
}

func TestStartTwiceAndCert(t *testing.T) {
	s := startServer(t, smallOpts())
	if err := s.Start(); err == nil {
		t.Fatal("second Start should fail")
	}
	b, _ := pem.Decode(s.CertPEM())
	if b == nil {
		t.Fatal("CertPEM is not PEM")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || s.CertPool() == nil {
		t.Fatalf("URL %q", s.URL())
	}
}
