package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/ledger"
	"github.com/openpool/openpool/p2p"
)

// Pool errors callers branch on.
var (
	ErrPoolClosed = errors.New("node: pool is closed")
	ErrNotOwner   = errors.New("node: this node does not own the pool")
	ErrHardware   = errors.New("node: this node does not meet the pool's minimum hardware")
)

// JoinOption configures Join.
type JoinOption func(*joinConfig) error

type joinConfig struct {
	invite []byte
}

// WithInvite presents an owner-signed invite when joining an invite-only
// pool: a p2p.PoolInvite encoding, or a chain admission token
// (ledger.NewAdmissionToken: the EIP-712 invite the pool contract accepts,
// bound to this node's peer ID) for a pool with an on-chain pool. The node carries it in its heartbeats so that
// every member can check it.
func WithInvite(token []byte) JoinOption {
	return func(c *joinConfig) error {
		if len(token) > p2p.MaxInviteSize {
			return fmt.Errorf("invite of %d bytes is too large (limit %d)", len(token), p2p.MaxInviteSize)
		}
		c.invite = token
		return nil
	}
}

// ownedPoolsDir holds the descriptors this node signed, so that it
// republishes them after a restart.
func (n *Node) ownedPoolsDir() string {
	if n.cfg.dataDir == "" {
		return ""
	}
	return filepath.Join(n.cfg.dataDir, "pools")
}

func (n *Node) privKey() (crypto.PrivKey, error) {
	k := n.stack.Host.Peerstore().PrivKey(n.ID())
	if k == nil {
		return nil, errors.New("node: identity key not available")
	}
	return k, nil
}

// startPools starts the pool registry and republishes the descriptors this
// node owns (saved in its data directory).
func (n *Node) startPools() error {
	cfg := n.cfg.poolRegistry
	cfg.Logger = n.log
	reg, err := p2p.NewPoolRegistry(n.stack.Host, n.stack.PubSub, n.stack.DHT, cfg)
	if err != nil {
		return err
	}
	n.registry = reg
	n.stack.SetPoolSink(reg.Offer)
	n.SetStatusSection("pools", n.poolsStatus)
	dir := n.ownedPoolsDir()
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("node: read owned pools: %w", err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".pool" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("node: read owned pool: %w", err)
		}
		d, err := p2p.DecodePoolDescriptor(raw)
		if err != nil {
			n.log.Warn("ignoring a saved pool descriptor that does not verify", "file", e.Name(), "err", err)
			continue
		}
		if d.OwnerID() != n.ID() {
			continue
		}
		if err := reg.Publish(context.Background(), d); err != nil {
			n.log.Warn("saved pool descriptor not republished", "pool", d.ID, "err", err)
		}
	}
	return nil
}

func (n *Node) saveOwned(d *p2p.PoolDescriptor) error {
	if dir := n.ownedPoolsDir(); dir != "" {
		return savePool(dir, d)
	}
	return nil
}

// savePool writes d to dir/<id>.pool atomically.
func savePool(dir string, d *p2p.PoolDescriptor) error {
	raw, err := d.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: save pool: %w", err)
	}
	path := filepath.Join(dir, d.ID+".pool")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("node: save pool: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("node: save pool: %w", err)
	}
	return nil
}

// CreatePool signs tmpl as a new pool owned by this node, with the
// self-certifying ID derived from slug and the node's key, and publishes it
// in the DHT and on the pools topic. Fields ID, Owner, Seq, Updated and
// Signature of tmpl are set here.
func (n *Node) CreatePool(ctx context.Context, slug string, tmpl p2p.PoolDescriptor) (*p2p.PoolDescriptor, error) {
	key, err := n.privKey()
	if err != nil {
		return nil, err
	}
	id, err := p2p.DerivePoolID(key.GetPublic(), slug)
	if err != nil {
		return nil, fmt.Errorf("node: create pool: %w", err)
	}
	if old, ok := n.registry.Get(id); ok {
		return nil, fmt.Errorf("node: create pool: %s already exists (sequence %d); use UpdatePool", id, old.Seq)
	}
	d := tmpl
	d.ID, d.Closed, d.Updated = id, false, time.Time{}
	d.Seq = uint64(time.Now().UnixMilli())
	return n.signAndPublish(ctx, key, &d)
}

