package graph_test

import (
	"testing"
	"time"

	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/graph/graphtest"
)

// TestRevokeGraphAtHoldsWhateverTheClockOffset revokes through the real SDK while Graph's clock runs ahead of
// and behind the host's, and reads the users back: signInSessionsValidFromDateTime must never be before
// GraphAt, however the clocks differ.
func TestRevokeGraphAtHoldsWhateverTheClockOffset(t *testing.T) {
	for _, offset := range []time.Duration{5 * time.Second, -5 * time.Second} {
		t.Run(offset.String(), func(t *testing.T) {
			srv, c := newTenant(t, graphtest.Options{Users: 30, BigGroupSize: 5}, graph.Config{})
			srv.SetClockOffset(offset)
			var ids []string
			for _, u := range srv.Users()[:25] { // two $batch calls
				ids = append(ids, u.ID)
			}
			results, err := c.RevokeSessions(ctx(t), ids, nil)
			if err != nil {
				t.Fatal(err)
			}
			after, err := c.SessionsValidFrom(ctx(t), ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				if r.Outcome != graph.OutcomeRevoked || r.GraphAt.IsZero() || r.AckedAt.Before(r.At) {
					t.Fatalf("result %d = %+v; want revoked with GraphAt set and AckedAt not before At", i, r)
				}
				got := after[i].SessionsValidFrom
				if got.Before(r.GraphAt) {
					t.Errorf("%s: valid-from %s is before GraphAt %s: the revocation would never be confirmed", ids[i], got, r.GraphAt)
				}
				// GraphAt is a tight bound, not just an old date: Graph applied the revocation within one
				// round trip before its Date, and both values drop fractions of a second.
				if rtt := r.AckedAt.Sub(r.At); r.GraphAt.Before(got.Add(-rtt - 2*time.Second)) {
					t.Errorf("%s: GraphAt %s is more than the round trip %s + 2 s before valid-from %s", ids[i], r.GraphAt, rtt, got)
				}
				if offset < 0 && !got.Before(r.At) {
					t.Errorf("%s: with Graph %s behind, valid-from %s should be before the host's send time %s", ids[i], -offset, got, r.At)
				}
			}
		})
	}
}
