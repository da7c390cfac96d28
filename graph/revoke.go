package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// RevokeSessions calls revokeSignInSessions for every user through JSON $batch, paced at the write ceiling.
// It returns one result per id, in order, also when ctx ends early (those users are "failed: cancelled"),
// so that no user is ever dropped silently. progress, if set, sees each final result as it arrives.
//
// Concurrent calls share the write ceiling round-robin, batch by batch, so a small call started during a large
// one is not queued behind it.
func (c *Client) RevokeSessions(ctx context.Context, userIDs []string, progress func(RevokeResult)) ([]RevokeResult, error) {
	key := c.writes.join()
	defer c.writes.leave(key)
	results := make([]RevokeResult, len(userIDs))
	have := make([]bool, len(userIDs))
	var mu sync.Mutex
	err := c.runBatches(ctx, batchSpec{
		op: "revokeSignInSessions",
		n:  len(userIDs),
		build: func(ctx context.Context, i int) (*abstractions.RequestInformation, error) {
			return c.sdk.Users().ByUserId(userIDs[i]).RevokeSignInSessions().ToPostRequestInformation(ctx, nil)
		},
		pace: c.writes,
		key:  key,
		done: func(i int, r itemResult) {
			res := revokeResult(userIDs[i], r)
			mu.Lock()
			results[i], have[i] = res, true
			mu.Unlock()
			if progress != nil {
				progress(res)
			}
		},
	})
	mu.Lock()
	defer mu.Unlock()
	for i, ok := range have {
		if !ok {
			results[i] = RevokeResult{UserID: userIDs[i], Outcome: OutcomeFailed, Code: "cancelled",
				Message: fmt.Sprintf("not sent: %v", err)}
		}
	}
	return results, err
}

func revokeResult(id string, r itemResult) RevokeResult {
	res := RevokeResult{UserID: id, At: r.SentAt, Status: r.Status, Attempts: r.Attempts}
	switch {
	case r.Err == nil && r.Status >= 200 && r.Status < 300:
		// Graph documents 204 and answers 200 {"value": true}: any 2xx is success.
		res.Outcome = OutcomeRevoked
		res.AckedAt = r.AckedAt
		if !r.GraphDate.IsZero() {
			// Graph applied the revocation at most one round trip before it stamped Date, and both Date and
			// signInSessionsValidFromDateTime drop fractions of a second: hence the extra second.
			res.GraphAt = r.GraphDate.Add(-r.RoundTrip - time.Second)
		}
		return res
	case r.Status == http.StatusNotFound:
		res.Outcome = OutcomeNotFound
	case r.Status == http.StatusForbidden:
		res.Outcome = OutcomeForbidden
	default:
		res.Outcome = OutcomeFailed
	}
	res.Code, res.Message = itemError(r)
	return res
}

// SessionsValidFrom reads signInSessionsValidFromDateTime for every user through $batch (the property is
// only returned when selected). One state per id, in order.
func (c *Client) SessionsValidFrom(ctx context.Context, userIDs []string) ([]SessionState, error) {
	states := make([]SessionState, len(userIDs))
	have := make([]bool, len(userIDs))
	var mu sync.Mutex
	cfg := &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "signInSessionsValidFromDateTime"}},
	}
	err := c.runBatches(ctx, batchSpec{
		op: "read signInSessionsValidFromDateTime",
		n:  len(userIDs),
		build: func(ctx context.Context, i int) (*abstractions.RequestInformation, error) {
			return c.sdk.Users().ByUserId(userIDs[i]).ToGetRequestInformation(ctx, cfg)
		},
		done: func(i int, r itemResult) {
			st := sessionState(userIDs[i], r)
			mu.Lock()
			states[i], have[i] = st, true
			mu.Unlock()
		},
	})
	for i, ok := range have {
		if !ok {
			states[i] = SessionState{UserID: userIDs[i], Err: fmt.Errorf("not read: %w", errors.Join(err, context.Cause(ctx)))}
		}
	}
	return states, err
}

func sessionState(id string, r itemResult) SessionState {
	st := SessionState{UserID: id}
	switch {
	case r.Err != nil:
		st.Err = r.Err
	case r.Status == http.StatusNotFound:
	case r.Status == http.StatusOK:
		st.Found = true
		var body struct {
			ValidFrom *time.Time `json:"signInSessionsValidFromDateTime"`
		}
		if err := decodeBody(r.Body, &body); err != nil {
			st.Err = fmt.Errorf("signInSessionsValidFromDateTime: %w", err)
		} else if body.ValidFrom != nil {
			st.SessionsValidFrom = body.ValidFrom.UTC()
		}
	default:
		code, msg := itemError(r)
		st.Err = &APIError{Status: r.Status, Code: code, Message: msg}
	}
	return st
}