func (n *Node) signAndPublish(ctx context.Context, key crypto.PrivKey, d *p2p.PoolDescriptor) (*p2p.PoolDescriptor, error) {
	if err := d.Sign(key); err != nil {
		return nil, fmt.Errorf("node: pool %s: %w", d.ID, err)
	}
	if err := n.saveOwned(d); err != nil {
		return nil, err
	}
	if err := n.registry.Publish(ctx, d); err != nil {
		if !errors.Is(err, p2p.ErrNotStored) {
			return nil, fmt.Errorf("node: pool %s: %w", d.ID, err)
		}
		n.log.Info("pool descriptor gossiped; the DHT copy follows when the DHT is reachable", "pool", d.ID, "err", err)
	}
	n.log.Info("published pool descriptor", "pool", d.ID, "seq", d.Seq)
	return d, nil
}

// PublishPool publishes a descriptor signed elsewhere (for example by a
// researcher's key on a machine that only runs the CLI): it is verified,
// gossiped and stored in the DHT, and republished until Close. An error
// wrapping p2p.ErrNotStored means it was gossiped but the DHT copy failed.
func (n *Node) PublishPool(ctx context.Context, d *p2p.PoolDescriptor) error {
	raw, err := d.MarshalBinary()
	if err != nil {
		return fmt.Errorf("node: publish pool: %w", err)
	}
	if _, err := p2p.DecodePoolDescriptor(raw); err != nil {
		return fmt.Errorf("node: publish pool: %w", err)
	}
	if err := n.registry.Publish(ctx, d); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return nil
}

// SaveOwnedPool writes a descriptor into dataDir, where a node started with
// that data directory (and so the owner's identity) finds it and keeps it
// published.
func SaveOwnedPool(dataDir string, d *p2p.PoolDescriptor) error {
	if dataDir == "" {
		return errors.New("node: save pool: no data directory")
	}
	return savePool(filepath.Join(dataDir, "pools"), d)
}

// UpdatePool applies change to the newest descriptor of a pool this node
// owns, raises its sequence number, signs and republishes it.
func (n *Node) UpdatePool(ctx context.Context, id string, change func(*p2p.PoolDescriptor) error) (*p2p.PoolDescriptor, error) {
	key, err := n.privKey()
	if err != nil {
		return nil, err
	}
	if err := p2p.CheckOwner(id, key.GetPublic()); err != nil {
		return nil, fmt.Errorf("node: update pool %s: %w", id, ErrNotOwner)
	}
	cur, err := n.FindPool(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("node: update pool: %w", err)
	}
	d := *cur
	d.Signature = nil
	if change != nil {
		if err := change(&d); err != nil {
			return nil, fmt.Errorf("node: update pool %s: %w", id, err)
		}
	}
	d.ID, d.Updated = id, time.Time{}
	// Sequence numbers follow the clock so that an owner that lost its saved
	// state still outbids its earlier descriptors.
	d.Seq = max(cur.Seq+1, uint64(time.Now().UnixMilli()))
	return n.signAndPublish(ctx, key, &d)
}

// ClosePool republishes the pool marked closed: nodes refuse to join it and
// members leave it.
func (n *Node) ClosePool(ctx context.Context, id string) (*p2p.PoolDescriptor, error) {
	return n.UpdatePool(ctx, id, func(d *p2p.PoolDescriptor) error { d.Closed = true; return nil })
}

// InvitePeer signs an invite for who to the pool id (owned by this node),
// valid for ttl.
func (n *Node) InvitePeer(id string, who peer.ID, ttl time.Duration) (*p2p.PoolInvite, error) {
	key, err := n.privKey()
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("node: invite: ttl %v must be positive", ttl)
	}
	inv, err := p2p.NewPoolInvite(key, id, who, time.Now().Add(ttl))
	if err != nil {
		return nil, fmt.Errorf("node: invite: %w", err)
	}
	return inv, nil
}

