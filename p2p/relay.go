package p2p

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// relayBackoff is the longest wait before a relay is asked again after a
// failed reservation (go-libp2p's auto relay waits an hour by default; the
// bootstrap nodes are the only relays a node knows).
const relayBackoff = time.Minute

// relayRefresh is the longest time between two reservations on one relay:
// a refresh also tells the keeper that the reservation still stands.
const relayRefresh = 5 * time.Minute

// isPrivateRelay says whether go-libp2p's auto relay would ignore a relay
// with these addresses: it advertises circuit addresses through public relay
// addresses only.
func isPrivateRelay(ai peer.AddrInfo) bool {
	return !slices.ContainsFunc(ai.Addrs, manet.IsPublicAddr)
}

// relayKeeper holds reservations on the bootstrap relays that have only
// private addresses (a LAN or data-centre swarm, the network lab) and
// advertises circuit addresses through them. go-libp2p's auto relay does
// neither on such a network: it starts only when AutoNAT v1 reports the node
// private, AutoNAT v1 probes only through peers with public addresses, and
// its circuit addresses are built from the relay's public addresses alone.
// Without this, two nodes behind separate NATs on such a network could never
// reach each other. A node here cannot tell whether it is reachable, so it
// always reserves; dialers try circuit addresses only after direct ones
// (go-libp2p's dial ranking), so a reachable node loses nothing.
type relayKeeper struct {
	relays []peer.AddrInfo
	log    *slog.Logger

	mu    sync.Mutex
	addrs map[peer.ID][]ma.Multiaddr // circuit addresses of held reservations
}

func newRelayKeeper(relays []peer.AddrInfo, log *slog.Logger) *relayKeeper {
	return &relayKeeper{relays: relays, log: log, addrs: map[peer.ID][]ma.Multiaddr{}}
}

// Addrs returns the circuit addresses of the reservations held now.
func (k *relayKeeper) Addrs() []ma.Multiaddr {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ma.Multiaddr
	for _, ai := range k.relays {
		out = append(out, k.addrs[ai.ID]...)
	}
	return out
}

// set records the circuit addresses through relay p (nil: no reservation)
// and says whether a reservation was held before.
func (k *relayKeeper) set(p peer.ID, addrs []ma.Multiaddr) (held bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, held = k.addrs[p]
	if addrs == nil {
		delete(k.addrs, p)
	} else {
		k.addrs[p] = addrs
	}
	return held
}

// circuitAddrs are the relay's direct addresses followed by
// /p2p/<relay>/p2p-circuit.
func circuitAddrs(relay peer.AddrInfo) []ma.Multiaddr {
	suffix, err := ma.NewMultiaddr("/p2p/" + relay.ID.String() + "/p2p-circuit")
	if err != nil {
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range relay.Addrs {
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue
		}
		out = append(out, a.Encapsulate(suffix))
	}
	return out
}

// run keeps one reservation per relay until ctx ends: it reserves, renews
// at half the reservation's lifetime (at most relayRefresh), and reserves
// again at once when the connection to the relay drops (a relay forgets the
// reservation of a peer that disconnects); failures back off from 2 s to
// relayBackoff. The host's address change is noticed by its address
// manager's next poll (5 s), which republishes the node's records.
func (k *relayKeeper) run(ctx context.Context, h host.Host) {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		k.log.Warn("relay keeper: subscribe", "err", err)
		return
	}
	var wg sync.WaitGroup
	// Close the subscription before waiting: the event bus blocks on a
	// subscriber that stops reading.
	defer wg.Wait()
	defer func() { _ = sub.Close() }()
	lost := make(map[peer.ID]chan struct{}, len(k.relays))
	for _, ai := range k.relays {
		ch := make(chan struct{}, 1)
		lost[ai.ID] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.keep(ctx, h, ai, ch)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.Out():
			e, ok := ev.(event.EvtPeerConnectednessChanged)
			if ch := lost[e.Peer]; ok && ch != nil && e.Connectedness != network.Connected {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (k *relayKeeper) keep(ctx context.Context, h host.Host, ai peer.AddrInfo, lost <-chan struct{}) {
	defer k.set(ai.ID, nil)
	circuit := circuitAddrs(ai)
	backoff := 2 * time.Second
	var wait time.Duration
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-lost:
			timer.Stop()
			k.set(ai.ID, nil)
		case <-timer.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rsvp, err := client.Reserve(rctx, h, ai)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			k.set(ai.ID, nil)
			k.log.Debug("relay reservation failed", "relay", ai.ID, "retry_in", backoff, "err", err)
			wait, backoff = backoff, min(2*backoff, relayBackoff)
			continue
		}
		if !k.set(ai.ID, circuit) {
			k.log.Debug("relay reservation held", "relay", ai.ID, "until", rsvp.Expiration)
		}
		backoff = 2 * time.Second
		wait = min(max(time.Until(rsvp.Expiration)/2, 10*time.Second), relayRefresh)
	}
}

