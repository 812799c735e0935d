// Package p2p is openpool's network layer: a libp2p host with a persisted
// Ed25519 identity, TCP and QUIC transports, resource and connection limits,
// NAT traversal (AutoNAT, circuit relay v2, hole punching), a private Kademlia
// DHT under the /openpool protocol prefix, per-pool rendezvous through
// provider records, gossipsub with strict signing and peer scoring, and pool
// membership: SWIM with Lifeguard's refinements by default (swim.go), or
// signed heartbeats and deathrattles (ModeHeartbeat, below).
//
// # NAT traversal
//
// Bootstrap nodes run the circuit relay v2 service and the AutoNAT service,
// and declare themselves publicly reachable (go-libp2p starts the relay
// service only then, and AutoNAT cannot confirm a private address). Every
// node with NAT traversal on answers AutoNAT dial-backs and punches holes
// (DCUtR). Behind a NAT, a node reserves a slot on its bootstrap relays and
// advertises the circuit addresses: go-libp2p's auto relay does this for
// bootstrap nodes with public addresses once AutoNAT finds the node private;
// the relay keeper (relay.go) does it for bootstrap nodes with private
// addresses (a LAN or data-centre swarm, the network lab), where AutoNAT
// never decides and auto relay would advertise nothing. A relayed connection
// carries what the relay allows (by default 128 KiB each way per 2 minutes)
// and only protocols that accept that (gossipsub does not), so a node that
// was reached through a relay dials the other side back directly when it can
// (connection reversal, relay.go), and hole punching replaces the relayed
// connection between two NAT'd nodes where addresses are public.
//
// # Membership (ModeHeartbeat)
//
// Every member of a pool publishes a Heartbeat on the pool's membership topic
// every Interval (default 2 s). A member that leaves cleanly publishes a
// deathrattle first, so the others drop it at once. A member with no
// heartbeat for SuspectAfter intervals (default 3) becomes suspect and is
// probed directly with libp2p ping (timeout Interval/4): a definite failure
// (connection refused, no address) makes it dead at once, two timeouts in a
// row make it dead too, and an answer keeps it suspect until DeadAfter
// intervals (default 6) pass without a heartbeat (alive, but cut off from the
// pool's gossip). So a crashed member is declared dead 3 to 3.5 intervals
// after its last heartbeat, which is at most that long after the crash.
//
// Every membership message passes a topic validator before delivery and is
// dropped and counted by reason if it is malformed, oversize, wrong-pool or
// spoofed (subject is not the signer) — these are rejected, lowering the
// relaying peer's gossipsub score — or replayed (older than MaxAge), from the
// future, stale or a duplicate (sequence number not above the highest seen) —
// these are ignored without penalty, because an honest relay on a slow link
// delivers late and cannot tell a replay from a late original.
// Unsigned messages never get that far: gossipsub runs with strict signing and
// the RejectCounter tracer counts its rejections.
package p2p
