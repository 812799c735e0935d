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
// checkpoint). Only the last shard may be shorter. Each shard is addressed by
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
// looks complete; every shard is hashed before it is stored, served or
// assembled. Prune keeps the RetainVersions (5) newest versions of each pool.
//
// # Protocol
//
// Peers talk on the stream protocol ProtocolID (/openpool/shardcast/1.0.0):
// one request per stream, either a manifest by CID or a byte range of a shard
// by CID (wire.go). On the pool's gossip topic (kind "checkpoints") they
// announce new manifests and advertise have-maps: a bitmap of the shards of a
// manifest that they hold. A have-map with no shards asks holders to advertise
// theirs, which is how a node that only knows a manifest CID finds sources.
//
// # Source choice
//
// A fetcher downloads up to Parallel shards at a time, rarest first, each
// from a source drawn at random with weight EMA(throughput) x EMA(success),
// α = 0.3, divided by the requests already in flight to it; peers not yet
// measured get the best known weight so they are tried. A shard that stalls
// (no byte for StallTimeout) continues as a byte range from another source. A
// shard whose bytes do not hash to its CID is thrown away, and a peer that
// sent all of it is banned (never asked again by this Service); a server
// answers Busy when all its UploadSlots are taken so that load spreads.
// Verified shards are served at once, which makes every fetcher a relay.
package shardcast
