package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/openpool/openpool/shardcast"
)

// Checkpoints of a pool travel by shardcast. Join starts a shardcast
// service for the pool when the node knows the pool owner's key
// (WithPoolOwner, or the pool's descriptor); the service serves what the
// node holds, fetches every newer checkpoint the owner announces (each
// manifest verified against that key, each shard against its CID) and
// reports completion to WithCheckpointHandler. The owner publishes with
// PublishCheckpoint. Leave and Close stop the service; the store, one per
// node (<datadir>/shardcast, or a temporary directory removed by Close for
// a node without one), keeps what was fetched, 5 versions per pool.
//
// Each pool's service has its own stream protocol (shardcast.Protocol), so
// a node in several pools that leaves one keeps serving the others.

// CheckpointStoreDir is where a node with a data directory keeps checkpoint
// shards and manifests (<datadir>/shardcast, the store `openpool checkpoint`
// uses too: one host serves one store).
const CheckpointStoreDir = "shardcast"

// ErrNoPoolOwner is returned by the checkpoint methods for a pool whose owner
// key the node does not know (neither WithPoolOwner nor a pool descriptor
// gave it): without it no manifest can be verified, so the node runs no
// shardcast service for the pool.
var ErrNoPoolOwner = errors.New("node: pool owner unknown (use WithPoolOwner)")

// Checkpoint is one checkpoint version of a pool that the node holds (or is
// fetching).
type Checkpoint struct {
	Pool       string
	CID        cid.Cid // the manifest's CID
	Version    uint64
	Created    time.Time
	Size       uint64 // bytes of all files
	Shards     int
	HaveShards int
	Manifest   *shardcast.Manifest
}

// Complete reports whether every shard is held.
func (c Checkpoint) Complete() bool { return c.HaveShards == c.Shards }

// checkpointConfig is the part of config about checkpoints.
type checkpointConfig struct {
	owners   map[string]crypto.PubKey
	announce time.Duration
	handler  func(Checkpoint)
	opts     []shardcast.Option
}

// checkpoints runs one shardcast service per joined pool whose owner is
// known, over one store per node.
type checkpoints struct {
	mu      sync.Mutex
	store   *shardcast.Store
	tempDir string // removed by close; set for nodes without a data directory
	svcs    map[string]*shardcast.Service
	owners  map[string]crypto.PubKey // the owner each service trusts
	closed  bool
}

// openStore opens the node's store on first use. Callers hold n.ckpt.mu.
func (n *Node) openStoreLocked() (*shardcast.Store, error) {
	c := &n.ckpt
	if c.store != nil {
		return c.store, nil
	}
	dir := ""
	if n.cfg.dataDir != "" {
		dir = filepath.Join(n.cfg.dataDir, CheckpointStoreDir)
	} else {
		tmp, err := os.MkdirTemp("", "openpool-checkpoints-")
		if err != nil {
			return nil, fmt.Errorf("node: checkpoint store: %w", err)
		}
		c.tempDir, dir = tmp, tmp
	}
	st, err := shardcast.OpenStore(dir)
	if err != nil {
		return nil, fmt.Errorf("node: checkpoint store: %w", err)
	}
	c.store = st
	return st, nil
}