// FindPool returns the newest verified descriptor of a pool: from the DHT
// when reachable, else from what this node has seen by gossip.
func (n *Node) FindPool(ctx context.Context, id string) (*p2p.PoolDescriptor, error) {
	d, err := n.registry.Lookup(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return d, nil
}

// PoolCatalog lists the pools this node has seen, with member counts where a
// member reported one recently.
func (n *Node) PoolCatalog() []p2p.PoolEntry { return n.registry.List() }

// SyncPools asks up to max connected peers (bootstrap nodes first when
// known) for their pool catalogs and merges what verifies. It returns how
// many descriptors were new or newer.
func (n *Node) SyncPools(ctx context.Context, maxPeers int) (int, error) {
	peers := n.stack.Host.Network().Peers()
	boot := map[peer.ID]bool{}
	for _, b := range n.cfg.bootstrap {
		boot[b.ID] = true
	}
	slices.SortStableFunc(peers, func(a, b peer.ID) int {
		switch {
		case boot[a] && !boot[b]:
			return -1
		case boot[b] && !boot[a]:
			return 1
		}
		return 0
	})
	total := 0
	var errs []error
	for i, p := range peers {
		if i >= maxPeers {
			break
		}
		added, err := n.registry.FetchCatalog(ctx, p)
		total += added
		if err != nil {
			errs = append(errs, err)
		}
	}
	if total == 0 && len(errs) > 0 && len(errs) == min(len(peers), maxPeers) {
		return 0, fmt.Errorf("node: sync pools: %w", errors.Join(errs...))
	}
	return total, nil
}

// PoolRegistry returns the node's pool catalog, for components that watch
// descriptor updates.
func (n *Node) PoolRegistry() *p2p.PoolRegistry { return n.registry }

// resolvePool checks a self-certifying pool before joining it: descriptor
// found and verified, not closed, hardware minimums met, and a valid invite
// when the pool is invite-only. Plain pool names have no descriptor and
// return nil options.
func (n *Node) resolvePool(ctx context.Context, pool string, jc joinConfig) (*p2p.PoolDescriptor, []p2p.MembershipOption, error) {
	if _, ok := p2p.SplitPoolID(pool); !ok {
		if len(jc.invite) > 0 {
			return nil, nil, fmt.Errorf("%s is a plain pool name, open to all: it takes no invite", pool)
		}
		return nil, nil, nil
	}
	d, err := n.registry.Lookup(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	if d.Closed {
		return nil, nil, ErrPoolClosed
	}
	if err := d.MinHardware.Check(n.hardware); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHardware, err)
	}
	admit := n.admitter(pool, d)
	if err := admit(n.ID(), jc.invite); err != nil {
		return nil, nil, err
	}
	return d, []p2p.MembershipOption{p2p.WithAdmission(admit, jc.invite)}, nil
}

// admitter checks a member's admission token against the newest descriptor
// this node knows of the pool: anyone for open pools, the owner, or a
// holder of a valid owner-signed invite.
func (n *Node) admitter(pool string, d0 *p2p.PoolDescriptor) func(peer.ID, []byte) error {
	return func(from peer.ID, token []byte) error {
		d := d0
		if cur, ok := n.registry.Get(pool); ok {
			d = cur
		}
		if d.Admission == p2p.AdmitOpen || from == d.OwnerID() {
			return nil
		}
		if len(token) > 0 && token[0] == ledger.AdmissionTag {
			return verifyChainAdmission(d, token, from)
		}
		return p2p.VerifyInviteBytes(token, d.Owner, pool, from, time.Now())
	}
}

