package node_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/ledger"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

var fastPools = node.WithPoolRegistryConfig(p2p.PoolRegistryConfig{GossipInterval: 300 * time.Millisecond, DHTInterval: 2 * time.Second})

func poolTemplate(admission p2p.Admission) p2p.PoolDescriptor {
	return p2p.PoolDescriptor{
		Name: "toy", Description: "test pool", Model: "toy mlp",
		Params:      p2p.PoolParams{InnerSteps: 20, OuterLR: 0.7, OuterMomentum: 0.9, Quantization: p2p.QuantInt8},
		MinHardware: p2p.MinHardware{CPUCores: 1},
		Admission:   admission,
	}
}

func testCID(s string) cid.Cid {
	h, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// forgeDescriptor re-signs d's bytes with another key put in place of the
// owner's: what an attacker who wants to take over a pool ID can produce.
func forgeDescriptor(t *testing.T, d *p2p.PoolDescriptor, key crypto.PrivKey) []byte {
	t.Helper()
	raw, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ownerRaw, _ := crypto.MarshalPublicKey(d.Owner)
	forgerRaw, _ := crypto.MarshalPublicKey(key.GetPublic())
	start := 1 + 1 + len(d.ID) + 1 // version, id length, id, owner length
	if string(raw[start:start+len(ownerRaw)]) != string(ownerRaw) || len(ownerRaw) != len(forgerRaw) {
		t.Fatal("test does not know the descriptor layout")
	}
	unsigned := append([]byte{}, raw[:len(raw)-1-len(d.Signature)]...)
	copy(unsigned[start:], forgerRaw)
	sig, err := key.Sign(append([]byte("openpool/pool/v1\x00"), unsigned...))
	if err != nil {
		t.Fatal(err)
	}
	return append(append(unsigned, byte(len(sig))), sig...)
}

// attacker is a bare libp2p host with gossipsub on the pools topic that can
// publish whatever bytes it likes.
func attacker(t *testing.T, targets ...*node.Node) *pubsub.Topic {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(p2p.PoolsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topic.Subscribe(); err != nil {
		t.Fatal(err)
	}
	for _, n := range targets {
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	// Both sides must know each other on the topic: gossipsub drops what
	// arrives from a peer it has not finished setting up.
	if !nodetest.WaitFor(10*time.Second, func() bool {
		if len(topic.ListPeers()) < len(targets) {
			return false
		}
		for _, n := range targets {
			if !slices.Contains(n.PubSub().ListPeers(p2p.PoolsTopic), h.ID()) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("attacker not in the pools topic mesh (%d peers)", len(topic.ListPeers()))
	}
	return topic
}

// TestPoolPublishDiscoverJoin: a pool published by one node is found,
// verified and joined by 20 others; an update reaches all of them; a forged
// update (wrong key), a tampered one and a replayed older one are rejected
// everywhere, by gossip and in the DHT.
func TestPoolPublishDiscoverJoin(t *testing.T) {
	const n = 20
	ctx := context.Background()
	boot := nodetest.Bootstrap(t, fastPools)
	owner := nodetest.Node(t, boot, fastPools)
	nodes := make([]*node.Node, n)
	for i := range nodes {
		nodes[i] = nodetest.Node(t, boot, fastPools, node.WithHeartbeatInterval(time.Second))
	}
	for _, nd := range append([]*node.Node{owner}, nodes...) {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := nd.WaitBootstrapped(wctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	d1, err := owner.CreatePool(ctx, "toy", poolTemplate(p2p.AdmitOpen))
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Join(ctx, d1.ID); err != nil {
		t.Fatal(err)
	}
	// Every node finds the descriptor (DHT or gossip), verifies it and joins.
	for i, nd := range nodes {
		var found *p2p.PoolDescriptor
		nodetest.WaitFor(30*time.Second, func() bool {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			found, err = nd.FindPool(fctx, d1.ID)
			return err == nil
		})
		if found == nil {
			t.Fatalf("node %d did not find pool %s: %v", i, d1.ID, err)
		}
		if found.OwnerID() != owner.ID() || found.Seq != d1.Seq {
			t.Fatalf("node %d found a different descriptor: owner %s seq %d", i, found.OwnerID(), found.Seq)
		}
		if err := nd.Join(ctx, d1.ID); err != nil {
			t.Fatalf("node %d join: %v", i, err)
		}
	}
	all := append([]*node.Node{owner}, nodes...)
	if !nodetest.WaitFor(90*time.Second, func() bool {
		for _, nd := range all {
			if nodetest.AliveCount(nd, d1.ID) != n+1 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("membership of %s did not converge", d1.ID)
	}
	// Member counts reach a node outside the pool.
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, e := range boot.PoolCatalog() {
			if e.Descriptor.ID == d1.ID && e.Summary != nil && e.Summary.Members == n+1 {
				return true
			}
		}
		return false
	}) {
		t.Errorf("bootstrap node's catalog has no member count of %d for the pool: %+v", n+1, boot.PoolCatalog())
	}

	// Update: a new checkpoint and parameters, higher sequence number.
	ck := testCID("checkpoint v2")
	d2, err := owner.UpdatePool(ctx, d1.ID, func(d *p2p.PoolDescriptor) error {
		d.Checkpoint, d.Params.InnerSteps = ck, 40
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Seq <= d1.Seq {
		t.Fatalf("update seq %d not above %d", d2.Seq, d1.Seq)
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, nd := range nodes {
			if d, ok := nd.PoolRegistry().Get(d1.ID); !ok || d.Seq != d2.Seq || !d.Checkpoint.Equals(ck) {
				return false
			}
		}
		return true
	}) {
		t.Fatal("update did not reach every node")
	}

	// Attacks: replay of the first descriptor, a tampered copy, and a
	// descriptor for the same ID signed by another key with a higher seq.
	old, _ := d1.MarshalBinary()
	stranger, _, _ := crypto.GenerateEd25519Key(nil)
	forgedSrc := *d2
	forgedSrc.Seq = d2.Seq + 1000
	forgedSrc.Signature = nil
	if err := forgedSrc.Sign(stranger); !errors.Is(err, p2p.ErrNotOwner) {
		t.Fatalf("signing another owner's pool: got %v, want ErrNotOwner", err)
	}
	forgedSrc.Owner = owner.Host().Peerstore().PubKey(owner.ID())
	forgedSrc.Signature = d2.Signature
	forged := forgeDescriptor(t, &forgedSrc, stranger)
	if _, err := p2p.DecodePoolDescriptor(forged); !errors.Is(err, p2p.ErrNotOwner) {
		t.Fatalf("forged descriptor: got %v, want ErrNotOwner", err)
	}
	tampered, _ := d2.MarshalBinary()
	tampered[len(tampered)-70] ^= 0x55

	topic := attacker(t, nodes[0], nodes[1], boot)
	attack := func() {
		for _, msg := range [][]byte{old, forged, tampered} {
			if err := topic.Publish(ctx, append([]byte{1}, msg...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	attack()
	// Through the DHT: servers refuse forged and older records.
	key := p2p.PoolRecordKey(d1.ID)
	if err := nodes[2].DHT().PutValue(ctx, key, forged); err == nil {
		t.Error("DHT accepted a forged pool record")
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_ = nodes[3].DHT().PutValue(pctx, key, old) // may succeed locally; must never win
	cancel()

	// The attacker's direct peers refuse the messages (so nobody else ever
	// sees them): count the refusals over every node.
	var badSig, stale uint64
	lastAttack := time.Now()
	if !nodetest.WaitFor(20*time.Second, func() bool {
		if time.Since(lastAttack) > 3*time.Second { // the attacker insists
			attack()
			lastAttack = time.Now()
		}
		badSig, stale = 0, 0
		for _, nd := range append(all, boot) {
			r := nd.PoolRegistry().Rejected()
			badSig += r["bad_signature"]
			stale += r["stale"]
		}
		return badSig >= 2 && stale >= 1
	}) {
		t.Errorf("forgeries not refused: %d bad signatures, %d stale", badSig, stale)
	}
	time.Sleep(time.Second) // let anything that slipped through spread
	for i, nd := range all {
		if d, ok := nd.PoolRegistry().Get(d1.ID); !ok || d.Seq != d2.Seq || d.OwnerID() != owner.ID() {
			t.Errorf("node %d holds seq %d owner %s after the attacks; want seq %d from the owner", i, d.Seq, d.OwnerID(), d2.Seq)
		}
	}
	for i, nd := range nodes[:5] {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := nd.FindPool(fctx, d1.ID)
		cancel()
		if err != nil || d.Seq != d2.Seq {
			t.Errorf("node %d FindPool after attacks: seq %v err %v", i, d, err)
		}
	}
}

// TestInviteOnlyPool: a valid invite admits; none, an expired one, one for
// another peer and one signed by someone else are refused with clear errors;
// a node that skips the checks and beats anyway is never seen as a member.
func TestInviteOnlyPool(t *testing.T) {
	ctx := context.Background()
	boot := nodetest.Bootstrap(t, fastPools)
	fast := node.WithHeartbeatInterval(500 * time.Millisecond)
	owner := nodetest.Node(t, boot, fastPools, fast)
	d, err := owner.CreatePool(ctx, "closed", poolTemplate(p2p.AdmitInvite))
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Join(ctx, d.ID); err != nil {
		t.Fatalf("owner joins its own pool without an invite: %v", err)
	}
	guest := nodetest.Node(t, boot, fastPools, fast)
	inv, err := owner.InvitePeer(d.ID, guest.ID(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := inv.MarshalBinary()

	find := func(nd *node.Node) {
		t.Helper()
		if !nodetest.WaitFor(30*time.Second, func() bool {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := nd.FindPool(fctx, d.ID)
			return err == nil
		}) {
			t.Fatal("pool not found")
		}
	}
	find(guest)
	if err := guest.Join(ctx, d.ID, node.WithInvite(tok)); err != nil {
		t.Fatalf("valid invite refused: %v", err)
	}

	stranger, _, _ := crypto.GenerateEd25519Key(nil)
	sid, _ := p2p.DerivePoolID(stranger.GetPublic(), "closed")
	cases := []struct {
		name  string
		token func(who peer.ID) []byte
		want  error
	}{
		{"no invite", func(peer.ID) []byte { return nil }, p2p.ErrNoInvite},
		{"expired", func(who peer.ID) []byte {
			inv, _ := p2p.NewPoolInvite(mustKey(t, owner), d.ID, who, time.Now().Add(-time.Minute))
			b, _ := inv.MarshalBinary()
			return b
		}, p2p.ErrInviteExpired},
		{"other peer's invite", func(peer.ID) []byte { return tok }, p2p.ErrInviteWrongPeer},
		{"signed by someone else", func(who peer.ID) []byte {
			inv, _ := p2p.NewPoolInvite(stranger, sid, who, time.Now().Add(time.Hour))
			inv.Pool = d.ID
			b, _ := inv.MarshalBinary()
			return b
		}, p2p.ErrInviteWrongOwner},
	}
	for _, c := range cases {
		nd := nodetest.Node(t, boot, fastPools, fast)
		find(nd)
		err := joinRefused(nd, d.ID, node.WithInvite(c.token(nd.ID())))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: join error %v, want %v", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}

	// A node that bypasses the joining checks and sends heartbeats anyway.
	rogue := nodetest.Node(t, boot, fastPools, fast)
	m, err := p2p.JoinMembership(ctx, rogue.Host(), rogue.PubSub(), d.ID, p2p.WithMembershipConfig(p2p.MembershipConfig{Interval: 500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	for _, nd := range []*node.Node{owner, guest} {
		if err := rogue.Host().Connect(ctx, peer.AddrInfo{ID: nd.ID(), Addrs: nd.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		return nodetest.AliveCount(owner, d.ID) == 2 && nodetest.AliveCount(guest, d.ID) == 2
	}) {
		t.Fatalf("owner and guest do not see each other: %d %d", nodetest.AliveCount(owner, d.ID), nodetest.AliveCount(guest, d.ID))
	}
	if !nodetest.WaitFor(20*time.Second, func() bool {
		mo, _ := owner.Membership(d.ID)
		mg, _ := guest.Membership(d.ID)
		return mo.Stats().Rejected[p2p.RejectNotAdmitted] > 0 || mg.Stats().Rejected[p2p.RejectNotAdmitted] > 0
	}) {
		t.Error("no member refused the rogue's heartbeats")
	}
	for _, nd := range []*node.Node{owner, guest} {
		for _, mem := range nd.Members(d.ID) {
			if mem.ID == rogue.ID() {
				t.Errorf("%s lists the rogue as a member", nd.ID())
			}
		}
	}
	if f := owner.AdmitFunc(d.ID); f == nil || f(rogue.ID()) || !f(guest.ID()) {
		t.Error("round admission does not follow membership")
	}
}

func mustKey(t *testing.T, n *node.Node) crypto.PrivKey {
	t.Helper()
	k := n.Host().Peerstore().PrivKey(n.ID())
	if k == nil {
		t.Fatal("no private key")
	}
	return k
}

// TestPoolOwnerRestart: the owner's node goes away; the pool stays
// discoverable, members stay in it, a new node joins; the restarted owner
// (same data directory) republishes and can update it.
func TestPoolOwnerRestart(t *testing.T) {
	ctx := context.Background()
	boot := nodetest.Bootstrap(t, fastPools)
	dir := t.TempDir()
	fast := node.WithHeartbeatInterval(500 * time.Millisecond)
	owner, err := node.New(ctx, ownerOpts(boot, dir)...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := owner.CreatePool(ctx, "durable", poolTemplate(p2p.AdmitOpen))
	if err != nil {
		t.Fatal(err)
	}
	members := []*node.Node{nodetest.Node(t, boot, fastPools, fast), nodetest.Node(t, boot, fastPools, fast)}
	for _, m := range members {
		joinWhenFound(t, m, d.ID)
	}
	_ = owner.Close()

	late := nodetest.Node(t, boot, fastPools, fast)
	joinWhenFound(t, late, d.ID)
	members = append(members, late)
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, m := range members {
			if nodetest.AliveCount(m, d.ID) != 3 {
				return false
			}
		}
		return true
	}) {
		t.Fatal("members did not keep the pool going without its owner")
	}

	owner2 := restartOwner(ctx, t, boot, dir, owner.ID(), d)
	d2, err := owner2.UpdatePool(ctx, d.ID, func(x *p2p.PoolDescriptor) error { x.Description = "after restart"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, m := range members {
			if x, ok := m.PoolRegistry().Get(d.ID); !ok || x.Seq != d2.Seq {
				return false
			}
		}
		return true
	}) {
		for i, m := range members {
			x, _ := m.PoolRegistry().Get(d.ID)
			t.Logf("member %d holds seq %d (want %d); owner2 peers %d", i, x.Seq, d2.Seq, len(owner2.Host().Network().Peers()))
		}
		x, _ := boot.PoolRegistry().Get(d.ID)
		t.Logf("boot holds %d rejected %v; owner2 rejected %v; owner2 pubsub peers %v", x.Seq, boot.PoolRegistry().Rejected(), owner2.PoolRegistry().Rejected(), owner2.PubSub().ListPeers(p2p.PoolsTopic))
		t.Fatal("update from the restarted owner did not reach the members")
	}
	if _, err := members[0].UpdatePool(ctx, d.ID, nil); !errors.Is(err, node.ErrNotOwner) {
		t.Errorf("a member updated the pool: %v", err)
	}
	// Closing the pool makes members leave it.
	if _, err := owner2.ClosePool(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, m := range members {
			if len(m.Pools()) != 0 {
				return false
			}
		}
		return true
	}) {
		t.Error("members did not leave the closed pool")
	}
	nd := nodetest.Node(t, boot, fastPools)
	if err := nd.Join(ctx, d.ID); !errors.Is(err, node.ErrPoolClosed) {
		nodetest.WaitFor(10*time.Second, func() bool {
			err = nd.Join(ctx, d.ID)
			return errors.Is(err, node.ErrPoolClosed)
		})
		if !errors.Is(err, node.ErrPoolClosed) {
			t.Errorf("joining a closed pool: %v", err)
		}
	}
}

// restartOwner starts the pool owner's node again from its data directory
// and checks that it kept its identity and reloaded pool d.
func restartOwner(ctx context.Context, t *testing.T, boot *node.Node, dir string, id peer.ID, d *p2p.PoolDescriptor) *node.Node {
	t.Helper()
	owner2, err := node.New(ctx, ownerOpts(boot, dir)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner2.Close() })
	if owner2.ID() != id {
		t.Fatal("owner restarted with another identity")
	}
	if got, ok := owner2.PoolRegistry().Get(d.ID); !ok || got.Seq != d.Seq {
		t.Fatal("restarted owner did not reload its pool")
	}
	return owner2
}

func ownerOpts(boot *node.Node, dir string) []node.Option {
	return []node.Option{
		node.WithDataDir(dir), node.WithListenAddrs(nodetest.Loopback), node.WithNAT(false), node.WithUnlimitedResources(),
		node.WithBootstrapPeers(peer.AddrInfo{ID: boot.ID(), Addrs: boot.Host().Addrs()}),
		node.WithHardware(p2p.Hardware{CPUCores: 1}), fastPools, node.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

func joinWhenFound(t *testing.T, nd *node.Node, id string, opts ...node.JoinOption) {
	t.Helper()
	var err error
	if !nodetest.WaitFor(30*time.Second, func() bool {
		jctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = nd.Join(jctx, id, opts...)
		return err == nil
	}) {
		t.Fatalf("join %s: %v", id, err)
	}
}

// TestChainInviteAdmission: a pool tied to an on-chain pool admits a node
// that presents the contract's EIP-712 invite bound to its peer ID, and
// refuses the same token from another node.
func TestChainInviteAdmission(t *testing.T) {
	ctx := context.Background()
	boot := nodetest.Bootstrap(t, fastPools)
	fast := node.WithHeartbeatInterval(500 * time.Millisecond)
	owner := nodetest.Node(t, boot, fastPools, fast)
	ownerEth, _ := ethcrypto.GenerateKey()
	workerEth, _ := ethcrypto.GenerateKey()
	contract := common.HexToAddress("0x00000000000000000000000000000000000c0ffe")
	tmpl := poolTemplate(p2p.AdmitInvite)
	tmpl.ChainID, tmpl.ChainPoolID, tmpl.ChainDomainID = 1337, 3, 1
	tmpl.ChainContract, tmpl.ChainOwner = contract, ethcrypto.PubkeyToAddress(ownerEth.PublicKey)
	d, err := owner.CreatePool(ctx, "onchain", tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Join(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	inv := ledger.Invite{ChainID: 1337, Contract: contract, DomainID: 1, PoolID: 3, Node: ethcrypto.PubkeyToAddress(workerEth.PublicKey), Nonce: 1, Expiry: uint64(time.Now().Add(time.Hour).Unix())}
	if err := inv.Sign(ownerEth); err != nil {
		t.Fatal(err)
	}
	worker := nodetest.Node(t, boot, fastPools, fast)
	tok, err := ledger.NewAdmissionToken(inv, workerEth, worker.ID())
	if err != nil {
		t.Fatal(err)
	}
	thief := nodetest.Node(t, boot, fastPools, fast)
	joinWhenFound(t, worker, d.ID, node.WithInvite(tok))
	if err := joinRefused(thief, d.ID, node.WithInvite(tok)); !errors.Is(err, p2p.ErrInviteWrongPeer) {
		t.Errorf("stolen chain token: %v", err)
	}
	forged := inv
	forged.Nonce = 2
	if err := forged.Sign(workerEth); err != nil { // signed by the worker, not the owner
		t.Fatal(err)
	}
	ftok, _ := ledger.NewAdmissionToken(forged, workerEth, thief.ID())
	if err := joinRefused(thief, d.ID, node.WithInvite(ftok)); !errors.Is(err, p2p.ErrInviteWrongOwner) {
		t.Errorf("chain invite not signed by the owner: %v", err)
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		return nodetest.AliveCount(owner, d.ID) == 2 && nodetest.AliveCount(worker, d.ID) == 2
	}) {
		t.Fatalf("owner and chain-invited worker do not see each other: %d %d", nodetest.AliveCount(owner, d.ID), nodetest.AliveCount(worker, d.ID))
	}
}

// joinRefused joins id, retrying while the pool is not found yet (a node
// that just started may not reach the DHT at once), and returns the error.
func joinRefused(nd *node.Node, id string, opts ...node.JoinOption) error {
	var err error
	nodetest.WaitFor(30*time.Second, func() bool {
		jctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = nd.Join(jctx, id, opts...)
		return !errors.Is(err, p2p.ErrPoolNotFound)
	})
	return err
}
