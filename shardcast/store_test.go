package shardcast

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestStoreShardWritesAreAtomicAndVerified(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 100_000)
	c := ShardCID(data)

	// Half a shard written, then the process "dies": nothing looks complete.
	w, err := st.NewShardWriter(c, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:50_000]); err != nil {
		t.Fatal(err)
	}
	if st.HasShard(c, int64(len(data))) {
		t.Fatal("a half-written shard is visible")
	}
	if _, err := st.OpenShard(c, int64(len(data))); !errors.Is(err, ErrShardNotFound) {
		t.Fatalf("OpenShard of a half-written shard: %v", err)
	}
	// Reopening the store removes the leftover temporary file.
	st2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("%d temporary files left after reopen", len(ents))
	}

	// Wrong bytes are refused and leave nothing behind.
	bad := append([]byte(nil), data...)
	bad[7] ^= 0xff
	if err := st2.PutShard(c, bad); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("PutShard of wrong bytes: %v, want ErrHashMismatch", err)
	}
	if st2.HasShard(c, int64(len(data))) {
		t.Fatal("a shard with wrong bytes was stored")
	}
	// A shard that would grow beyond its size is refused at Write.
	w, _ = st2.NewShardWriter(c, int64(len(data)))
	if _, err := w.Write(append(data, 1)); err == nil {
		t.Fatal("writing more than the shard size succeeded")
	}
	w.Abort()

	if err := st2.PutShard(c, data); err != nil {
		t.Fatal(err)
	}
	got, err := st2.ReadShard(c, int64(len(data)))
	if err != nil || string(got) != string(data) {
		t.Fatalf("ReadShard: %v", err)
	}

	// Corruption on disk is caught when the shard is read, and the copy removed.
	p := filepath.Join(dir, "shards", c.String())
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.ReadShard(c, int64(len(data))); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("ReadShard of a corrupted shard: %v, want ErrHashMismatch", err)
	}
	if st2.HasShard(c, int64(len(data))) {
		t.Fatal("corrupted shard was not removed")
	}
}

func TestStoreRetainsLastFiveVersions(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	src := filepath.Join(dir, "src")
	shared := randomBytes(t, MinShardSize) // the same in every version
	var mans []*Manifest
	for v := 1; v <= 7; v++ {
		writeTree(t, src, map[string][]byte{"a": shared, "b": randomBytes(t, MinShardSize+v)})
		m, _, err := Build(t.Context(), st, key, "demo", uint64(v), src, WithShardSize(MinShardSize))
		if err != nil {
			t.Fatal(err)
		}
		mans = append(mans, m)
	}
	// Another pool's checkpoint is not touched by this pool's retention.
	other, _, err := Build(t.Context(), st, key, "other", 1, src, WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := st.Prune("demo", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Fatalf("pruned %d manifests, want 2", len(removed))
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var versions []uint64
	for _, e := range list {
		if e.Manifest.Pool == "demo" {
			versions = append(versions, e.Manifest.Version)
		}
		if !e.Complete() {
			t.Errorf("%s v%d lost shards to pruning", e.Manifest.Pool, e.Manifest.Version)
		}
	}
	if len(versions) != 5 || versions[0] != 7 || versions[4] != 3 {
		t.Fatalf("kept versions %v, want 7..3", versions)
	}
	// The shard unique to version 1 is gone; the shared one stays.
	if st.HasShard(mans[0].Shards[1].CID, int64(mans[0].Shards[1].Size)) {
		t.Error("a shard only version 1 used survived pruning")
	}
	if !st.HasShard(mans[0].Shards[0].CID, int64(mans[0].Shards[0].Size)) {
		t.Error("a shard later versions use was pruned")
	}
	if !st.HasShard(other.Shards[2].CID, int64(other.Shards[2].Size)) {
		t.Error("another pool's shard was pruned")
	}
}

func TestAssembleRejectsIncompleteAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	st, _ := OpenStore(filepath.Join(dir, "store"))
	key := newKey(t)
	src := filepath.Join(dir, "src")
	files := map[string][]byte{"w.bin": randomBytes(t, 3*MinShardSize)}
	writeTree(t, src, files)
	m, _, err := Build(t.Context(), st, key, "demo", 1, src, WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(st.Dir(), "shards", m.Shards[1].CID.String())
	b, _ := os.ReadFile(p)
	b[100] ^= 1
	_ = os.WriteFile(p, b, 0o644)
	out := filepath.Join(dir, "out")
	if err := st.Assemble(t.Context(), m, out); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Assemble with a corrupt shard: %v, want ErrHashMismatch", err)
	}
	if _, err := os.Stat(filepath.Join(out, "w.bin")); err == nil {
		t.Fatal("a file was assembled from a corrupt shard")
	}
	if err := st.Assemble(t.Context(), m, out); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Assemble with a missing shard: %v, want ErrIncomplete", err)
	}
}

// A serve trusts a shard the store hashed in full (it reads only the range
// asked for and does not hash again) only while the file is unchanged: a
// file changed on disk is hashed again and the corrupt copy removed, and a
// store that has not hashed the file itself (after a restart) trusts nothing.
func TestShardReaderTrustsOnlyUnchangedVerifiedShards(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, MinShardSize)
	c := ShardCID(data)
	if err := st.PutShard(c, data); err != nil {
		t.Fatal(err)
	}
	open := func(s *Store) *ShardReader {
		t.Helper()
		r, err := s.OpenShard(c, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	r := open(st)
	if !r.trust() {
		t.Fatal("a shard the store just wrote and hashed is not trusted")
	}
	got := make([]byte, 1000)
	if _, err := r.ReadAt(got, 777); err != nil || !bytes.Equal(got, data[777:1777]) {
		t.Fatalf("ReadAt of a trusted shard: %v", err)
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}

	// A new Store on the same directory (a restart) hashes before trusting.
	st2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r = open(st2)
	if r.trust() {
		t.Fatal("a restarted store trusts a shard it never hashed")
	}
	if _, err := r.ReadAt(got, 0); err == nil {
		t.Fatal("ReadAt on a hashing reader")
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	if r = open(st2); !r.trust() {
		t.Fatal("a shard hashed in full by a read is not trusted")
	}

	// A file changed on disk is not trusted; hashing it finds the damage.
	p := filepath.Join(dir, "shards", c.String())
	b := slices.Clone(data)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// File times can be coarser than the test; make the change visible.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	r = open(st2)
	if r.trust() {
		t.Fatal("a changed shard file is trusted")
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Verify of a corrupted shard: %v, want ErrHashMismatch", err)
	}
	if st2.HasShard(c, int64(len(data))) {
		t.Fatal("corrupted shard was not removed")
	}
}
