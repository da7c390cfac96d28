// Package graphbench measures revocation throughput against the simulated tenant: the graph package's
// paced $batch pipeline next to the one-request-per-user loop admins run in PowerShell today.
package graphbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// Options scale a real tenant down so one run takes seconds. Entra ID allows one app 3,000 writes per 150 s
// (20/s); Graph answers a revoke in roughly 100 ms. Scale multiplies the write ceiling and divides latency
// by the same factor, so the ratio between the two pipelines stays what it is against a real tenant.
type Options struct {
	Users           int     // users revoked by the batched pipeline (default 10,000)
	SequentialUsers int     // users revoked by the sequential loop (default 2,000: the loop is slow by nature)
	Scale           float64 // default 20: ceiling 400 users/s, latency 5 ms
	RealLatency     time.Duration
	Concurrency     int
}

func (o *Options) defaults() {
	if o.Users <= 0 {
		o.Users = 10000
	}
	if o.SequentialUsers <= 0 {
		o.SequentialUsers = 2000
	}
	if o.Scale <= 0 {
		o.Scale = 20
	}
	if o.RealLatency <= 0 {
		o.RealLatency = 100 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
}

// Figures are one pipeline's results.
type Figures struct {
	Name              string
	Users             int
	Elapsed           time.Duration
	UsersPerSec       float64
	Ceiling           float64 // users/s the tenant allows
	PctOfCeiling      float64
	Requests          int // HTTP requests that reached the tenant
	BatchItems        int
	Throttled429Reqs  int
	Throttled429Items int
	Revoked           int
	Lost              int // users with no result or a failed one
}

func (f Figures) String() string {
	throttledPct := 0.0
	if n := max(f.BatchItems, f.Requests); n > 0 {
		throttledPct = 100 * float64(f.Throttled429Items+f.Throttled429Reqs) / float64(max(f.BatchItems, f.Users))
	}
	return fmt.Sprintf("%-34s users=%-6d elapsed=%-8s users/s=%-8.1f ceiling=%.0f/s  %%ceiling=%5.1f%%  requests=%-6d batch-items=%-6d 429-requests=%d 429-items=%d (%.2f%% throttled)  revoked=%d lost=%d",
		f.Name, f.Users, f.Elapsed.Round(time.Millisecond), f.UsersPerSec, f.Ceiling, f.PctOfCeiling, f.Requests, f.BatchItems,
		f.Throttled429Reqs, f.Throttled429Items, throttledPct, f.Revoked, f.Lost)
}

// Run measures both pipelines on one simulated tenant and writes a report to w.
func Run(ctx context.Context, o Options, w io.Writer) (batched, sequential Figures, err error) {
	o.defaults()
	ceiling := 20 * o.Scale
	latency := time.Duration(float64(o.RealLatency) / o.Scale)
	// The budget window is shrunk with the same scale: 3,000 per 150 s becomes 3,000/Scale per 150/Scale s.
	// A window of a few hundred ms keeps the tenant's burst (the bucket's capacity) small next to the run.
	window := 200 * time.Millisecond
	budget := int(ceiling * window.Seconds())
	srv := graphtest.New(graphtest.Options{Users: max(o.Users, o.SequentialUsers), BigGroupSize: 10, Latency: latency,
		WriteBudget: budget, WriteWindow: window, ReadBudget: 1 << 30, ReadWindow: time.Second})
	if err := srv.Start(); err != nil {
		return batched, sequential, err
	}
	defer srv.Close()
	fmt.Fprintf(w, "simulated tenant: write ceiling %.0f users/s (%d per %s), latency %s per request (real Graph scaled by %.0f×)\n",
		ceiling, budget, window, latency, o.Scale)

	cred, err := graph.SimulatedCredential(ctx, srv.GraphURL(), srv.CertPool())
	if err != nil {
		return batched, sequential, err
	}
	client, err := graph.New(graph.Config{GraphURL: srv.GraphURL(), Credential: cred, RootCAs: srv.CertPool(),
		WriteRate: ceiling, Concurrency: o.Concurrency, RetryBaseDelay: 50 * time.Millisecond})
	if err != nil {
		return batched, sequential, err
	}
	var ids []string
	for _, u := range srv.Users() {
		if strings.HasPrefix(u.DisplayName, "Wave User") || u.UserType == "Guest" {
			continue
		}
		ids = append(ids, u.ID)
	}
	if len(ids) < o.Users {
		return batched, sequential, fmt.Errorf("tenant has %d users, want %d", len(ids), o.Users)
	}
	// Warm the token cache and connections so neither pipeline pays for authentication.
	if _, err := client.SessionsValidFrom(ctx, ids[:1]); err != nil {
		return batched, sequential, err
	}

	srv.ResetStats()
	start := time.Now()
	results, err := client.RevokeSessions(ctx, ids[:o.Users], nil)
	if err != nil {
		return batched, sequential, err
	}
	batched = figures("graph package ($batch, paced)", srv, start, o.Users, ceiling)
	for _, r := range results {
		if r.Outcome == graph.OutcomeRevoked {
			batched.Revoked++
		}
	}
	batched.Lost = o.Users - batched.Revoked
	fmt.Fprintln(w, batched)

	// The same pipeline told the ceiling is twice what the tenant allows (another tool writing in the tenant,
	// a wrong setting): it must adapt to the 429s rather than hammer, and still lose nobody.
	time.Sleep(2 * window)
	over, err := graph.New(graph.Config{GraphURL: srv.GraphURL(), Credential: cred, RootCAs: srv.CertPool(),
		WriteRate: 2 * ceiling, Concurrency: o.Concurrency, RetryBaseDelay: 50 * time.Millisecond})
	if err != nil {
		return batched, sequential, err
	}
	overUsers := min(o.Users, 4000)
	srv.ResetStats()
	start = time.Now()
	results, err = over.RevokeSessions(ctx, ids[:overUsers], nil)
	if err != nil {
		return batched, sequential, err
	}
	adaptive := figures("same, told 2× the real ceiling", srv, start, overUsers, ceiling)
	for _, r := range results {
		if r.Outcome == graph.OutcomeRevoked {
			adaptive.Revoked++
		}
	}
	adaptive.Lost = overUsers - adaptive.Revoked
	fmt.Fprintln(w, adaptive)

	// Let the tenant's write bucket refill so the loop starts on the same footing.
	time.Sleep(2 * window)
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		return batched, sequential, err
	}
	srv.ResetStats()
	start = time.Now()
	seqIDs := ids[len(ids)-o.SequentialUsers:]
	revoked, err := sequentialLoop(ctx, srv.HTTPClient(), srv.GraphURL(), tok.Token, seqIDs)
	if err != nil {
		return batched, sequential, err
	}
	sequential = figures("one request per user (PowerShell)", srv, start, o.SequentialUsers, ceiling)
	sequential.Revoked = revoked
	sequential.Lost = o.SequentialUsers - revoked
	fmt.Fprintln(w, sequential)
	fmt.Fprintf(w, "speed-up: %.1f× users/s; 10,000 users would take %s batched vs %s one by one (ceiling: %s)\n",
		batched.UsersPerSec/sequential.UsersPerSec,
		eta(10000, batched.UsersPerSec, o.Scale), eta(10000, sequential.UsersPerSec, o.Scale), eta(10000, ceiling, o.Scale))
	return batched, sequential, nil
}

