package shardcast

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/openpool/openpool/internal/swarmtest"
)

const testPool = "demo"

type testNode struct {
	h   host.Host
	ps  *pubsub.PubSub
	st  *Store
	svc *Service
}

func testOpts(extra ...Option) []Option {
	return append([]Option{
		WithLogger(slog.New(slog.DiscardHandler)),
		WithHaveInterval(50 * time.Millisecond),
		WithStallTimeout(2 * time.Second),
	}, extra...)
}

// startNodes starts n connected hosts, each with gossipsub, a store and a
// Service of testPool owned by owner.
func startNodes(t *testing.T, n int, owner crypto.PubKey, opts ...Option) []*testNode {
	t.Helper()
	hs := swarmtest.Hosts(t, n)
	swarmtest.ConnectAll(t, hs)
	pss := swarmtest.GossipSubs(t, hs)
	nodes := make([]*testNode, n)
	for i := range hs {
		nodes[i] = startService(t, hs[i], pss[i], t.TempDir(), owner, opts...)
	}
	waitTopicPeers(t, nodes, n-1)
	return nodes
}

func startService(t *testing.T, h host.Host, ps *pubsub.PubSub, dir string, owner crypto.PubKey, opts ...Option) *testNode {
	t.Helper()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(h, ps, st, testPool, owner, testOpts(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return &testNode{h: h, ps: ps, st: st, svc: svc}
}

// waitTopicPeers waits until every node sees at least want peers on the topic.
func waitTopicPeers(t *testing.T, nodes []*testNode, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range nodes {
		for len(n.svc.topic.ListPeers()) < want {
			if time.Now().After(deadline) {
				t.Fatalf("node %s sees %d topic peers, want %d", n.h.ID(), len(n.svc.topic.ListPeers()), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkpointFiles is a multi-file checkpoint of a little over n shards of
// MinShardSize.
func checkpointFiles(t testing.TB, n int) map[string][]byte {
	return map[string][]byte{
		"model/weights.bin": randomBytes(t, (n-1)*MinShardSize+1234),
		"model/config.json": []byte(`{"layers": 2}`),
		"optimizer.bin":     randomBytes(t, MinShardSize/3),
	}
}

func publish(t *testing.T, n *testNode, key crypto.PrivKey, version uint64, files map[string][]byte) (cid.Cid, *Manifest) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "ckpt")
	writeTree(t, src, files)
	c, m, err := n.svc.Publish(t.Context(), key, version, src, WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

// fetchAll fetches c on every node concurrently, assembles it and checks
// the bytes.
func fetchAll(t *testing.T, ctx context.Context, nodes []*testNode, c cid.Cid, files map[string][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := n.svc.Fetch(ctx, c)
			if err == nil {
				err = n.st.Assemble(ctx, m, n.st.Dir()+"-out")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	for _, n := range nodes {
		checkTree(t, n.st.Dir()+"-out", files)
	}
}

// held returns the shards node n holds of manifest c.
func held(n *testNode, c cid.Cid) bitmap {
	n.svc.mu.Lock()
	defer n.svc.mu.Unlock()
	t := n.svc.tracked[c]
	if t == nil || t.own == nil {
		return nil
	}
	return append(bitmap(nil), t.own...)
}

func TestSwarmTwentyNodesGetIdenticalCopies(t *testing.T) {
	owner := newKey(t)
	// Every node uploads at most 1 MB/s, so that a shard takes longer than a
	// have-map takes to spread, as on a real network.
	nodes := startNodes(t, 20, owner.GetPublic(), WithUploadRate(1e6))
	files := checkpointFiles(t, 24)
	c, m := publish(t, nodes[0], owner, 1, files)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()
	fetchAll(t, ctx, nodes[1:], c, files)
	elapsed := time.Since(start)

	// The publisher's upload was used about once, not 19 times: peers relayed.
	total := int64(m.TotalSize())
	pub := nodes[0].svc.Stats().BytesServed
	var relayed int64
	for _, n := range nodes[1:] {
		s := n.svc.Stats()
		relayed += s.BytesServed
		if s.HashFailures != 0 {
			t.Errorf("honest swarm saw %d hash failures", s.HashFailures)
		}
	}
	t.Logf("checkpoint %d bytes in %d shards reached 19 nodes in %v (%.1f x S/B); publisher served %.1f copies, peers relayed %.1f",
		total, len(m.Shards), elapsed.Round(time.Millisecond), elapsed.Seconds()/(float64(total)/1e6), float64(pub)/float64(total), float64(relayed)/float64(total))
	if pub+relayed < 19*total {
		t.Errorf("served %d bytes in all, want at least %d", pub+relayed, 19*total)
	}
	// A star would make the publisher serve all 19 copies; in a relay tree
	// the peers serve most of them.
	if relayed < 2*pub {
		t.Errorf("publisher served %.1f copies, peers %.1f: no relay tree formed", float64(pub)/float64(total), float64(relayed)/float64(total))
	}
}

func TestSwarmPublisherLeavesEarly(t *testing.T) {
	owner := newKey(t)
	nodes := startNodes(t, 8, owner.GetPublic(), WithUploadSlots(2), WithParallel(2))
	files := checkpointFiles(t, 40)
	c, m := publish(t, nodes[0], owner, 1, files)

	// The publisher serves slowly: two slots, and it leaves as soon as two
	// other peers hold each shard.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	left := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(left)
		for ctx.Err() == nil {
			count := make([]int, len(m.Shards))
			for _, n := range nodes[1:] {
				if bm := held(n, c); bm != nil {
					for i := range count {
						if bm.has(i) {
							count[i]++
						}
					}
				}
			}
			enough := true
			for _, k := range count {
				enough = enough && k >= 2
			}
			if enough {
				_ = nodes[0].svc.Close()
				_ = nodes[0].h.Close()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	fetchAll(t, ctx, nodes[1:], c, files)
	wg.Wait()
	<-left
	done := 0
	for _, n := range nodes[1:] {
		if bm := held(n, c); bm != nil && bm.count() == len(m.Shards) {
			done++
		}
	}
	if done != 7 {
		t.Fatalf("%d of 7 nodes complete", done)
	}
	if got := nodes[0].svc.Stats().BytesServed; got >= 7*int64(m.TotalSize()) {
		t.Fatalf("publisher served %d bytes: it did not leave early", got)
	}
}

// maliciousPeer joins the topic, claims every shard of c, and answers every
// request with random bytes of the asked length.
func maliciousPeer(t *testing.T, h host.Host, ps *pubsub.PubSub, c cid.Cid, shards int) {
	t.Helper()
	h.SetStreamHandler(Protocol(testPool), func(st network.Stream) {
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		req, err := readRequest(bufio.NewReader(st))
		if err != nil {
			return
		}
		n := req.length
		if req.op == opManifest {
			n = 1000
		}
		junk := randomBytes(t, int(n))
		_, _ = st.Write(append(binary.AppendUvarint([]byte{statusOK}, n), junk...))
	})
	topic, err := ps.Join(TopicName(testPool))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := topic.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	all := newBitmap(shards)
	for i := range shards {
		all.set(i)
	}
	msg := gossipMsg{typ: gossipHave, cid: c, shards: shards, bitmap: all}.encode()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = topic.Publish(ctx, msg)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; sub.Cancel() })
}

func TestSwarmMaliciousPeerIsBannedAndHonestNodesGetRightBytes(t *testing.T) {
	owner := newKey(t)
	hs := swarmtest.Hosts(t, 7)
	swarmtest.ConnectAll(t, hs)
	pss := swarmtest.GossipSubs(t, hs)
	var nodes []*testNode
	for i := range 6 {
		opts := []Option{}
		if i == 0 {
			opts = append(opts, WithUploadSlots(1)) // a slow publisher: fetchers look elsewhere
		}
		nodes = append(nodes, startService(t, hs[i], pss[i], t.TempDir(), owner.GetPublic(), opts...))
	}
	bad := hs[6]
	waitTopicPeers(t, nodes, 5)
	files := checkpointFiles(t, 20)
	c, m := publish(t, nodes[0], owner, 1, files)
	maliciousPeer(t, bad, pss[6], c, len(m.Shards))
	waitTopicPeers(t, nodes, 6)
	time.Sleep(200 * time.Millisecond) // its have-map reaches everyone

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	fetchAll(t, ctx, nodes[1:], c, files)

	var failures int64
	for i, n := range nodes[1:] {
		s := n.svc.Stats()
		failures += s.HashFailures + s.BadManifests
		banned := n.svc.Peers()[bad.ID()].Banned
		if (s.HashFailures+s.BadManifests > 0) != banned {
			t.Errorf("node %d: %d bad shards, %d bad manifests, malicious peer banned=%v", i+1, s.HashFailures, s.BadManifests, banned)
		}
		for p, sc := range n.svc.Peers() {
			if sc.Banned && p != bad.ID() {
				t.Errorf("node %d banned honest peer %s", i+1, p)
			}
		}
	}
	if failures == 0 {
		t.Fatal("no node ever asked the malicious peer: the test proves nothing")
	}
	t.Logf("bad responses detected: %d", failures)
}

// stallingPeer holds a real copy of the shards but sends only half of each
// asked range and then goes silent.
func stallingPeer(t *testing.T, n *testNode, c cid.Cid, shards int, hits chan<- struct{}) {
	n.h.SetStreamHandler(Protocol(testPool), func(st network.Stream) {
		defer st.Close()
		req, err := readRequest(bufio.NewReader(st))
		if err != nil {
			_ = st.Reset()
			return
		}
		if req.op == opManifest {
			n.svc.serveManifest(st, req) // manifests are served honestly
			return
		}
		select {
		case hits <- struct{}{}:
		default:
		}
		info, _ := n.st.OpenShard(req.cid, int64(req.offset+req.length))
		if info == nil {
			_ = st.Reset()
			return
		}
		defer info.Close()
		buf := make([]byte, req.offset+req.length)
		_, _ = io.ReadFull(info, buf)
		_, _ = st.Write(binary.AppendUvarint([]byte{statusOK}, req.length))
		_, _ = st.Write(buf[req.offset : req.offset+req.length/2])
		time.Sleep(5 * time.Second) // silence; the fetcher's stall timeout is 2 s
		_ = st.Reset()
	})
	all := newBitmap(shards)
	for i := range shards {
		all.set(i)
	}
	_ = n.svc.topic.Publish(t.Context(), gossipMsg{typ: gossipHave, cid: c, shards: shards, bitmap: all}.encode())
}

func TestSwarmStalledSourceFallsBackWithByteRange(t *testing.T) {
	owner := newKey(t)
	nodes := startNodes(t, 3, owner.GetPublic(), WithStallTimeout(500*time.Millisecond), WithParallel(1))
	files := checkpointFiles(t, 3)
	c, m := publish(t, nodes[0], owner, 1, files)
	// Node 1 gets a true copy, then starts stalling every transfer.
	fetchAll(t, t.Context(), nodes[1:2], c, files)
	hits := make(chan struct{}, 16)
	stallingPeer(t, nodes[1], c, len(m.Shards), hits)
	// The publisher stops serving shards until the staller has been asked,
	// so that the fetcher meets it first.
	nodes[0].h.RemoveStreamHandler(Protocol(testPool))
	go func() {
		select {
		case <-hits:
		case <-time.After(30 * time.Second):
		}
		nodes[0].h.SetStreamHandler(Protocol(testPool), nodes[0].svc.handleStream)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	fetchAll(t, ctx, nodes[2:], c, files)
	s := nodes[2].svc.Stats()
	if s.HashFailures != 0 {
		t.Fatalf("%d hash failures: ranges were not joined correctly", s.HashFailures)
	}
	if sc := nodes[2].svc.Peers()[nodes[1].h.ID()]; sc.Success >= 1 || sc.Banned {
		t.Fatalf("stalling peer scored %+v: it was never asked, or banned for honest bytes", sc)
	}
	// The bytes the staller sent before going silent were kept and the rest
	// fetched as a byte range: nothing was fetched twice.
	if s.BytesFetched != int64(m.TotalSize()) {
		t.Fatalf("fetched %d bytes of a %d-byte checkpoint: byte ranges not resumed", s.BytesFetched, m.TotalSize())
	}
	t.Logf("fetched %d bytes for %d after %d stalls", s.BytesFetched, m.TotalSize(), s.Failed)
}

func TestSwarmFetchResumesAfterRestart(t *testing.T) {
	owner := newKey(t)
	dir := t.TempDir()
	files := checkpointFiles(t, 12)
	// The publisher builds the checkpoint in its store but is not online yet.
	pubStore, err := OpenStore(filepath.Join(dir, "publisher"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "ckpt")
	writeTree(t, src, files)
	m, c, err := Build(t.Context(), pubStore, owner, testPool, 1, src, WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	// A seed holds the manifest and the first half of the shards.
	seedStore, _ := OpenStore(filepath.Join(dir, "seed"))
	enc, _ := m.Encode()
	if _, err := seedStore.PutManifest(enc); err != nil {
		t.Fatal(err)
	}
	half := len(m.Shards) / 2
	var halfBytes int64
	for _, sh := range m.Shards[:half] {
		b, _ := pubStore.ReadShard(sh.CID, int64(sh.Size))
		if err := seedStore.PutShard(sh.CID, b); err != nil {
			t.Fatal(err)
		}
		halfBytes += int64(sh.Size)
	}

	hs := swarmtest.Hosts(t, 2)
	swarmtest.Connect(t, hs[0], hs[1])
	pss := swarmtest.GossipSubs(t, hs)
	seed := startService(t, hs[0], pss[0], filepath.Join(dir, "seed"), owner.GetPublic())
	fetcherDir := filepath.Join(dir, "fetcher")
	// One download at a time: no end-game duplicates, so bytes count exactly.
	fetcher := startService(t, hs[1], pss[1], fetcherDir, owner.GetPublic(), WithParallel(1))
	waitTopicPeers(t, []*testNode{seed, fetcher}, 1)

	// The fetcher gets what the seed has, then waits for the rest: kill it.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := fetcher.svc.Fetch(ctx, c); errc <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for held(fetcher, c).count() < half {
		if time.Now().After(deadline) {
			t.Fatalf("fetcher holds %d shards, want %d", held(fetcher, c).count(), half)
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := fetcher.svc.Stats().BytesFetched
	_ = fetcher.svc.Close()
	_ = hs[1].Close()
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a fetch with half the shards unavailable succeeded")
	}
	if first != halfBytes {
		t.Fatalf("first run fetched %d bytes, want %d", first, halfBytes)
	}

	// Restart: a new host on the same store; the publisher comes online.
	hs2 := swarmtest.Hosts(t, 2)
	pss2 := swarmtest.GossipSubs(t, hs2)
	swarmtest.Connect(t, hs2[0], hs[0])
	swarmtest.Connect(t, hs2[1], hs[0])
	swarmtest.Connect(t, hs2[0], hs2[1])
	publisher := startService(t, hs2[0], pss2[0], filepath.Join(dir, "publisher"), owner.GetPublic())
	fetcher2 := startService(t, hs2[1], pss2[1], fetcherDir, owner.GetPublic(), WithParallel(1))
	waitTopicPeers(t, []*testNode{seed, publisher, fetcher2}, 2)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel2()
	fetchAll(t, ctx2, []*testNode{fetcher2}, c, files)
	if got, want := fetcher2.svc.Stats().BytesFetched, int64(m.TotalSize())-halfBytes; got != want {
		t.Fatalf("after restart fetched %d bytes, want %d (verified shards fetched again?)", got, want)
	}
}

func TestSwarmRejectsManifestNotSignedByOwner(t *testing.T) {
	owner := newKey(t)
	rogue := newKey(t)
	hs := swarmtest.Hosts(t, 2)
	swarmtest.ConnectAll(t, hs)
	pss := swarmtest.GossipSubs(t, hs)
	// The rogue node believes it owns the pool and publishes.
	rogueNode := startService(t, hs[0], pss[0], t.TempDir(), rogue.GetPublic())
	honest := startService(t, hs[1], pss[1], t.TempDir(), owner.GetPublic())
	waitTopicPeers(t, []*testNode{rogueNode, honest}, 1)
	c, _ := publish(t, rogueNode, rogue, 9, checkpointFiles(t, 2))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := honest.svc.Fetch(ctx, c)
	if !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("Fetch of a rogue manifest: %v, want ErrWrongSigner", err)
	}
	if _, err := honest.st.ManifestBytes(c); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rogue manifest stored: %v", err)
	}
	if honest.svc.Stats().BadManifests != 1 {
		t.Fatalf("BadManifests = %d, want 1", honest.svc.Stats().BadManifests)
	}
	// Publishing with a key other than the owner's is refused locally too.
	if _, _, err := honest.svc.Publish(ctx, rogue, 1, t.TempDir()); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("Publish with a wrong key: %v, want ErrWrongSigner", err)
	}
}

func TestProtocolServesByteRangesAndRefusesBadRequests(t *testing.T) {
	owner := newKey(t)
	nodes := startNodes(t, 2, owner.GetPublic())
	files := checkpointFiles(t, 2)
	_, m := publish(t, nodes[0], owner, 1, files)
	sh := m.Shards[0]
	whole, err := nodes[0].st.ReadShard(sh.CID, int64(sh.Size))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var got rangeBuf
	n, err := nodes[1].svc.requestShard(ctx, nodes[0].h.ID(), sh.CID, 1000, 5000, &got)
	if err != nil || n != 5000 || string(got) != string(whole[1000:6000]) {
		t.Fatalf("range request: n=%d err=%v match=%v", n, err, string(got) == string(whole[1000:6000]))
	}
	for _, tc := range []struct {
		name        string
		off, length uint64
		c           cid.Cid
		want        error
	}{
		{"beyond the end", uint64(sh.Size) - 10, 11, sh.CID, ErrBadResponse},
		{"unknown shard", 0, 10, ShardCID([]byte("nope")), ErrPeerNotFound},
	} {
		var b rangeBuf
		if _, err := nodes[1].svc.requestShard(ctx, nodes[0].h.ID(), tc.c, tc.off, tc.length, &b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Garbage instead of a request gets a bad-request status, nothing else.
	st, err := nodes[1].h.NewStream(ctx, nodes[0].h.ID(), Protocol(testPool))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = st.Write([]byte{99, 1, 2, 3})
	_ = st.CloseWrite()
	_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp := make([]byte, 16)
	k, _ := st.Read(resp)
	if k != 1 || resp[0] != statusBadRequest {
		t.Fatalf("garbage request answered %v", resp[:k])
	}
	_ = st.Close()
	// A shard the serving store has not hashed itself (as after a restart)
	// is hashed in full while the range is sent, and served all the same.
	nodes[0].st.mu.Lock()
	clear(nodes[0].st.verified)
	nodes[0].st.mu.Unlock()
	got = nil
	n, err = nodes[1].svc.requestShard(ctx, nodes[0].h.ID(), sh.CID, 3000, 2000, &got)
	if err != nil || n != 2000 || string(got) != string(whole[3000:5000]) {
		t.Fatalf("range request of an unhashed shard: n=%d err=%v match=%v", n, err, string(got) == string(whole[3000:5000]))
	}
	// The validator rejects malformed gossip before delivery.
	if err := nodes[1].svc.topic.Publish(ctx, []byte("not a shardcast message")); err == nil {
		t.Fatal("malformed gossip message accepted for publishing")
	}
}

// Services of two pools on one host (sharing its Store, as a node does)
// each own their stream handler: closing one leaves the other serving.
func TestTwoPoolsOnOneHostClosingOneKeepsTheOtherServing(t *testing.T) {
	owner := newKey(t)
	hs := swarmtest.Hosts(t, 2)
	swarmtest.ConnectAll(t, hs)
	pss := swarmtest.GossipSubs(t, hs)
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const otherPool = "other"
	services := map[string]*Service{}
	for _, pool := range []string{testPool, otherPool} {
		svc, err := New(hs[0], pss[0], st, pool, owner.GetPublic(), testOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close() })
		services[pool] = svc
	}
	st1, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fetcher, err := New(hs[1], pss[1], st1, otherPool, owner.GetPublic(), testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fetcher.Close() })
	seeder := &testNode{h: hs[0], ps: pss[0], st: st, svc: services[otherPool]}
	waitTopicPeers(t, []*testNode{seeder, {h: hs[1], ps: pss[1], st: st1, svc: fetcher}}, 1)
	files := checkpointFiles(t, 3)
	c, _ := publish(t, seeder, owner, 1, files)

	if err := services[testPool].Close(); err != nil {
		t.Fatal(err)
	}
	protos := hs[0].Mux().Protocols()
	if slices.Contains(protos, Protocol(testPool)) || !slices.Contains(protos, Protocol(otherPool)) {
		t.Fatalf("host protocols after closing %q: %v", testPool, protos)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	m, err := fetcher.Fetch(ctx, c)
	if err != nil {
		t.Fatalf("fetch from the pool still open on the host: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := st1.Assemble(ctx, m, out); err != nil {
		t.Fatal(err)
	}
	checkTree(t, out, files)
	if got := services[otherPool].Stats().BytesServed; got < int64(m.TotalSize()) {
		t.Fatalf("the open pool's service served %d bytes of %d", got, m.TotalSize())
	}
}

type rangeBuf []byte

func (b *rangeBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func TestSwarmRepeatedShardsFetchedOnce(t *testing.T) {
	owner := newKey(t)
	nodes := startNodes(t, 3, owner.GetPublic())
	same := randomBytes(t, MinShardSize)
	var rep []byte
	for range 4 {
		rep = append(rep, same...)
	}
	files := map[string][]byte{"a.bin": rep, "b.bin": randomBytes(t, MinShardSize+1)}
	c, m := publish(t, nodes[0], owner, 1, files)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	fetchAll(t, ctx, nodes[1:], c, files)
	// Six shards, three distinct (the first four are the same bytes).
	if len(m.Shards) != 6 {
		t.Fatalf("%d shards", len(m.Shards))
	}
	// The distinct shards hold 2*MinShardSize+1 bytes. The end game may
	// fetch a last shard from two sources at once, so allow each distinct
	// byte twice; fetching every listed shard would take 5*MinShardSize+1,
	// more than that allowance.
	distinct := int64(2*MinShardSize + 1)
	for i, n := range nodes[1:] {
		if got := n.svc.Stats().BytesFetched; got < distinct || got > 2*distinct {
			t.Errorf("node %d fetched %d bytes, want %d (at most %d with end-game duplicates)", i+1, got, distinct, 2*distinct)
		}
	}
}

func TestSwarmAutoFetchOnAnnouncement(t *testing.T) {
	owner := newKey(t)
	done := make(chan cid.Cid, 16)
	nodes := startNodes(t, 5, owner.GetPublic(), WithAutoFetch(func(c cid.Cid, _ *Manifest) { done <- c }))
	files := checkpointFiles(t, 6)
	c, _ := publish(t, nodes[0], owner, 1, files)
	for range 4 {
		select {
		case got := <-done:
			if !got.Equals(c) {
				t.Fatalf("auto-fetched %v, want %v", got, c)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("not every node fetched the announced checkpoint")
		}
	}
	for _, n := range nodes[1:] {
		m, err := n.st.Manifest(c, owner.GetPublic())
		if err != nil {
			t.Fatal(err)
		}
		if err := n.st.Assemble(t.Context(), m, n.st.Dir()+"-out"); err != nil {
			t.Fatal(err)
		}
		checkTree(t, n.st.Dir()+"-out", files)
	}
}

func TestSwarmBogusAnnouncementsAreBounded(t *testing.T) {
	owner := newKey(t)
	hs := swarmtest.Hosts(t, 2)
	swarmtest.ConnectAll(t, hs)
	pss := swarmtest.GossipSubs(t, hs)
	victim := startService(t, hs[0], pss[0], t.TempDir(), owner.GetPublic(), WithAutoFetch(nil))
	topic, err := pss[1].Join(TopicName(testPool))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Cancel)
	waitTopicPeers(t, []*testNode{victim}, 1)
	// 200 announcements of manifests nobody has, each claiming a newer version.
	for i := range 200 {
		msg := gossipMsg{typ: gossipAnnounce, cid: ShardCID([]byte{byte(i), byte(i >> 8)}), version: uint64(i + 1)}
		if err := topic.Publish(t.Context(), msg.encode()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	victim.svc.mu.Lock()
	tracked, running := len(victim.svc.tracked), victim.svc.autoRunning
	victim.svc.mu.Unlock()
	if tracked > maxAutoFetches || running > maxAutoFetches {
		t.Fatalf("%d manifests tracked, %d auto-fetches running after 200 bogus announcements; limit %d", tracked, running, maxAutoFetches)
	}
}
