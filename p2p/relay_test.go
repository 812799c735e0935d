package p2p

import (
	"context"
	"fmt"
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

// TestRelaySplit: bootstrap relays with any public address go to go-libp2p's
// auto relay; the others to the relay keeper, whose circuit addresses are
// the relay's direct addresses followed by /p2p/<relay>/p2p-circuit.
func TestRelaySplit(t *testing.T) {
	id, err := peer.Decode("12D3KooWGNtMP5PPTEZcEr6wPBBGJKXjxxhk7Z4vw1CBhL7sMSoR")
	if err != nil {
		t.Fatal(err)
	}
	addrs := func(ss ...string) []ma.Multiaddr {
		var out []ma.Multiaddr
		for _, s := range ss {
			out = append(out, ma.StringCast(s))
		}
		return out
	}
	for _, tc := range []struct {
		addrs   []ma.Multiaddr
		private bool
	}{
		{addrs("/ip4/10.77.1.2/tcp/4001"), true},
		{addrs("/ip4/127.0.0.1/tcp/4001", "/ip4/192.168.1.5/udp/4001/quic-v1"), true},
		{addrs("/ip4/10.0.0.2/tcp/4001", "/ip4/203.0.114.7/tcp/4001"), false},
		{addrs("/dns4/boot.example.org/tcp/4001"), false},
	} {
		ai := peer.AddrInfo{ID: id, Addrs: tc.addrs}
		if got := isPrivateRelay(ai); got != tc.private {
			t.Errorf("%v: private %v, want %v", tc.addrs, got, tc.private)
		}
	}
	relay := peer.AddrInfo{ID: id, Addrs: addrs("/ip4/10.77.1.2/tcp/4001", "/ip4/10.9.9.9/tcp/1/p2p/"+id.String()+"/p2p-circuit")}
	got := circuitAddrs(relay)
	want := "/ip4/10.77.1.2/tcp/4001/p2p/" + id.String() + "/p2p-circuit"
	if len(got) != 1 || got[0].String() != want {
		t.Fatalf("circuit addresses %v, want [%s] (a relay's own circuit address is skipped)", got, want)
	}
}

// TestConnReversalOffer: a peer is queued at most once per reversalEvery,
// and offers beyond the queue's bound are dropped without blocking.
func TestConnReversalOffer(t *testing.T) {
	c := &connReversal{queue: make(chan peer.ID, 2), last: map[peer.ID]time.Time{}}
	now := time.Now()
	c.offer("a", now)
	c.offer("a", now.Add(reversalEvery/2)) // too soon
	c.offer("b", now)
	c.offer("c", now) // queue full: dropped, not remembered
	if got := len(c.queue); got != 2 {
		t.Fatalf("queued %d, want 2 (a once, b)", got)
	}
	<-c.queue
	<-c.queue
	c.offer("c", now) // room again, and c was not remembered
	c.offer("a", now.Add(reversalEvery))
	if got := len(c.queue); got != 2 {
		t.Fatalf("queued %d, want 2 (c, then a after reversalEvery)", got)
	}
	if _, ok := c.last["a"]; !ok || len(c.last) != 1 {
		t.Fatalf("remembers %v, want only a (b and c expired)", c.last)
	}
	// However many peers come through relays, at most reversalRemember
	// are remembered.
	c = &connReversal{queue: make(chan peer.ID, 1), last: map[peer.ID]time.Time{}}
	for i := range reversalRemember + 10 {
		c.offer(peer.ID(fmt.Sprint("p", i)), now)
		select {
		case <-c.queue:
		default:
		}
	}
	if len(c.last) != reversalRemember {
		t.Fatalf("remembers %d peers, want %d", len(c.last), reversalRemember)
	}
}
