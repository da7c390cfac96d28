package graphtest

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Throttling follows Entra ID's published per-app-per-tenant model: separate
// token buckets for writes (requests) and reads (resource units). A bucket is
// hand-rolled rather than x/time/rate because we need the exact wait for
// Retry-After, must not consume anything on rejection, and run on the
// injectable clock.

type bucketKind int

const (
	readBucket bucketKind = iota
	writeBucket
	// reportBucket is the identity and access reports service's own limit (the directory audit log): a
	// number of requests per window per app per tenant, whatever they read, apart from the directory's
	// resource-unit budget.
	reportBucket
	numBuckets
)

func (k bucketKind) scopeName() string {
	switch k {
	case writeBucket:
		return "WriteRequests"
	case reportBucket:
		return "ReportRequests"
	}
	return "ReadRequests"
}

type bucket struct {
	tokens float64
	last   time.Time
}

type bucketConfig struct {
	capacity int // <0: unlimited
	window   time.Duration
}

func (c bucketConfig) ratePerSecond() float64 {
	return float64(c.capacity) / c.window.Seconds()
}

type throttler struct {
	mu      sync.Mutex
	now     func() time.Time
	config  [numBuckets]bucketConfig
	buckets [numBuckets]map[string]*bucket // per app id
}

// newThrottler starts with an unlimited report bucket; New configures it from Options.
func newThrottler(now func() time.Time, read, write bucketConfig) *throttler {
	return &throttler{
		now:     now,
		config:  [numBuckets]bucketConfig{readBucket: read, writeBucket: write, reportBucket: {capacity: -1, window: time.Second}},
		buckets: [numBuckets]map[string]*bucket{{}, {}, {}},
	}
}

// setConfig replaces a bucket's limits and refills it, so a test that lowers
// the budget starts from a known state.
func (t *throttler) setConfig(kind bucketKind, c bucketConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.config[kind] = c
	t.buckets[kind] = map[string]*bucket{}
}

// throttleDecision explains a rejection.
type throttleDecision struct {
	ok         bool
	retryAfter time.Duration
	percentage float64 // demand relative to capacity, for x-ms-throttle-limit-percentage
}

// take consumes cost tokens for app, or rejects without consuming anything.
func (t *throttler) take(kind bucketKind, app string, cost int) throttleDecision {
	t.mu.Lock()
	defer t.mu.Unlock()
	cfg := t.config[kind]
	if cfg.capacity < 0 || cost <= 0 {
		return throttleDecision{ok: true}
	}
	now := t.now()
	b := t.buckets[kind][app]
	if b == nil {
		b = &bucket{tokens: float64(cfg.capacity), last: now}
		t.buckets[kind][app] = b
	}
	rate := cfg.ratePerSecond()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(float64(cfg.capacity), b.tokens+elapsed*rate)
	}
	b.last = now
	if b.tokens >= float64(cost) {
		b.tokens -= float64(cost)
		return throttleDecision{ok: true}
	}
	need := float64(cost) - b.tokens
	wait := time.Duration(math.Ceil(need / rate * float64(time.Second)))
	if cost > cfg.capacity || rate <= 0 {
		wait = cfg.window // can never fit; tell the client to back off a full window
	}
	pct := 1.0
	if cfg.capacity > 0 {
		pct = (float64(cfg.capacity) - b.tokens + float64(cost)) / float64(cfg.capacity)
	}
	return throttleDecision{retryAfter: wait, percentage: pct}
}

// throttledResponse renders Graph's 429 with the throttling headers Entra ID sends.
func (s *Server) throttledResponse(req *apiRequest, kind bucketKind, d throttleDecision) *apiResponse {
	resp := graphError(req, 429, codeTooManyRequests, "Too many requests").withRetryAfter(d.retryAfter)
	// Raw map keys keep Graph's lower-case spelling inside $batch item headers.
	resp.header["x-ms-throttle-limit-percentage"] = []string{fmt.Sprintf("%.1f", d.percentage)}
	resp.header["x-ms-throttle-scope"] = []string{fmt.Sprintf("Tenant_Application/%s/%s/%s", kind.scopeName(), s.opts.TenantID, req.appID)}
	resp.header["x-ms-throttle-information"] = []string{"Throttle limit exceeded"}
	return resp
}
