// Package node is the embeddable openpool node: it wires the p2p layer,
// membership, DiLoCo, shardcast, TOPLOC and the ledger into one lifecycle.
//
//	n, err := node.New(ctx, node.WithDataDir(dir), node.WithBootstrap(addrs...))
//	defer n.Close()
//	err = n.Join(ctx, "my-pool")
package node