// verifyChainAdmission checks an EIP-712 invite of the pool's on-chain pool,
// bound to the peer, against what the descriptor says about the chain.
func verifyChainAdmission(d *p2p.PoolDescriptor, token []byte, from peer.ID) error {
	if d.ChainID == 0 || d.ChainOwner == ([20]byte{}) || d.ChainContract == ([20]byte{}) {
		return fmt.Errorf("%w: the pool names no on-chain pool, so chain invites do not apply", p2p.ErrBadInvite)
	}
	err := ledger.VerifyAdmissionToken(token, ledger.AdmissionPool{
		ChainID: d.ChainID, Contract: d.ChainContract, DomainID: d.ChainDomainID, PoolID: d.ChainPoolID, Owner: d.ChainOwner,
	}, from, time.Now())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ledger.ErrInviteExpired):
		return fmt.Errorf("%w: %w", p2p.ErrInviteExpired, err)
	case errors.Is(err, ledger.ErrWrongBinding):
		return fmt.Errorf("%w: %w", p2p.ErrInviteWrongPeer, err)
	}
	return fmt.Errorf("%w: %w", p2p.ErrInviteWrongOwner, err)
}

// AdmitFunc returns a check that a peer is an admitted member of an
// invite-only pool this node is in (for DiLoCo round messages), or nil when
// the pool is open.
func (n *Node) AdmitFunc(pool string) func(peer.ID) bool {
	d, ok := n.registry.Get(pool)
	if !ok || d.Admission == p2p.AdmitOpen {
		return nil
	}
	return func(id peer.ID) bool {
		if id == n.ID() {
			return true
		}
		m, err := n.membership(pool)
		if err != nil {
			return false
		}
		return m.IsMember(id)
	}
}

// poolReport is the summary this node gossips for a pool it is in when it is
// the pool's reporter (the lowest alive peer ID, so one member reports).
func (n *Node) poolReport(pool string) func() *p2p.PoolSummary {
	return func() *p2p.PoolSummary {
		m, err := n.membership(pool)
		if err != nil {
			return nil
		}
		alive := m.Alive()
		if len(alive) == 0 || alive[0] != n.ID() {
			return nil
		}
		st := m.CurrentStatus()
		return &p2p.PoolSummary{Members: uint32(len(alive)), OuterStep: st.OuterStep, CheckpointVersion: st.CheckpointVersion}
	}
}

// watchPools leaves pools whose owner closed them.
func (n *Node) watchPools(ctx context.Context) {
	defer n.bg.Done()
	updates := n.registry.Watch(ctx, 64)
	for d := range updates {
		if !d.Closed || !slices.Contains(n.Pools(), d.ID) {
			continue
		}
		n.log.Info("pool closed by its owner; leaving", "pool", d.ID)
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := n.Leave(lctx, d.ID); err != nil && !errors.Is(err, ErrNotMember) {
			n.log.Warn("leave closed pool", "pool", d.ID, "err", err)
		}
		cancel()
	}
}

// poolStatusRow is one pool on the status page.
type poolStatusRow struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	Seq       uint64 `json:"seq"`
	Admission string `json:"admission"`
	State     string `json:"state"`
	Member    bool   `json:"member"`
	Members   uint32 `json:"members_reported,omitempty"`
	Step      uint64 `json:"outer_step_reported,omitempty"`
	Checkpt   string `json:"checkpoint,omitempty"`
}

// poolsStatus is the "pools" section of the status API: every pool in the
// catalog, with what members last reported.
func (n *Node) poolsStatus() any {
	mine := map[string]bool{}
	for _, p := range n.Pools() {
		mine[p] = true
	}
	var rows []poolStatusRow
	for _, e := range n.registry.List() {
		d := e.Descriptor
		r := poolStatusRow{ID: d.ID, Name: d.Name, Owner: d.OwnerID().String(), Seq: d.Seq, Admission: d.Admission.String(), State: "open", Member: mine[d.ID]}
		if d.Closed {
			r.State = "closed"
		}
		if d.Checkpoint.Defined() {
			r.Checkpt = d.Checkpoint.String()
		}
		if e.Summary != nil {
			r.Members, r.Step = e.Summary.Members, e.Summary.OuterStep
		}
		rows = append(rows, r)
	}
	return rows
}
