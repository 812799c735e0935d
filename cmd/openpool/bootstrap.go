package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
)

func newBootstrapCmd(g *globals) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Run a bootstrap node: DHT server and circuit relay that new nodes dial first",
		Long: "Run a bootstrap node: a DHT server, circuit relay v2 and AutoNAT service.\n" +
			"It prints its multiaddrs (give one to joiners with --bootstrap) and runs until SIGINT/SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			n, cleanup, err := startNode(ctx, g, &f, node.AsBootstrapNode())
			if err != nil {
				return err
			}
			defer cleanup()
			defer n.Close()
			for _, a := range n.Addrs() {
				fmt.Fprintln(g.stdout, a)
			}
			g.logger().Info("bootstrap node ready", "peer", n.ID(), "identity", n.IdentityPath(), "status_api", n.StatusAddr())
			<-ctx.Done()
			g.logger().Info("shutting down")
			return nil
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"})
	return cmd
}
