package main

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/p2p"
)

func newIDCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print this node's peer ID (creating its identity if needed) and where it is kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			k, path, err := p2p.LoadOrCreateIdentity(dir)
			if err != nil {
				return err
			}
			id, err := peer.IDFromPrivateKey(k)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, id)
			fmt.Fprintf(g.stderr, "identity: %s\n", path)
			return nil
		},
	}
}
