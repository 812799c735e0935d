// Package swarmtest builds small swarms of real libp2p hosts on loopback for
// tests: every host listens on 127.0.0.1 TCP with an ephemeral port, and the
// test's cleanup closes them all.
package swarmtest

import (
	"context"
	"github.com/openpool/openpool/p2p"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Hosts starts n real libp2p hosts on loopback TCP. They are not connected;
// use Connect or ConnectAll.
func Hosts(t testing.TB, n int) []host.Host {
	t.Helper()
	hs := make([]host.Host, n)
	for i := range hs {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			p2p.Security(), // the secure channels nodes run
			libp2p.DisableRelay(),
			libp2p.ResourceManager(&network.NullResourceManager{}), // default limits are too tight for dozens of hosts in one process
		)
		if err != nil {
			t.Fatalf("swarmtest: new host %d: %v", i, err)
		}
		t.Cleanup(func() { _ = h.Close() })
		hs[i] = h
	}
	return hs
}

// Connect dials b from a and fails the test on error.
func Connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("swarmtest: connect %s -> %s: %v", a.ID(), b.ID(), err)
	}
}

// ConnectAll connects every pair of hosts (a full mesh).
func ConnectAll(t testing.TB, hs []host.Host) {
	t.Helper()
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			Connect(t, hs[i], hs[j])
		}
	}
}

// GossipSubs starts a gossipsub router with strict signing on every host.
func GossipSubs(t testing.TB, hs []host.Host, opts ...pubsub.Option) []*pubsub.PubSub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps := make([]*pubsub.PubSub, len(hs))
	for i, h := range hs {
		p, err := pubsub.NewGossipSub(ctx, h, append([]pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictSign)}, opts...)...)
		if err != nil {
			t.Fatalf("swarmtest: gossipsub on host %d: %v", i, err)
		}
		ps[i] = p
	}
	return ps
}
