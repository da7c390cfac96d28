package graph

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWindowLimiter runs the limiter on a fake clock: at most n starts in any window (with its 10% margin),
// each wait exactly as long as it takes the oldest start to leave the window.
func TestWindowLimiter(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		n      int
		window time.Duration     // as configured; the limiter adds 10%
		gaps   []time.Duration   // time passing before each wait
		sleeps [][]time.Duration // the sleeps each wait made
	}{
		{
			name: "burst of n, then one as each leaves the window", n: 2, window: 10 * time.Second,
			gaps:   []time.Duration{0, 0, 0, 0, 0},
			sleeps: [][]time.Duration{nil, nil, {11 * time.Second}, nil, {11 * time.Second}},
		},
		{
			name: "spread out: never waits", n: 2, window: 10 * time.Second,
			gaps:   []time.Duration{0, 6 * time.Second, 6 * time.Second, 6 * time.Second},
			sleeps: [][]time.Duration{nil, nil, nil, nil},
		},
		{
			name: "waits only for what is left of the window", n: 2, window: 10 * time.Second,
			gaps:   []time.Duration{0, 4 * time.Second, 4 * time.Second},
			sleeps: [][]time.Duration{nil, nil, {3 * time.Second}},
		},
		{
			name: "one at a time", n: 1, window: time.Second,
			gaps:   []time.Duration{0, 0, 500 * time.Millisecond},
			sleeps: [][]time.Duration{nil, {1100 * time.Millisecond}, {600 * time.Millisecond}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			var slept []time.Duration
			l := newWindowLimiter(tt.n, tt.window)
			l.now = func() time.Time { return now }
			l.sleep = func(_ context.Context, d time.Duration) error {
				slept = append(slept, d)
				now = now.Add(d)
				return nil
			}
			for i, gap := range tt.gaps {
				now = now.Add(gap)
				slept = nil
				if err := l.wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(slept, tt.sleeps[i]) {
					t.Errorf("wait %d slept %v, want %v", i, slept, tt.sleeps[i])
				}
			}
		})
	}
}

func TestWindowLimiterGivesUpWithTheContext(t *testing.T) {
	l := newWindowLimiter(1, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.wait(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := l.wait(ctx); err == nil {
		t.Fatal("a second wait within the hour returned without its cancelled context's error")
	}
}

func TestTokenAppID(t *testing.T) {
	jwt := func(claims string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
	}
	tests := []struct {
		name, token, want, err string
	}{
		{"v1.0 token", jwt(`{"aud":"https://graph.microsoft.com","appid":"app-1","azp":"ignored"}`), "app-1", ""},
		{"v2.0 token", jwt(`{"azp":"app-2"}`), "app-2", ""},
		{"padded payload", "h." + base64.URLEncoding.EncodeToString([]byte(`{"appid":"app-3"}`)) + ".s", "app-3", ""},
		{"no app claim", jwt(`{"oid":"x"}`), "", "neither an appid nor an azp"},
		{"not a JWT", "opaque-token", "", "not a JWT"},
		{"payload not JSON", "h." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".s", "", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokenAppID(tt.token)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("tokenAppID = %q, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("tokenAppID = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestWithAccessTokenLifetime(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
		err  string
	}{
		{
			name: "other documents and keys are kept byte for byte",
			in:   []string{`{"Other":{"A": 1}}`, `{"TokenLifetimePolicy":{"Version":1,"Nested":{"x": [1, 2]},"AccessTokenLifetime":"02:00:00"},"Extra":true}`},
			want: []string{`{"Other":{"A": 1}}`, `{"TokenLifetimePolicy":{"Version":1,"Nested":{"x": [1, 2]},"AccessTokenLifetime":"00:10:00"},"Extra":true}`},
		},
		{
			name: "duplicate keys in any case collapse into one, where the first was",
			in:   []string{`{"TokenLifetimePolicy":{"accesstokenlifetime":"01:00:00","Version":1,"AccessTokenLifetime":"03:00:00"}}`},
			want: []string{`{"TokenLifetimePolicy":{"AccessTokenLifetime":"00:10:00","Version":1}}`},
		},
		{name: "not JSON", in: []string{`{"TokenLifetimePolicy":`}, err: "not a JSON object"},
		{name: "trailing data", in: []string{`{"TokenLifetimePolicy":{}} {}`}, err: "trailing data"},
		{name: "no TokenLifetimePolicy", in: []string{`{"Other":{}}`}, err: "no TokenLifetimePolicy document"},
		{name: "empty", in: nil, err: "no TokenLifetimePolicy document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got, err := withAccessTokenLifetime(in, "00:10:00")
			if !slices.Equal(in, tt.in) {
				t.Errorf("the input was changed: %q", in)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("= %q, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("= %q, %v;\nwant %q", got, err, tt.want)
			}
		})
	}
}
