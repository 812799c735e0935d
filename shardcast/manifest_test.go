package shardcast

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testManifest builds a signed manifest of n shards without a store.
func testManifest(t testing.TB, key crypto.PrivKey, nShards int) *Manifest {
	t.Helper()
	m := &Manifest{
		Pool:      "demo",
		Version:   7,
		Created:   time.UnixMilli(1_700_000_000_123).UTC(),
		ShardSize: MinShardSize,
		Files:     []File{{Path: "a.bin", Size: 10}, {Path: "dir/b.bin", Size: uint64(nShards)*MinShardSize - 10 - 5}},
	}
	total := m.TotalSize()
	for i := 0; i < nShards; i++ {
		size := uint64(MinShardSize)
		if i == nShards-1 {
			size = total - uint64(i)*MinShardSize
		}
		m.Shards = append(m.Shards, Shard{CID: ShardCID([]byte{byte(i), byte(i >> 8)}), Size: uint32(size)})
	}
	if err := m.Sign(key); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManifestRoundTrip(t *testing.T) {
	key := newKey(t)
	m := testManifest(t, key, 5)
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeManifest(enc, key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool != m.Pool || got.Version != m.Version || !got.Created.Equal(m.Created) || got.ShardSize != m.ShardSize ||
		len(got.Files) != 2 || got.Files[1] != m.Files[1] || len(got.Shards) != 5 || !got.Shards[3].CID.Equals(m.Shards[3].CID) ||
		got.Shards[4].Size != m.Shards[4].Size || !got.Owner.Equals(key.GetPublic()) {
		t.Fatalf("round trip changed the manifest: %+v", got)
	}
	c1, _ := m.CID()
	c2, _ := got.CID()
	if !c1.Equals(c2) || !c1.Equals(ShardCID(enc)) {
		t.Fatalf("manifest CID not stable: %v %v", c1, c2)
	}
	if c1.Version() != 1 || c1.Prefix().Codec != 0x55 || c1.Prefix().MhType != 0x12 {
		t.Fatalf("manifest CID %v: want CIDv1 raw sha2-256", c1)
	}
}

func TestManifestRejects(t *testing.T) {
	owner := newKey(t)
	other := newKey(t)
	m := testManifest(t, owner, 4)
	enc, _ := m.Encode()
	byOther := testManifest(t, other, 4)
	encOther, _ := byOther.Encode()

	flipSig := bytes.Clone(enc)
	flipSig[len(flipSig)-1] ^= 1
	flipBody := bytes.Clone(enc)
	flipBody[6] ^= 1 // inside the pool name: "demo" -> "eemo"

	// An unsigned manifest: the body followed by a zero-length signature.
	body, _ := m.encodeBody()
	unsigned := binary.AppendUvarint(bytes.Clone(body), 0)

	// A second spelling of the same manifest: a non-minimal varint.
	nonCanon := append([]byte{}, enc[:5]...)
	nonCanon = append(nonCanon, 0x84, 0x00) // pool length 4, in two bytes
	nonCanon = append(nonCanon, enc[6:]...)

	tests := []struct {
		name  string
		in    []byte
		owner crypto.PubKey
		want  error
	}{
		{"empty", nil, nil, ErrManifestTruncated},
		{"magic only", enc[:4], nil, ErrManifestTruncated},
		{"truncated body", enc[:len(enc)/2], nil, ErrManifestTruncated},
		{"truncated signature", enc[:len(enc)-1], nil, ErrManifestTruncated},
		{"oversize", make([]byte, MaxManifestSize+1), nil, ErrManifestTooLarge},
		{"bad magic", append([]byte("XXXX"), enc[4:]...), nil, ErrManifestMalformed},
		{"future format", append(append([]byte("OPSM"), 2), enc[5:]...), nil, ErrManifestFormat},
		{"trailing byte", append(bytes.Clone(enc), 0), nil, ErrManifestMalformed},
		{"unsigned", unsigned, nil, ErrManifestUnsigned},
		{"signature flipped", flipSig, nil, ErrBadSignature},
		{"body flipped", flipBody, nil, ErrBadSignature},
		{"wrong signer", encOther, owner.GetPublic(), ErrWrongSigner},
		{"non-canonical varint", nonCanon, nil, ErrManifestMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeManifest(tc.in, tc.owner)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeManifest: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := DecodeManifest(encOther, nil); err != nil {
		t.Fatalf("a validly signed manifest with no owner check: %v", err)
	}
}

func TestManifestCheck(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		edit func(m *Manifest)
	}{
		{"escaping path", func(m *Manifest) { m.Files[0].Path = "../x" }},
		{"absolute path", func(m *Manifest) { m.Files[0].Path = "/etc/passwd" }},
		{"unclean path", func(m *Manifest) { m.Files[0].Path = "a//b" }},
		{"backslash", func(m *Manifest) { m.Files[0].Path = `a\b` }},
		{"unsorted files", func(m *Manifest) { m.Files[0].Path = "z" }},
		{"file is a dir", func(m *Manifest) { m.Files[0].Path = "dir" }},
		{"shard too small", func(m *Manifest) { m.ShardSize = MinShardSize - 1 }},
		{"missing shard", func(m *Manifest) { m.Shards = m.Shards[:len(m.Shards)-1] }},
		{"wrong shard size", func(m *Manifest) { m.Shards[0].Size-- }},
		{"empty pool", func(m *Manifest) { m.Pool = "" }},
		{"slash in pool", func(m *Manifest) { m.Pool = "a/b" }},
		{"no files", func(m *Manifest) { m.Files = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest(t, key, 3)
			tc.edit(m)
			if err := m.Sign(key); !errors.Is(err, ErrManifestMalformed) {
				t.Fatalf("Sign of a bad manifest: %v, want ErrManifestMalformed", err)
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	key := newKey(f)
	for _, n := range []int{1, 2, 9} {
		enc, err := testManifest(f, key, n).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
	}
	f.Add([]byte("OPSM\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b, nil)
		if err != nil {
			return
		}
		// Whatever decodes is canonical and re-encodes to the same bytes.
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatal("decoded manifest re-encodes differently")
		}
		for _, f := range m.Files {
			if filepath.IsAbs(f.Path) || !filepath.IsLocal(filepath.FromSlash(f.Path)) {
				t.Fatalf("decoded path %q escapes", f.Path)
			}
		}
	})
}

func FuzzDecodeGossip(f *testing.F) {
	c := ShardCID([]byte("x"))
	f.Add(gossipMsg{typ: gossipAnnounce, cid: c, version: 3}.encode())
	f.Add(gossipMsg{typ: gossipHave, cid: c, shards: 11, bitmap: []byte{0xff, 0x07}}.encode())
	f.Add(gossipMsg{typ: gossipHave, cid: c}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeGossip(b)
		if err != nil {
			return
		}
		if !bytes.Equal(g.encode(), b) {
			t.Fatal("gossip message re-encodes differently")
		}
		if g.typ == gossipHave && len(g.bitmap) != (g.shards+7)/8 {
			t.Fatal("bitmap of the wrong length accepted")
		}
	})
}

func TestBuildSplitsFilesIntoShards(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "ckpt")
	files := map[string][]byte{
		"model.bin":     randomBytes(t, 3*MinShardSize+100),
		"opt/state.bin": randomBytes(t, MinShardSize/2),
		"tiny.json":     []byte(`{"step":3}`),
		"empty":         nil,
	}
	writeTree(t, src, files)
	st, err := OpenStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	m, c, err := Build(t.Context(), st, key, "demo", 1, src, WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, b := range files {
		total += uint64(len(b))
	}
	if m.TotalSize() != total || len(m.Shards) != int((total+MinShardSize-1)/MinShardSize) {
		t.Fatalf("manifest: %d bytes in %d shards, want %d bytes", m.TotalSize(), len(m.Shards), total)
	}
	if m.Files[0].Path != "empty" || m.Files[1].Path != "model.bin" || m.Files[2].Path != "opt/state.bin" {
		t.Fatalf("files not sorted by path: %+v", m.Files)
	}
	loaded, err := st.Manifest(c, key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := st.Assemble(t.Context(), loaded, out); err != nil {
		t.Fatal(err)
	}
	checkTree(t, out, files)

	// A single file is named by its base name.
	m1, _, err := Build(t.Context(), st, key, "demo", 2, filepath.Join(src, "model.bin"), WithShardSize(MinShardSize))
	if err != nil {
		t.Fatal(err)
	}
	if len(m1.Files) != 1 || m1.Files[0].Path != "model.bin" {
		t.Fatalf("single file manifest: %+v", m1.Files)
	}
	// The stream of the directory starts with model.bin ("empty" has no
	// bytes), so both checkpoints share their first shard.
	if !m1.Shards[0].CID.Equals(m.Shards[0].CID) {
		t.Fatal("the same bytes got different shard CIDs")
	}

	if _, _, err := Build(t.Context(), st, key, "demo", 3, filepath.Join(dir, "missing")); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("missing path: %v, want ErrBadCheckpoint", err)
	}
	if err := os.Symlink("model.bin", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Build(t.Context(), st, key, "demo", 3, src); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("symlink inside: %v, want ErrBadCheckpoint", err)
	}
	if _, _, err := Build(t.Context(), st, key, "demo", 3, src, WithShardSize(MinShardSize-1)); err == nil {
		t.Fatal("shard size below the minimum accepted")
	}
}