// reversalQueue bounds the peers waiting for a connection reversal; more
// are dropped (the next relayed connection from them queues them again).
const reversalQueue = 64

// reversalEvery is the least time between two reversal attempts toward one
// peer.
const reversalEvery = time.Minute

// reversalRemember bounds the peers remembered as recently tried: offers
// beyond it are dropped until entries expire, whatever the rate of relayed
// connections.
const reversalRemember = 4096

// connReversal dials back, directly, every peer that reached this node
// through a relay. A relayed connection is limited (the relay cuts it after
// its data or time limit) and carries only protocols that allow that, which
// gossipsub does not: without a direct connection a node behind a NAT that
// a public peer dialed through its circuit address would hear no gossip from
// that peer until the relay ends the connection. The node behind the NAT can
// dial out, so it opens the direct connection itself. Hole punching does the
// same where it runs, but it needs public addresses on both sides.
type connReversal struct {
	h     host.Host
	log   *slog.Logger
	queue chan peer.ID

	mu   sync.Mutex
	last map[peer.ID]time.Time
}

func newConnReversal(h host.Host, log *slog.Logger) *connReversal {
	return &connReversal{h: h, log: log, queue: make(chan peer.ID, reversalQueue), last: map[peer.ID]time.Time{}}
}

// offer queues p unless it was tried within reversalEvery, the queue is
// full or reversalRemember peers were tried within reversalEvery; it never
// blocks.
func (c *connReversal) offer(p peer.ID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.last[p]; ok && now.Sub(t) < reversalEvery {
		return
	}
	for q, t := range c.last {
		if now.Sub(t) >= reversalEvery {
			delete(c.last, q)
		}
	}
	if len(c.last) >= reversalRemember {
		return
	}
	select {
	case c.queue <- p:
		c.last[p] = now
	default:
	}
}

// run queues a peer once identify has run on its inbound relayed
// connection (so that its addresses are known) and dials the queued peers
// one at a time, until ctx ends. The event loop never waits for a dial: a
// slow event subscriber would hold up identify for every connection.
func (c *connReversal) run(ctx context.Context) {
	sub, err := c.h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		c.log.Warn("connection reversal: subscribe", "err", err)
		return
	}
	done := make(chan struct{})
	defer func() { <-done }()
	defer func() { _ = sub.Close() }() // first: see relayKeeper.run
	go func() {
		defer close(done)
		c.dial(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.Out():
			if e, ok := ev.(event.EvtPeerIdentificationCompleted); ok && e.Conn != nil &&
				e.Conn.Stat().Limited && e.Conn.Stat().Direction == network.DirInbound {
				c.offer(e.Peer, time.Now())
			}
		}
	}
}

func (c *connReversal) dial(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-c.queue:
			if c.h.Network().Connectedness(p) == network.Connected {
				continue // a direct connection exists already
			}
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := c.h.Connect(network.WithForceDirectDial(dctx, "connection reversal"), peer.AddrInfo{ID: p})
			cancel()
			if err != nil && ctx.Err() == nil {
				c.log.Debug("connection reversal failed", "peer", p, "err", err)
			}
		}
	}
}