// startCheckpoints starts the shardcast service of pool if its owner is
// known: from WithPoolOwner, else from the pool's descriptor (a pool created
// with CreatePool names its owner). Join calls it.
func (n *Node) startCheckpoints(pool string) error {
	owner := n.cfg.checkpoints.owners[pool]
	if owner == nil && n.registry != nil {
		if d, ok := n.registry.Get(pool); ok {
			owner = d.Owner
		}
	}
	if owner == nil {
		return nil
	}
	c := &n.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.svcs[pool] != nil {
		return nil
	}
	st, err := n.openStoreLocked()
	if err != nil {
		return err
	}
	opts := []shardcast.Option{shardcast.WithLogger(n.log)}
	if d := n.cfg.checkpoints.announce; d > 0 {
		opts = append(opts, shardcast.WithAnnounceInterval(d))
	}
	opts = append(opts, n.cfg.checkpoints.opts...)
	opts = append(opts, shardcast.WithAutoFetch(func(id cid.Cid, m *shardcast.Manifest) {
		n.log.Info("checkpoint received", "pool", pool, "version", m.Version, "cid", id, "bytes", m.TotalSize())
		if h := n.cfg.checkpoints.handler; h != nil {
			h(checkpointOf(id, m, len(m.Shards)))
		}
	}))
	svc, err := shardcast.New(n.stack.Host, n.stack.PubSub, st, pool, owner, opts...)
	if err != nil {
		return fmt.Errorf("node: checkpoints of %s: %w", pool, err)
	}
	if c.svcs == nil {
		c.svcs, c.owners = map[string]*shardcast.Service{}, map[string]crypto.PubKey{}
		n.SetStatusSection("checkpoints", n.checkpointStatus)
	}
	c.svcs[pool], c.owners[pool] = svc, owner
	return nil
}

// checkpointStatusRow is one held checkpoint version on the status page.
type checkpointStatusRow struct {
	Pool     string `json:"pool"`
	Version  uint64 `json:"version"`
	CID      string `json:"cid"`
	Bytes    uint64 `json:"bytes"`
	Shards   string `json:"shards"` // held/total
	Fetched  int64  `json:"pool_bytes_fetched"`
	Served   int64  `json:"pool_bytes_served"`
	Complete bool   `json:"complete"`
}

// checkpointStatus is the "checkpoints" section of the status: every held
// version of every pool with a shardcast service, and the pool's traffic.
func (n *Node) checkpointStatus() any {
	n.ckpt.mu.Lock()
	svcs := maps.Clone(n.ckpt.svcs)
	n.ckpt.mu.Unlock()
	rows := []checkpointStatusRow{}
	for _, pool := range slices.Sorted(maps.Keys(svcs)) {
		st := svcs[pool].Stats()
		for _, cp := range n.Checkpoints(pool) {
			rows = append(rows, checkpointStatusRow{
				Pool: pool, Version: cp.Version, CID: cp.CID.String(), Bytes: cp.Size,
				Shards:  fmt.Sprintf("%d/%d", cp.HaveShards, cp.Shards),
				Fetched: st.BytesFetched, Served: st.BytesServed, Complete: cp.Complete(),
			})
		}
	}
	return rows
}

// stopCheckpoints stops pool's shardcast service (Leave). The store and what
// it holds stay.
func (n *Node) stopCheckpoints(pool string) {
	c := &n.ckpt
	c.mu.Lock()
	svc := c.svcs[pool]
	delete(c.svcs, pool)
	delete(c.owners, pool)
	c.mu.Unlock()
	if svc != nil {
		if err := svc.Close(); err != nil {
			n.log.Warn("stop checkpoints", "pool", pool, "err", err)
		}
	}
}

// closeCheckpoints stops every service and removes a temporary store (Close).
func (n *Node) closeCheckpoints() {
	c := &n.ckpt
	c.mu.Lock()
	c.closed = true
	svcs := c.svcs
	c.svcs, c.owners = nil, nil
	tmp := c.tempDir
	c.mu.Unlock()
	for pool, svc := range svcs {
		if err := svc.Close(); err != nil {
			n.log.Warn("stop checkpoints", "pool", pool, "err", err)
		}
	}
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
}

// checkpointService returns pool's service and the owner it trusts.
func (n *Node) checkpointService(pool string) (*shardcast.Service, crypto.PubKey, error) {
	if _, err := n.membership(pool); err != nil {
		return nil, nil, err
	}
	n.ckpt.mu.Lock()
	defer n.ckpt.mu.Unlock()
	svc := n.ckpt.svcs[pool]
	if svc == nil {
		return nil, nil, fmt.Errorf("node: checkpoints of %s: %w", pool, ErrNoPoolOwner)
	}
	return svc, n.ckpt.owners[pool], nil
}

