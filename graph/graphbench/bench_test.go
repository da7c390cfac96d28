package graphbench

import (
	"context"
	"os"
	"testing"
)

// BenchmarkRevoke10k prints the revocation figures (users/s, % of the write ceiling, 429s, users lost) for
// 10,000 users, batched and paced, next to the sequential loop. Run: go test -bench Revoke ./graph/graphbench/
func BenchmarkRevoke10k(b *testing.B) {
	for range b.N {
		batched, seq, err := Run(context.Background(), Options{}, os.Stdout)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(batched.UsersPerSec, "users/s")
		b.ReportMetric(batched.PctOfCeiling, "%ceiling")
		b.ReportMetric(float64(batched.Throttled429Items+batched.Throttled429Reqs), "429s")
		b.ReportMetric(float64(batched.Lost), "lost")
		b.ReportMetric(batched.UsersPerSec/seq.UsersPerSec, "x-vs-sequential")
	}
}
