package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/shardcast"
)

// TestCheckpointBroadcast: 6 nodes in a pool, the owner publishes a
// checkpoint of several shards, and every other member receives it by
// itself (announcement, fetch, completion callback) with byte-identical
// files. A node that was not told the owner runs no shardcast.
func TestCheckpointBroadcast(t *testing.T) {
	const pool, members = "ckpt", 6
	ownerKey, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	boot := nodetest.Bootstrap(t)
	var (
		mu       sync.Mutex
		received = map[int][]node.Checkpoint{}
	)
	nodes := make([]*node.Node, members)
	for i := range nodes {
		opts := []node.Option{
			node.WithHeartbeatInterval(200 * time.Millisecond),
			node.WithPoolOwner(pool, ownerKey.GetPublic()),
			node.WithCheckpointAnnounceInterval(500 * time.Millisecond),
			node.WithCheckpointHandler(func(c node.Checkpoint) {
				mu.Lock()
				received[i] = append(received[i], c)
				mu.Unlock()
			}),
		}
		if i == 0 {
			opts = append(opts, node.WithIdentity(ownerKey))
		}
		nodes[i] = nodetest.Node(t, boot, opts...)
		if err := nodes[i].Join(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
	if !nodetest.WaitFor(time.Minute, func() bool {
		for _, n := range nodes {
			if nodetest.AliveCount(n, pool) != members {
				return false
			}
		}
		return true
	}) {
		t.Fatal("membership did not converge")
	}

	// A checkpoint directory: two files, 5 shards of 64 KiB in all.
	src := t.TempDir()
	weights := make([]byte, 300<<10)
	_, _ = rand.Read(weights)
	writeFile(t, filepath.Join(src, "model.safetensors"), weights)
	writeFile(t, filepath.Join(src, "meta", "config.json"), []byte(`{"layers":2}`))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, err := nodes[1].PublishCheckpoint(ctx, pool, src); err == nil {
		t.Error("a member that is not the owner published a checkpoint")
	}
	c, m, err := nodes[0].PublishCheckpoint(ctx, pool, src, shardcast.WithShardSize(shardcast.MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || len(m.Shards) != 5 {
		t.Fatalf("published version %d with %d shards, want version 1 with 5", m.Version, len(m.Shards))
	}
	if !nodetest.WaitFor(time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) == members-1
	}) {
		mu.Lock()
		t.Fatalf("%d of %d members reported the checkpoint complete", len(received), members-1)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(received[0]) != 0 {
		t.Errorf("the owner reported fetching its own checkpoint: %v", received[0])
	}
	for i := 1; i < members; i++ {
		if got := received[i]; len(got) != 1 || got[0].CID != c || !got[0].Complete() || got[0].Version != 1 {
			t.Errorf("node %d received %+v, want one complete version 1 with CID %s", i, got, c)
		}
		list := nodes[i].Checkpoints(pool)
		if len(list) != 1 || list[0].CID != c || !list[0].Complete() {
			t.Errorf("node %d lists %+v", i, list)
		}
		out := t.TempDir()
		if err := nodes[i].AssembleCheckpoint(ctx, pool, c, out); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		for _, f := range []string{"model.safetensors", "meta/config.json"} {
			want, _ := os.ReadFile(filepath.Join(src, f))
			got, err := os.ReadFile(filepath.Join(out, f))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("node %d: %s differs from the published file (err %v)", i, f, err)
			}
		}
	}
	// The status reports the held version.
	b, err := json.Marshal(nodes[2].Status().Sections["checkpoints"])
	if err != nil || !strings.Contains(string(b), c.String()) || !strings.Contains(string(b), `"complete":true`) {
		t.Errorf("status section checkpoints = %s (err %v), want version %s complete", b, err, c)
	}
	var fetched, served int64
	for _, n := range nodes {
		st, err := n.CheckpointStats(pool)
		if err != nil {
			t.Fatal(err)
		}
		fetched += st.BytesFetched
		served += st.BytesServed
		if st.HashFailures != 0 || st.BadManifests != 0 {
			t.Errorf("stats %+v: hash failures or bad manifests", st)
		}
	}
	if need := int64(members-1) * int64(m.TotalSize()); fetched < need || served < need {
		t.Errorf("fetched %d, served %d bytes; want at least %d each", fetched, served, need)
	}

	// A node not told the owner has no shardcast for the pool.
	stranger := nodetest.Node(t, boot)
	if err := stranger.Join(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.FetchCheckpoint(ctx, pool, c); !errors.Is(err, node.ErrNoPoolOwner) {
		t.Errorf("fetch without the owner key: %v, want ErrNoPoolOwner", err)
	}
	// Leave stops the pool's service; the node keeps what it fetched.
	if err := nodes[1].Leave(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].CheckpointStats(pool); !errors.Is(err, node.ErrNotMember) {
		t.Errorf("stats after leave: %v, want ErrNotMember", err)
	}
	if err := nodes[1].Join(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if list := nodes[1].Checkpoints(pool); len(list) != 1 || list[0].CID != c {
		t.Errorf("after rejoining, node 1 lists %+v", list)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointOwnerFromDescriptor: in a pool created with CreatePool the
// descriptor names the owner, so members need no WithPoolOwner to receive
// its checkpoints.
func TestCheckpointOwnerFromDescriptor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := nodetest.Bootstrap(t, fastPools)
	owner := nodetest.Node(t, boot, fastPools, node.WithCheckpointAnnounceInterval(500*time.Millisecond))
	members := []*node.Node{
		nodetest.Node(t, boot, fastPools, node.WithCheckpointAnnounceInterval(500*time.Millisecond)),
		nodetest.Node(t, boot, fastPools, node.WithCheckpointAnnounceInterval(500*time.Millisecond)),
	}
	for _, n := range append([]*node.Node{owner}, members...) {
		if err := n.WaitBootstrapped(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d, err := owner.CreatePool(ctx, "ckpt", poolTemplate(p2p.AdmitOpen))
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Join(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	for i, n := range members {
		if !nodetest.WaitFor(30*time.Second, func() bool {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := n.FindPool(fctx, d.ID)
			return err == nil
		}) {
			t.Fatalf("member %d did not find the pool", i)
		}
		if err := n.Join(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(t.TempDir(), "weights.bin")
	writeFile(t, src, bytes.Repeat([]byte("w"), 100<<10))
	c, _, err := owner.PublishCheckpoint(ctx, d.ID, src)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range members {
		cp, err := n.FetchCheckpoint(ctx, d.ID, c)
		if err != nil || !cp.Complete() {
			t.Fatalf("member %d: %+v, %v", i, cp, err)
		}
		if _, _, err := n.PublishCheckpoint(ctx, d.ID, src); err == nil {
			t.Errorf("member %d, not the owner, published", i)
		}
	}
}

// TestCheckpointsSurviveRestart: the owner's node keeps its checkpoints in
// its data directory; after a restart it lists and serves them again, and a
// member that joins only then fetches the checkpoint from it.
func TestCheckpointsSurviveRestart(t *testing.T) {
	const pool = "restart"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ownerKey, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	boot := nodetest.Bootstrap(t)
	opts := []node.Option{node.WithDataDir(dir), node.WithIdentity(ownerKey), node.WithPoolOwner(pool, ownerKey.GetPublic())}
	owner := nodetest.Node(t, boot, opts...)
	if err := owner.Join(ctx, pool); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "weights.bin")
	writeFile(t, src, bytes.Repeat([]byte("v1"), 50<<10))
	c, _, err := owner.PublishCheckpoint(ctx, pool, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, node.CheckpointStoreDir)); err != nil {
		t.Fatalf("no store in the data directory: %v", err)
	}

	owner = nodetest.Node(t, boot, opts...)
	if err := owner.Join(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if list := owner.Checkpoints(pool); len(list) != 1 || list[0].CID != c || !list[0].Complete() {
		t.Fatalf("after restart the owner lists %+v, want %s complete", list, c)
	}
	member := nodetest.Node(t, boot, node.WithPoolOwner(pool, ownerKey.GetPublic()))
	if err := member.Join(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if cp, err := member.FetchCheckpoint(ctx, pool, c); err != nil || !cp.Complete() {
		t.Fatalf("fetch from the restarted owner: %+v, %v", cp, err)
	}
	// The next version is one above what the store holds.
	if _, m, err := owner.PublishCheckpoint(ctx, pool, src); err != nil || m.Version != 2 {
		t.Fatalf("second publish: %v, %v; want version 2", m, err)
	}
}
