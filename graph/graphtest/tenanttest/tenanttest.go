// Package tenanttest starts a simulated tenant with a real msgraph-sdk-go client authenticated against it by
// azidentity, for tests of any package that talks to Graph. It lives apart from graphtest because it needs the
// graph client, and graphtest must not.
package tenanttest

import (
	"context"
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// Start runs a simulated tenant for the life of the test and returns it with a client configured by cfg (its
// URL, credential and trusted roots are filled in). A zero WriteRate becomes 1000/s and a zero RetryBaseDelay
// 20 ms, so tests are not paced like production unless they ask to be.
func Start(t testing.TB, opts graphtest.Options, cfg graph.Config) (*graphtest.Server, *graph.Client) {
	t.Helper()
	srv := graphtest.New(opts)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cred, err := graph.SimulatedCredential(context.Background(), srv.GraphURL(), srv.CertPool())
	if err != nil {
		t.Fatal(err)
	}
	cfg.GraphURL, cfg.Credential, cfg.RootCAs = srv.GraphURL(), cred, srv.CertPool()
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay = 20 * time.Millisecond
	}
	if cfg.WriteRate == 0 {
		cfg.WriteRate = 1000
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}
