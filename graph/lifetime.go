package graph

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// AccessTokenLifetime finds the latest moment an access token issued before a revocation can still work,
// as a lifetime: the longest AccessTokenLifetime among all token lifetime policies that apply. Apps with no
// policy of their own get the organization-default policy's lifetime or, without one, the configured
// DefaultTokenLifetime (Teams and Microsoft 365 clients can hold tokens for 2 h in tenants without
// Conditional Access); an app with a policy assigned gets that policy's, which may be longer. A non-default
// policy assigned to nothing applies to no token and is left out; one whose assignments cannot be read is
// counted, because guessing short would announce "every token is dead" too early.
//
// When the policies cannot be listed (a 403 without Policy.Read.All, say) the error wraps the *APIError and
// no lifetime is guessed: the caller decides what to tell the admin.
func (c *Client) AccessTokenLifetime(ctx context.Context) (TokenLifetime, error) {
	policies, err := c.tokenLifetimePolicies(ctx)
	if err != nil {
		return TokenLifetime{}, fmt.Errorf("graph: read token lifetime policies: %w", err)
	}
	base := TokenLifetime{Lifetime: c.cfg.DefaultTokenLifetime, Source: c.defaultLifetimeSource(len(policies) == 0)}
	orgDefault := false
	type candidate struct {
		id, name string
		d        time.Duration
	}
	var assignable []candidate
	for _, p := range policies {
		id, name := deref(p.GetId()), deref(p.GetDisplayName())
		d, ok, err := policyLifetime(p)
		if err != nil {
			return TokenLifetime{}, fmt.Errorf("graph: token lifetime policy %s (%q): %w", id, name, err)
		}
		if !ok {
			continue // the policy sets other lifetimes only; access tokens keep their default
		}
		if !deref(p.GetIsOrganizationDefault()) {
			assignable = append(assignable, candidate{id, name, d})
			continue
		}
		// The organization default replaces the configured default for apps without a policy, even when
		// shorter: it is what Entra applies to them.
		if !orgDefault || d > base.Lifetime {
			base = TokenLifetime{Lifetime: d, PolicyID: id, FromPolicy: true,
				Source: fmt.Sprintf("organization-default policy %q", name)}
			orgDefault = true
		}
	}
	// Longest first: the first one that applies is the answer, and shorter ones need no appliesTo read.
	slices.SortStableFunc(assignable, func(a, b candidate) int { return cmp.Compare(b.d, a.d) })
	for _, p := range assignable {
		if p.d <= base.Lifetime {
			break
		}
		apps, total, err := c.policyAppliesTo(ctx, p.id)
		switch {
		case err != nil && ctx.Err() != nil:
			return TokenLifetime{}, fmt.Errorf("graph: token lifetime policy %s (%q): %w", p.id, p.name, err)
		case err != nil:
			c.log.WarnContext(ctx, "token lifetime policy assignments unreadable; counting the policy", "policy", p.id, "err", err)
			return TokenLifetime{Lifetime: p.d, PolicyID: p.id, FromPolicy: true,
				Source: fmt.Sprintf("policy %q (could not read which apps it is assigned to, so counted)", p.name)}, nil
		case total == 0:
			continue // assigned to nothing: no token gets this lifetime
		}
		src := fmt.Sprintf("policy %q assigned to app %q", p.name, apps[0])
		if total > 1 {
			src += fmt.Sprintf(" and %d more", total-1)
		}
		return TokenLifetime{Lifetime: p.d, PolicyID: p.id, FromPolicy: true, Source: src}, nil
	}
	return base, nil
}

// defaultLifetimeSource explains the configured default to the admin.
func (c *Client) defaultLifetimeSource(noPolicies bool) string {
	why := "configured default"
	if c.cfg.DefaultTokenLifetime == 2*time.Hour {
		why = "default for Teams and Microsoft 365 clients"
	}
	if noPolicies {
		return "no token lifetime policy in the tenant (" + why + ")"
	}
	return "no organization-default token lifetime policy (" + why + ")"
}

// tokenLifetimePolicies lists every token lifetime policy, following nextLinks.
func (c *Client) tokenLifetimePolicies(ctx context.Context) ([]models.TokenLifetimePolicyable, error) {
	builder := c.sdk.Policies().TokenLifetimePolicies()
	var all []models.TokenLifetimePolicyable
	next := ""
	for {
		var resp models.TokenLifetimePolicyCollectionResponseable
		err := c.do(ctx, "list token lifetime policies", func(ctx context.Context) error {
			var err error
			if next == "" {
				resp, err = builder.Get(ctx, nil)
			} else {
				resp, err = builder.WithUrl(next).Get(ctx, nil)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, resp.GetValue()...)
		if next = deref(resp.GetOdataNextLink()); next == "" {
			return all, nil
		}
	}
}

// policyAppliesTo reads what a policy is assigned to: the first few names (display name, else app id, else
// object id) and the total count.
func (c *Client) policyAppliesTo(ctx context.Context, policyID string) ([]string, int, error) {
	builder := c.sdk.Policies().TokenLifetimePolicies().ByTokenLifetimePolicyId(policyID).AppliesTo()
	var names []string
	next := ""
	for {
		var resp models.DirectoryObjectCollectionResponseable
		err := c.do(ctx, "token lifetime policy appliesTo", func(ctx context.Context) error {
			var err error
			if next == "" {
				resp, err = builder.Get(ctx, nil)
			} else {
				resp, err = builder.WithUrl(next).Get(ctx, nil)
			}
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		for _, o := range resp.GetValue() {
			names = append(names, directoryObjectName(o))
		}
		if next = deref(resp.GetOdataNextLink()); next == "" {
			return names, len(names), nil
		}
	}
}

// directoryObjectName names an application or service principal as the admin knows it.
func directoryObjectName(o models.DirectoryObjectable) string {
	var name, appID string
	switch v := o.(type) {
	case models.Applicationable:
		name, appID = deref(v.GetDisplayName()), deref(v.GetAppId())
	case models.ServicePrincipalable:
		name, appID = deref(v.GetDisplayName()), deref(v.GetAppId())
	}
	switch {
	case name != "":
		return name
	case appID != "":
		return appID
	}
	return deref(o.GetId())
}

// policyLifetime is the AccessTokenLifetime a policy sets, if any of its definitions sets one.
func policyLifetime(p models.TokenLifetimePolicyable) (time.Duration, bool, error) {
	for _, def := range p.GetDefinition() {
		d, ok, err := policyAccessTokenLifetime(def)
		if err != nil || ok {
			return d, ok, err
		}
	}
	return 0, false, nil
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
