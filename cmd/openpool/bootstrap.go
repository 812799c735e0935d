package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
)

func newBootstrapCmd(g *globals) *cobra.Command {
	var (
		f nodeFlags
		s bootstrapSettings
	)
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Run a bootstrap node: DHT server and circuit relay that new nodes dial first",
		Long: "Run a bootstrap node: a DHT server, circuit relay v2 and AutoNAT service.\n" +
			"It prints its multiaddrs (give one to joiners with --bootstrap) and runs until SIGINT/SIGTERM.\n\n" +
			"Settings come from --config (TOML, see examples/bootstrap.toml), overridden by flags.\n" +
			"The status address serves a status page (/), JSON (/status) and Prometheus metrics (/metrics);\n" +
			"keep it on 127.0.0.1 unless a firewall or proxy guards it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := s.resolve(cmd, g, &f)
			if err != nil {
				return err
			}
			if s.printConfig {
				b, err := cfg.encode()
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(b)
				return err
			}
			restore, err := applyProcessLimits(cfg.Limits)
			defer restore()
			if err != nil {
				return err
			}
			log := cfg.logger(g)
			ctx := cmd.Context()
			n, cleanup, err := startNode(ctx, g, &f, node.AsBootstrapNode(),
				node.WithLimits(node.Limits{ConnLow: cfg.Limits.ConnLow, ConnHigh: cfg.Limits.ConnHigh, MaxConns: cfg.Limits.MaxConns}),
				node.WithLogger(log))
			if err != nil {
				return err
			}
			defer cleanup()
			defer n.Close()
			for _, a := range n.Addrs() {
				fmt.Fprintln(g.stdout, a)
			}
			log.Info("bootstrap node ready", "peer", n.ID(), "identity", n.IdentityPath(), "status_api", n.StatusAddr(),
				"config", s.configPath, "conn_low", cfg.Limits.ConnLow, "conn_high", cfg.Limits.ConnHigh, "max_conns", cfg.Limits.MaxConns,
				"max_open_files", cfg.Limits.MaxOpenFiles, "memory_limit_mib", cfg.Limits.MemoryLimitMiB)
			<-ctx.Done()
			log.Info("shutting down")
			return nil
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"})
	s.register(cmd)
	return cmd
}
