// Package nodetest starts in-process openpool swarms of real nodes on
// loopback for tests: one bootstrap node and n members.
package nodetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// Loopback is the listen address of test nodes: TCP on 127.0.0.1, any port.
var Loopback = ma.StringCast("/ip4/127.0.0.1/tcp/0")

// quiet drops node logs; a test that wants them passes node.WithLogger.
var quiet = slog.New(slog.DiscardHandler)

// Bootstrap starts a bootstrap node on loopback; the test's cleanup closes it.
func Bootstrap(t testing.TB, opts ...node.Option) *node.Node {
	t.Helper()
	base := []node.Option{node.AsBootstrapNode(), node.WithListenAddrs(Loopback), node.WithNAT(false), node.WithUnlimitedResources(), node.WithHardware(p2p.Hardware{CPUCores: 1}), node.WithLogger(quiet)}
	n, err := node.New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("nodetest: bootstrap node: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Node starts one member node that bootstraps from boot.
func Node(t testing.TB, boot *node.Node, opts ...node.Option) *node.Node {
	t.Helper()
	base := []node.Option{
		node.WithListenAddrs(Loopback), node.WithNAT(false), node.WithUnlimitedResources(),
		node.WithBootstrapPeers(peer.AddrInfo{ID: boot.ID(), Addrs: boot.Host().Addrs()}),
		node.WithHardware(p2p.Hardware{CPUCores: 1}),
		node.WithLogger(quiet),
	}
	n, err := node.New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("nodetest: node: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Swarm starts a bootstrap node and n member nodes that all join pool.
func Swarm(t testing.TB, n int, pool string, opts ...node.Option) (*node.Node, []*node.Node) {
	t.Helper()
	boot := Bootstrap(t, opts...)
	nodes := make([]*node.Node, n)
	for i := range nodes {
		nodes[i] = Node(t, boot, opts...)
		if err := nodes[i].Join(context.Background(), pool); err != nil {
			t.Fatalf("nodetest: node %d join: %v", i, err)
		}
	}
	return boot, nodes
}

// WaitFor polls cond every 50 ms until it holds or timeout passes; it
// returns whether cond held.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AliveCount returns how many members of pool n sees as alive.
func AliveCount(n *node.Node, pool string) int {
	c := 0
	for _, m := range n.Members(pool) {
		if m.State == p2p.StateAlive {
			c++
		}
	}
	return c
}
