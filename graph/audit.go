package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// revocationActivity is the activityDisplayName Entra ID logs for revokeSignInSessions.
const revocationActivity = "Update StsRefreshTokenValidFrom Timestamp"

// perUserAuditQueries is how many users at most are looked up one query each. Up to it, a query per user
// (targetResources/any(t: t/id eq '…'), a form Graph documents) costs no more requests than the reporting
// API allows at once, however busy the app has been. Past it, one query for every revocation this app logged
// since the time given, matched to the users here, takes far fewer requests than a query per user: a
// cross-check follows a run, so those entries are mostly the run's own. (Several ids in one lambda, with
// "or", is a form Graph does not document for the audit log.)
const perUserAuditQueries = 4

// RevocationAudits counts, for each user, the directory audit entries "Update StsRefreshTokenValidFrom
// Timestamp" that this app (Config.AppID) initiated against the user at or after since: one per accepted
// revokeSignInSessions. Every given id has an entry in the map, 0 when the log shows no revocation, so a
// revocation reported done with no entry stands out.
//
// since is compared with activityDateTime, which is on Graph's clock: a time taken from the bot host's clock
// should be moved back by the difference the clocks may have (or be a RevokeResult.GraphAt, which is on
// Graph's clock). The audit log also takes a few minutes to show an entry, so a count of 0 right after a
// revocation is no proof of a gap.
//
// Reads go through Graph's reporting API, which allows an app 5 requests per 10 s in a tenant: they pace
// themselves to Config.AuditRequests per Config.AuditWindow and wait out a 429's Retry-After. Without
// AuditLog.Read.All the error wraps an *APIError with Status 403.
func (c *Client) RevocationAudits(ctx context.Context, userIDs []string, since time.Time) (map[string]int, error) {
	counts := make(map[string]int, len(userIDs))
	byKey := make(map[string]string, len(userIDs)) // lower-case id → the id as given
	var ids []string
	for _, id := range userIDs {
		if _, dup := counts[id]; dup {
			continue
		}
		counts[id] = 0
		byKey[strings.ToLower(id)] = id
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return counts, nil
	}
	appID, err := c.appID(ctx)
	if err != nil {
		return nil, fmt.Errorf("graph: read directory audit log: %w", err)
	}
	base := "activityDisplayName eq " + Quote(revocationActivity) + " and initiatedBy/app/appId eq " + Quote(appID)
	if !since.IsZero() {
		// Whole seconds, rounded down, so the filter keeps everything since; the exact bound is checked below.
		base += " and activityDateTime ge " + since.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	filters := []string{base}
	if len(ids) <= perUserAuditQueries {
		filters = filters[:0]
		for _, id := range ids {
			filters = append(filters, base+" and targetResources/any(t: t/id eq "+Quote(id)+")")
		}
	}
	seen := map[string]bool{}
	count := func(a models.DirectoryAuditable) {
		if id := deref(a.GetId()); id != "" {
			if seen[id] {
				return // per-user queries can meet the same entry when it names two of the users
			}
			seen[id] = true
		}
		// The filter said all this already; checking again keeps the count exact should Graph's filtering
		// be looser than documented (and makes since exact to the nanosecond).
		if !strings.EqualFold(deref(a.GetActivityDisplayName()), revocationActivity) || !initiatedByApp(a, appID) {
			return
		}
		if at := a.GetActivityDateTime(); at != nil && at.Before(since) {
			return
		}
		counted := map[string]bool{}
		for _, t := range a.GetTargetResources() {
			if id, ok := byKey[strings.ToLower(deref(t.GetId()))]; ok && !counted[id] {
				counted[id] = true
				counts[id]++
			}
		}
	}
	for _, f := range filters {
		if err := c.listAudits(ctx, f, count); err != nil {
			return nil, fmt.Errorf("graph: read directory audit log: %w", err)
		}
	}
	return counts, nil
}

func initiatedByApp(a models.DirectoryAuditable, appID string) bool {
	by := a.GetInitiatedBy()
	if by == nil || by.GetApp() == nil {
		return false
	}
	return strings.EqualFold(deref(by.GetApp().GetAppId()), appID)
}

// listAudits calls fn with every directory audit entry filter matches, page by page, each request paced to
// the reporting API's limit.
func (c *Client) listAudits(ctx context.Context, filter string, fn func(models.DirectoryAuditable)) error {
	builder := c.sdk.AuditLogs().DirectoryAudits()
	top := int32(c.cfg.AuditPageSize)
	cfg := &auditlogs.DirectoryAuditsRequestBuilderGetRequestConfiguration{
		QueryParameters: &auditlogs.DirectoryAuditsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top},
	}
	next := ""
	for {
		var resp models.DirectoryAuditCollectionResponseable
		err := c.do(ctx, "list directory audits", func(ctx context.Context) error {
			// Inside the attempt, so that a retry after a 429 or a failure is paced like any request.
			if err := c.audits.wait(ctx); err != nil {
				return err
			}
			var err error
			if next == "" {
				resp, err = builder.Get(ctx, cfg)
			} else {
				resp, err = builder.WithUrl(next).Get(ctx, nil)
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, a := range resp.GetValue() {
			fn(a)
		}
		if next = deref(resp.GetOdataNextLink()); next == "" {
			return nil
		}
	}
}

// appID is the client id this client acts as: Config.AppID, else the appid (or azp) claim of its own Graph
// access token, read once.
func (c *Client) appID(ctx context.Context) (string, error) {
	if c.cfg.AppID != "" {
		return c.cfg.AppID, nil
	}
	c.appMu.Lock()
	defer c.appMu.Unlock()
	if c.tokenAppID != "" {
		return c.tokenAppID, nil
	}
	tok, err := c.cfg.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		return "", fmt.Errorf("no Config.AppID, and no token to read the app id from: %w", err)
	}
	id, err := tokenAppID(tok.Token)
	if err != nil {
		return "", fmt.Errorf("no Config.AppID, and the app id is not in the token: %w", err)
	}
	c.tokenAppID = id
	return id, nil
}

// tokenAppID reads the calling app's id out of an access token's claims without checking its signature:
// the token is our own, fresh from the credential, and only Graph needs to trust it.
func tokenAppID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("decode the access token's claims: %w", err)
	}
	var claims struct {
		AppID string `json:"appid"` // v1.0 tokens, which Graph's are
		AZP   string `json:"azp"`   // v2.0 tokens
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("parse the access token's claims: %w", err)
	}
	switch {
	case claims.AppID != "":
		return claims.AppID, nil
	case claims.AZP != "":
		return claims.AZP, nil
	}
	return "", errors.New("the access token has neither an appid nor an azp claim")
}

// windowLimiter lets at most n requests start in any window: a sliding window rather than a token bucket,
// because Graph does not say how it counts its "5 requests per 10 seconds", and a token bucket with burst 5
// would send up to 10 in the first 10 s. The window carries a 10% margin for the time between a request
// leaving here and Graph counting it.
type windowLimiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	sent   []time.Time // when the last n requests started, oldest first
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

func newWindowLimiter(n int, window time.Duration) *windowLimiter {
	return &windowLimiter{n: n, window: window + window/10, now: time.Now, sleep: sleep}
}

// wait blocks until a request may start, and counts it as started.
func (l *windowLimiter) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		if len(l.sent) < l.n {
			l.sent = append(l.sent, now)
			l.mu.Unlock()
			return nil
		}
		d := l.sent[0].Add(l.window).Sub(now)
		if d <= 0 {
			copy(l.sent, l.sent[1:])
			l.sent[l.n-1] = now
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
}
