// Package shardcast broadcasts checkpoints through a swarm: a publisher's
// upload is used about once, and peers relay shards to each other while they
// are still downloading, so the relay tree forms by itself.
//
// # Shards and manifests
//
// A checkpoint is a file or a directory of regular files. Its files, sorted by
// slash-separated relative path, are read as one byte stream that is cut into
// fixed-size shards (DefaultShardSize, 4 MiB; any size between
// MinShardSize, 64 KiB, and MaxShardSize, 64 MiB, may be chosen per
// checkpoint; choose about S/100 or less so that relaying starts early).
// Only the last shard may be shorter; identical shards are stored, served
// and fetched once. Each shard is addressed by
// a CIDv1 with the raw codec and a sha2-256 multihash.
//
// A Manifest lists the files (path, size), the shards (digest, size), the
// pool, the checkpoint version and the creation time, and carries the pool
// owner's Ed25519 signature. Its encoding (manifest.go) is binary, canonical
// (exactly one encoding decodes to a given manifest; anything else is
// rejected) and at most MaxManifestSize bytes. The manifest is itself
// addressed by the CID of its signed encoding.
//
// # Store
//
// A Store keeps verified shards by CID (shared by all versions and pools, so
// an unchanged shard is stored once), manifests by CID, and nothing else.
// Every write is temp file + fsync + rename, so a half-written shard never
// looks complete; every shard is hashed before it is stored or assembled,
// and before it is served unless the store hashed that very file (same
// inode, size and modification time) less than 10 minutes ago; every
// receiver hashes what it gets. Prune keeps the RetainVersions (5) newest
// versions of each pool.
//
// # Protocol
//
// Peers talk on the pool's stream protocol, Protocol(pool)
// (/openpool/pool/<pool>/shardcast/1.0.0; one per pool, so Services of
// several pools on one host do not share a handler): one request per stream, either a manifest by CID or a byte range of a shard
// by CID (wire.go). On the pool's gossip topic (kind "checkpoints") they
// announce new manifests and advertise have-maps: a bitmap of the shards of a
// manifest that they hold. A have-map with no shards asks holders to advertise
// theirs, which is how a node that only knows a manifest CID finds sources.
//
// # Source choice
//
// A fetcher runs Parallel download workers (8). Each picks a source first,
// at random with weight EMA(throughput) x EMA(success), α = 0.3, divided by
// (1 + its requests in flight to that peer)², among the peers that have a
// shard it needs (at most 1 request in flight per peer when there are at
// least Parallel such peers, else 2; unmeasured peers
// get the best known weight, so new peers are tried; 10 % of picks are
// uniform), and then the rarest shard that source has. A shard that stalls
// (no byte for StallTimeout) continues as a byte range from another source;
// a shard whose bytes do not hash to its CID is thrown away, and a peer that
// sent all of it is banned (never asked again by this Service). Once every
// missing shard is in flight, idle workers fetch a second copy of one from
// another source (end game); the first to arrive cancels the other.
//
// A server has UploadSlots (4); a request that finds them taken waits up to
// a second, then gets Busy. The publisher of a checkpoint sends every shard
// once before it sends any twice (super-seeding): while some shard has not
// gone out, a request for one that has is deferred to the peers that got it,
// unless the publisher's uplink would otherwise be idle. Verified shards are
// served at once, which makes every fetcher a relay and lets the relay tree
// form by itself.
//
// # Bounds
//
// Every stream read has a size limit and a deadline; gossip messages are at
// most MaxGossipSize and validated before delivery; have-maps are kept for at
// most 4096 peers per manifest; announcements start at most 2 fetches at a
// time, each given up after a minute if no peer serves its manifest.
package shardcast
