// Package p2p is openpool's network layer: a libp2p host with a persisted
// Ed25519 identity, TCP and QUIC transports, resource and connection limits,
// NAT traversal (AutoNAT, circuit relay v2, hole punching), a private Kademlia
// DHT under the /openpool protocol prefix, per-pool rendezvous through
// provider records, gossipsub with strict signing and peer scoring, and pool
// membership through signed heartbeats and deathrattles.
//
// # Membership
//
// Every member of a pool publishes a Heartbeat on the pool's membership topic
// every Interval (default 2 s). A member that leaves cleanly publishes a
// deathrattle first, so the others drop it at once. A member with no
// heartbeat for SuspectAfter intervals (default 3) becomes suspect and is
// probed directly with libp2p ping; a failed probe makes it dead at once, a
// successful one keeps it suspect until DeadAfter intervals (default 6) pass
// without a heartbeat. With the defaults a crashed member is declared dead
// between 3 and 4 intervals after its last heartbeat, i.e. at most 3 intervals
// plus the probe timeout after the crash itself.
//
// Every membership message passes a topic validator before delivery:
// malformed, oversize, wrong-pool, spoofed (subject is not the signer),
// replayed (older than MaxAge), from-the-future and stale (sequence number not
// above the highest seen) messages are dropped and counted by reason.
// Unsigned messages never get that far: gossipsub runs with strict signing and
// the RejectCounter tracer counts its rejections.
package p2p
