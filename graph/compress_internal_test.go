package graph

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	khttp "github.com/microsoft/kiota-http-go"
)

// pooledCompression sends bodies gzipped, and the same body plain when the server refuses gzip (415), as kiota's
// CompressionHandler does; writers are reused across requests.
func TestPooledCompression(t *testing.T) {
	tests := []struct {
		name         string
		refuseGzip   bool
		wantEncoding []string // Content-Encoding of each request the server saw
	}{
		{"gzip taken", false, []string{"gzip"}},
		{"gzip refused", true, []string{"gzip", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				enc := r.Header.Get("Content-Encoding")
				seen = append(seen, enc)
				body := io.Reader(r.Body)
				if enc == "gzip" {
					if tc.refuseGzip {
						w.WriteHeader(http.StatusUnsupportedMediaType)
						return
					}
					zr, err := gzip.NewReader(r.Body)
					if err != nil {
						t.Errorf("not gzip: %v", err)
						return
					}
					body = zr
				}
				b, _ := io.ReadAll(body)
				_, _ = w.Write(b)
			}))
			t.Cleanup(srv.Close)
			client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, pooledCompression{})}
			for i := range 3 { // the writer of the first request is reused by the next
				want := strings.Repeat("revokeSignInSessions ", 50+i)
				resp, err := client.Post(srv.URL, "application/json", strings.NewReader(want))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(got) != want {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, got)
				}
			}
			for i := 0; i < len(seen); i += len(tc.wantEncoding) {
				for j, want := range tc.wantEncoding {
					if seen[i+j] != want {
						t.Errorf("request %d: Content-Encoding %q, want %q (all: %q)", i+j, seen[i+j], want, seen)
					}
				}
			}
		})
	}
}
