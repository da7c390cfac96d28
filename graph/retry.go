package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// APIError is a failed Graph answer, with Graph's own code and message.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("graph: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("graph: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// apiError turns an SDK error into *APIError (keeping Retry-After), or returns nil for transport errors.
func apiError(err error) (*APIError, time.Duration) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, 0
	}
	var status int
	var headers *abstractions.ResponseHeaders
	out := &APIError{Message: err.Error()}
	var odata *odataerrors.ODataError
	var plain *abstractions.ApiError
	switch {
	case errors.As(err, &odata):
		status, headers = odata.GetStatusCode(), odata.GetResponseHeaders()
		if main := odata.GetErrorEscaped(); main != nil {
			out.Code = deref(main.GetCode())
			out.Message = deref(main.GetMessage())
		}
	case errors.As(err, &plain):
		status, headers = plain.GetStatusCode(), plain.GetResponseHeaders()
	default:
		return nil, 0
	}
	out.Status = status
	var retryAfter time.Duration
	if headers != nil {
		for _, k := range []string{"Retry-After", "retry-after"} {
			if v := headers.Get(k); len(v) > 0 {
				retryAfter = parseRetryAfter(v[0])
			}
		}
	}
	return out, retryAfter
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// parseRetryAfter reads delta-seconds (what Graph sends) or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// retryable says whether an answer is worth another try: throttling and transient server errors.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before attempt n+1 when Graph gave no Retry-After.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.RetryBaseDelay << min(attempt-1, 6)
	return min(d, 30*time.Second)
}

// attempt bounds one try of one Graph call, token acquisition included (kiota asks the credential for a
// token with the request's context), by Config.RequestTimeout.
func (c *Client) attempt(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.RequestTimeout)
}

// permanentError is how a function run by do says "stop: trying again cannot help" about an error that is no
// Graph answer (do retries those as transport failures). do returns the wrapped error.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// do runs one Graph request with the package's retry policy: Retry-After is honoured on 429 and 503,
// other transient failures (a timed-out attempt among them) back off exponentially, and 429s don't use up
// attempts.
func (c *Client) do(ctx context.Context, op string, fn func(context.Context) error) error {
	attempts := 0
	for {
		actx, cancel := c.attempt(ctx)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		attempts++
		ae, retryAfter := apiError(err)
		if ae != nil && !retryable(ae.Status) {
			return ae
		}
		throttled := ae != nil && ae.Status == http.StatusTooManyRequests
		if !throttled && attempts >= c.cfg.MaxAttempts {
			if ae != nil {
				return fmt.Errorf("%s: gave up after %d attempts: %w", op, attempts, ae)
			}
			return fmt.Errorf("%s: gave up after %d attempts: %w", op, attempts, err)
		}
		wait := retryAfter
		if wait <= 0 {
			wait = c.backoff(attempts)
		}
		c.log.InfoContext(ctx, "graph retry", "op", op, "err", err, "wait", wait)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
