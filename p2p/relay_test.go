package p2p

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// circuitOnly returns the /p2p-circuit addresses among addrs.
func circuitOnly(addrs []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range addrs {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// TestNATNodeReservesRelayOnPrivateNetwork: on a network of private
// addresses (loopback here, 10.0.0.0/8 in the lab) AutoNAT v1 never decides
// a reachability, yet a node with NAT traversal on must reserve a slot on its
// bootstrap relay and advertise the circuit address, another node must reach
// it through that address alone, and the NAT'd node must then dial that
// node back directly.
func TestNATNodeReservesRelayOnPrivateNetwork(t *testing.T) {
	boot := newTestStack(t, Config{BootstrapNode: true})
	bootInfo := []peer.AddrInfo{{ID: boot.ID(), Addrs: boot.Host.Addrs()}}
	natted := newTestStack(t, Config{NAT: true, Bootstrap: bootInfo})
	other := newTestStack(t, Config{NAT: true, Bootstrap: bootInfo})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range []*Stack{natted, other} {
		if err := s.WaitBootstrapped(ctx); err != nil {
			t.Fatal(err)
		}
	}
	relayed := func() []ma.Multiaddr {
		for {
			if a := circuitOnly(natted.Host.Addrs()); a != nil {
				return a
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no circuit address after 30 s; addresses %v", natted.Host.Addrs())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// The other node knows nothing but the circuit address.
	viaRelay := func() {
		t.Helper()
		// A reservation may still be on its way: retry until the deadline.
		for {
			addrs := relayed()
			err := other.Host.Connect(ctx, peer.AddrInfo{ID: natted.ID(), Addrs: addrs})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("connect through %v: %v", addrs, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		conns := other.Host.Network().ConnsToPeer(natted.ID())
		if !slices.ContainsFunc(conns, func(c network.Conn) bool { return c.Stat().Limited }) {
			t.Fatalf("connections %v, want one through the relay", conns)
		}
	}
	viaRelay()
	// The NAT'd node dials back directly (connection reversal), so that
	// protocols that refuse limited connections, such as gossipsub, work.
	for other.Host.Network().Connectedness(natted.ID()) != network.Connected {
		select {
		case <-ctx.Done():
			t.Fatalf("no direct connection after the relayed one: %v", other.Host.Network().ConnsToPeer(natted.ID()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The relay forgets the reservation when the NAT'd node disconnects;
	// the keeper must reserve again (the relay refuses circuits to a peer
	// without one).
	_ = other.Host.Network().ClosePeer(natted.ID())
	_ = natted.Host.Network().ClosePeer(boot.ID())
	other.Host.Peerstore().ClearAddrs(natted.ID())
	for natted.Host.Network().Connectedness(boot.ID()) != network.Connected {
		select {
		case <-ctx.Done():
			t.Fatal("the NAT'd node did not reconnect to its relay")
		case <-time.After(50 * time.Millisecond):
		}
	}
	viaRelay()
}
