package main

import (
	"github.com/spf13/cobra"

	"github.com/signoutbot/signoutbot/graph/graphbench"
)

func newBenchCmd() *cobra.Command {
	var o graphbench.Options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure revocation throughput against a simulated tenant (batched and paced vs. one request per user)",
		Long: `bench revokes --users users through the graph package ($batch, paced at the write ceiling) and
--sequential-users users one request at a time, on one simulated tenant whose write ceiling and latency are
real Graph's scaled by --scale, and prints users/s, % of the ceiling, 429s and users lost for both.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, _, err := graphbench.Run(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Users, "users", 10000, "users revoked by the batched pipeline")
	f.IntVar(&o.SequentialUsers, "sequential-users", 2000, "users revoked by the sequential loop")
	f.Float64Var(&o.Scale, "scale", 20, "speed-up of the simulated tenant over real Graph (ceiling ×, latency ÷)")
	f.IntVar(&o.Concurrency, "concurrency", 8, "$batch requests in flight")
	return cmd
}