// PublishCheckpoint publishes the file or directory at path as the next
// checkpoint version of pool (one above the newest the node holds), signed
// with the node's identity key, and announces it to the pool's members, who
// fetch it by themselves. The node must be the pool owner (WithPoolOwner
// with its own public key, or the creator of the pool's descriptor) and a
// member of the pool.
func (n *Node) PublishCheckpoint(ctx context.Context, pool, path string, opts ...shardcast.BuildOption) (cid.Cid, *shardcast.Manifest, error) {
	svc, owner, err := n.checkpointService(pool)
	if err != nil {
		return cid.Undef, nil, err
	}
	key := n.stack.Host.Peerstore().PrivKey(n.ID())
	if key == nil {
		return cid.Undef, nil, fmt.Errorf("node: publish checkpoint: no private key for %s", n.ID())
	}
	if !key.GetPublic().Equals(owner) {
		return cid.Undef, nil, fmt.Errorf("node: publish checkpoint of %s: this node is not the pool owner", pool)
	}
	var version uint64
	for _, cp := range n.Checkpoints(pool) {
		version = max(version, cp.Version)
	}
	c, m, err := svc.Publish(ctx, key, version+1, path, opts...)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("node: publish checkpoint of %s: %w", pool, err)
	}
	n.log.Info("checkpoint published", "pool", pool, "version", m.Version, "cid", c, "bytes", m.TotalSize())
	return c, m, nil
}

// FetchCheckpoint fetches checkpoint c of pool (or waits for the fetch
// already running) and returns it once every shard is verified and stored.
func (n *Node) FetchCheckpoint(ctx context.Context, pool string, c cid.Cid) (Checkpoint, error) {
	svc, _, err := n.checkpointService(pool)
	if err != nil {
		return Checkpoint{}, err
	}
	m, err := svc.Fetch(ctx, c)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("node: fetch checkpoint %s of %s: %w", c, pool, err)
	}
	return checkpointOf(c, m, len(m.Shards)), nil
}

// AssembleCheckpoint writes the files of checkpoint c of pool under outDir,
// verifying every shard as it reads it.
func (n *Node) AssembleCheckpoint(ctx context.Context, pool string, c cid.Cid, outDir string) error {
	svc, owner, err := n.checkpointService(pool)
	if err != nil {
		return err
	}
	m, err := svc.Store().Manifest(c, owner)
	if err != nil {
		return fmt.Errorf("node: checkpoint %s of %s: %w", c, pool, err)
	}
	if m.Pool != pool {
		return fmt.Errorf("node: checkpoint %s: %w", c, shardcast.ErrWrongPool)
	}
	if err := svc.Store().Assemble(ctx, m, outDir); err != nil {
		return fmt.Errorf("node: checkpoint %s of %s: %w", c, pool, err)
	}
	return nil
}

// Checkpoints lists the checkpoint versions of pool that the node holds,
// complete or not, newest first. It is empty when the pool's owner is
// unknown or the node is not a member.
func (n *Node) Checkpoints(pool string) []Checkpoint {
	svc, owner, err := n.checkpointService(pool)
	if err != nil {
		return nil
	}
	entries, err := svc.Store().List()
	if err != nil {
		n.log.Warn("list checkpoints", "pool", pool, "err", err)
		return nil
	}
	var out []Checkpoint
	for _, e := range entries {
		if e.Manifest.Pool == pool && e.Manifest.Owner.Equals(owner) {
			out = append(out, checkpointOf(e.CID, e.Manifest, e.HaveShards))
		}
	}
	return out
}

// CheckpointStats returns the shardcast traffic counters of pool.
func (n *Node) CheckpointStats(pool string) (shardcast.Stats, error) {
	svc, _, err := n.checkpointService(pool)
	if err != nil {
		return shardcast.Stats{}, err
	}
	return svc.Stats(), nil
}

func checkpointOf(c cid.Cid, m *shardcast.Manifest, have int) Checkpoint {
	return Checkpoint{
		Pool: m.Pool, CID: c, Version: m.Version, Created: m.Created, Size: m.TotalSize(),
		Shards: len(m.Shards), HaveShards: have, Manifest: m,
	}
}