// eta is how long n users take at rate users/s on the scaled tenant, converted back to a real tenant's time.
func eta(n int, rate, scale float64) string {
	return (time.Duration(float64(n)/rate*scale) * time.Second).Round(time.Second).String()
}

func figures(name string, srv *graphtest.Server, start time.Time, users int, ceiling float64) Figures {
	elapsed := time.Since(start)
	st := srv.Stats()
	f := Figures{Name: name, Users: users, Elapsed: elapsed, Ceiling: ceiling,
		Requests: int(st.Requests), BatchItems: int(st.BatchItems),
		Throttled429Reqs: int(st.Throttled429Requests), Throttled429Items: int(st.Throttled429Items)}
	f.UsersPerSec = float64(users) / elapsed.Seconds()
	f.PctOfCeiling = 100 * f.UsersPerSec / ceiling
	return f
}

// sequentialLoop is `Get-MgUser … | ForEach-Object { Revoke-MgUserSignInSession -UserId $_.Id }`: one POST per
// user, waiting out Retry-After when throttled, as the SDK's retry handler does.
func sequentialLoop(ctx context.Context, hc *http.Client, graphURL, token string, ids []string) (int, error) {
	revoked := 0
	for _, id := range ids {
		for attempt := 0; ; attempt++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, graphURL+"/users/"+id+"/revokeSignInSessions", nil)
			if err != nil {
				return revoked, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				return revoked, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests && attempt < 10 {
				d, _ := time.ParseDuration(resp.Header.Get("Retry-After") + "s")
				time.Sleep(max(d, 100*time.Millisecond))
				continue
			}
			if resp.StatusCode/100 == 2 {
				revoked++
			}
			break
		}
	}
	return revoked, nil
}
