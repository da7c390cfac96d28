package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// AccessTokenLifetime reads the organization-default token lifetime policy. Its AccessTokenLifetime bounds
// how long a client can keep using a token issued before a revocation; without one, the configured default
// applies (Teams and Microsoft 365 clients can hold tokens for 2 h in tenants without Conditional Access).
func (c *Client) AccessTokenLifetime(ctx context.Context) (TokenLifetime, error) {
	var resp models.TokenLifetimePolicyCollectionResponseable
	err := c.do(ctx, "list token lifetime policies", func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.Policies().TokenLifetimePolicies().Get(ctx, nil)
		return err
	})
	if err != nil {
		return TokenLifetime{}, fmt.Errorf("graph: read token lifetime policies: %w", err)
	}
	for _, p := range resp.GetValue() {
		if !deref(p.GetIsOrganizationDefault()) {
			continue
		}
		for _, def := range p.GetDefinition() {
			d, ok, err := policyAccessTokenLifetime(def)
			if err != nil {
				return TokenLifetime{}, fmt.Errorf("graph: token lifetime policy %s: %w", deref(p.GetId()), err)
			}
			if ok {
				return TokenLifetime{Lifetime: d, PolicyID: deref(p.GetId()),
					Source: fmt.Sprintf("organization-default token lifetime policy %q", deref(p.GetDisplayName()))}, nil
			}
		}
	}
	return TokenLifetime{Lifetime: c.cfg.DefaultTokenLifetime,
		Source: "default (the tenant has no organization-default token lifetime policy)"}, nil
}

// policyAccessTokenLifetime reads AccessTokenLifetime out of a policy definition such as
// {"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"02:00:00"}}.
func policyAccessTokenLifetime(definition string) (time.Duration, bool, error) {
	var def struct {
		TokenLifetimePolicy struct {
			AccessTokenLifetime string
		}
	}
	if err := json.Unmarshal([]byte(definition), &def); err != nil {
		return 0, false, fmt.Errorf("definition is not JSON: %w", err)
	}
	v := def.TokenLifetimePolicy.AccessTokenLifetime
	if v == "" {
		return 0, false, nil
	}
	d, err := ParseTimeSpan(v)
	return d, err == nil, err
}

// ParseTimeSpan parses the .NET TimeSpan text Entra policies use: "[d.]hh:mm:ss".
func ParseTimeSpan(s string) (time.Duration, error) {
	var days int
	rest := s
	if before, after, ok := strings.Cut(s, "."); ok && !strings.Contains(before, ":") {
		n, err := strconv.Atoi(before)
		if err != nil {
			return 0, fmt.Errorf("time span %q: bad days", s)
		}
		days, rest = n, after
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("time span %q: want [d.]hh:mm:ss", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("time span %q: bad number %q", s, p)
		}
		n[i] = v
	}
	if n[1] > 59 || n[2] > 59 || days < 0 {
		return 0, fmt.Errorf("time span %q: out of range", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second, nil
}

// FormatTimeSpan is the inverse of ParseTimeSpan.
func FormatTimeSpan(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	s := fmt.Sprintf("%02d:%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second))
	if days > 0 {
		return fmt.Sprintf("%d.%s", days, s)
	}
	return s
}
