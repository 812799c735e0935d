package shardcast

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	mh "github.com/multiformats/go-multihash"
)

// Limits of checkpoints and manifests.
const (
	// DefaultShardSize is small enough that relaying starts early (a peer can
	// serve a shard after receiving 4 MiB) and large enough that a 100 GB
	// checkpoint needs about 25,000 shards (a 1 MB manifest).
	DefaultShardSize = 4 << 20
	// MinShardSize keeps the per-shard overhead (a request, a hash, a have-map
	// bit) small against the shard's bytes.
	MinShardSize = 64 << 10
	// MaxShardSize bounds the memory and the time of one shard transfer.
	MaxShardSize = 64 << 20
	// MaxManifestSize bounds a manifest's encoding, and thus any read of one.
	MaxManifestSize = 4 << 20
	// MaxShards bounds the shards of one checkpoint (a have-map is at most
	// MaxShards/8 = 16 KiB).
	MaxShards = 1 << 17
	// MaxFiles bounds the files of one checkpoint.
	MaxFiles = 1 << 16
	// MaxPathLen bounds one file path in a manifest, in bytes.
	MaxPathLen = 1024
	// MaxPoolLen bounds a pool ID, in bytes.
	MaxPoolLen = 128
	// ManifestFormat is the version of the manifest encoding.
	ManifestFormat = 1
)

// Errors returned by DecodeManifest and Manifest.Verify.
var (
	ErrManifestTruncated = errors.New("shardcast: manifest truncated")
	ErrManifestTooLarge  = errors.New("shardcast: manifest too large")
	ErrManifestMalformed = errors.New("shardcast: manifest malformed")
	ErrManifestFormat    = errors.New("shardcast: unknown manifest format")
	ErrManifestUnsigned  = errors.New("shardcast: manifest not signed")
	ErrBadSignature      = errors.New("shardcast: manifest signature invalid")
	ErrWrongSigner       = errors.New("shardcast: manifest not signed by the pool owner")
	ErrWrongPool         = errors.New("shardcast: manifest of another pool")
)

var manifestMagic = []byte("OPSM")

// signingDomain separates manifest signatures from any other use of the key.
const signingDomain = "openpool/shardcast/manifest/v1\n"

// File is one file of a checkpoint.
type File struct {
	Path string // slash-separated, relative, clean
	Size uint64
}

// Shard is one fixed-size piece of a checkpoint's byte stream.
type Shard struct {
	CID  cid.Cid
	Size uint32
}

// Manifest describes one checkpoint version of a pool.
type Manifest struct {
	Pool      string
	Version   uint64
	Created   time.Time // millisecond precision
	ShardSize uint32
	Files     []File
	Shards    []Shard
	Owner     crypto.PubKey // the signer; must be the pool owner
	Signature []byte
}

// TotalSize is the number of bytes of all files.
func (m *Manifest) TotalSize() uint64 {
	var n uint64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ShardCID returns the CID of data: CIDv1, raw codec, sha2-256.
func ShardCID(data []byte) cid.Cid {
	sum := sha256.Sum256(data)
	return cidFromDigest(sum[:])
}

func cidFromDigest(d []byte) cid.Cid {
	h, err := mh.Encode(d, mh.SHA2_256)
	if err != nil { // only for a wrong digest length, which callers rule out
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// digestOf returns the sha2-256 digest inside c, or an error if c is not a
// raw sha2-256 CIDv1.
func digestOf(c cid.Cid) ([]byte, error) {
	if !c.Defined() || c.Version() != 1 || c.Type() != cid.Raw {
		return nil, fmt.Errorf("shardcast: %v: not a CIDv1 raw", c)
	}
	d, err := mh.Decode(c.Hash())
	if err != nil || d.Code != mh.SHA2_256 || len(d.Digest) != sha256.Size {
		return nil, fmt.Errorf("shardcast: %v: not sha2-256", c)
	}
	return d.Digest, nil
}

// Sign signs m with the pool owner's key and sets Owner and Signature.
func (m *Manifest) Sign(key crypto.PrivKey) error {
	if key.Type() != pb.KeyType_Ed25519 {
		return fmt.Errorf("shardcast: sign manifest: key type %v, want Ed25519", key.Type())
	}
	m.Owner = key.GetPublic()
	body, err := m.encodeBody()
	if err != nil {
		return err
	}
	sig, err := key.Sign(append([]byte(signingDomain), body...))
	if err != nil {
		return fmt.Errorf("shardcast: sign manifest: %w", err)
	}
	m.Signature = sig
	return nil
}

// Encode returns the canonical signed encoding of m.
func (m *Manifest) Encode() ([]byte, error) {
	if len(m.Signature) == 0 {
		return nil, ErrManifestUnsigned
	}
	body, err := m.encodeBody()
	if err != nil {
		return nil, err
	}
	out := binary.AppendUvarint(body, uint64(len(m.Signature)))
	out = append(out, m.Signature...)
	if len(out) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrManifestTooLarge, len(out), MaxManifestSize)
	}
	return out, nil
}

// CID is the address of m: the CID of its encoding.
func (m *Manifest) CID() (cid.Cid, error) {
	b, err := m.Encode()
	if err != nil {
		return cid.Undef, err
	}
	return ShardCID(b), nil
}

// check validates everything but the signature.
func (m *Manifest) check() error {
	if err := checkPool(m.Pool); err != nil {
		return err
	}
	if m.ShardSize < MinShardSize || m.ShardSize > MaxShardSize {
		return fmt.Errorf("%w: shard size %d outside [%d, %d]", ErrManifestMalformed, m.ShardSize, MinShardSize, MaxShardSize)
	}
	if len(m.Files) == 0 || len(m.Files) > MaxFiles {
		return fmt.Errorf("%w: %d files, want 1..%d", ErrManifestMalformed, len(m.Files), MaxFiles)
	}
	var total uint64
	for i, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return err
		}
		if i > 0 {
			prev := m.Files[i-1].Path
			if prev >= f.Path {
				return fmt.Errorf("%w: files not sorted or duplicated at %q", ErrManifestMalformed, f.Path)
			}
			// A file and a directory of the same name cannot both exist.
			if strings.HasPrefix(f.Path, prev+"/") {
				return fmt.Errorf("%w: %q is both a file and a directory", ErrManifestMalformed, prev)
			}
		}
		if total+f.Size < total || total+f.Size > uint64(MaxShards)*uint64(m.ShardSize) {
			return fmt.Errorf("%w: checkpoint too large", ErrManifestMalformed)
		}
		total += f.Size
	}
	want := (total + uint64(m.ShardSize) - 1) / uint64(m.ShardSize)
	if uint64(len(m.Shards)) != want {
		return fmt.Errorf("%w: %d shards for %d bytes of shard size %d, want %d", ErrManifestMalformed, len(m.Shards), total, m.ShardSize, want)
	}
	for i, s := range m.Shards {
		exp := uint64(m.ShardSize)
		if i == len(m.Shards)-1 {
			exp = total - uint64(i)*uint64(m.ShardSize)
		}
		if uint64(s.Size) != exp {
			return fmt.Errorf("%w: shard %d has size %d, want %d", ErrManifestMalformed, i, s.Size, exp)
		}
		if _, err := digestOf(s.CID); err != nil {
			return fmt.Errorf("%w: shard %d: %v", ErrManifestMalformed, i, err)
		}
	}
	if m.Owner == nil {
		return ErrManifestUnsigned
	}
	if m.Owner.Type() != pb.KeyType_Ed25519 {
		return fmt.Errorf("%w: owner key type %v, want Ed25519", ErrManifestMalformed, m.Owner.Type())
	}
	return nil
}

func checkPool(p string) error {
	if p == "" || len(p) > MaxPoolLen || !utf8.ValidString(p) {
		return fmt.Errorf("%w: pool %q: want 1..%d bytes of UTF-8", ErrManifestMalformed, p, MaxPoolLen)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '/' {
			return fmt.Errorf("%w: pool %q: control character or '/'", ErrManifestMalformed, p)
		}
	}
	return nil
}

// checkPath accepts only paths that stay inside an output directory on every
// platform: relative, clean, slash-separated, no "..", no backslash, no NUL.
func checkPath(p string) error {
	bad := p == "" || len(p) > MaxPathLen || !utf8.ValidString(p) ||
		path.Clean(p) != p || path.IsAbs(p) || p == "." || p == ".." ||
		strings.HasPrefix(p, "../") || strings.ContainsAny(p, "\\:\x00")
	if !bad {
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." {
				bad = true
			}
		}
		for _, r := range p {
			if r < 0x20 || r == 0x7f {
				bad = true
			}
		}
	}
	if bad {
		return fmt.Errorf("%w: file path %q not allowed", ErrManifestMalformed, p)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeBody encodes everything the signature covers.
//
//	magic "OPSM", format byte 1
//	pool: uvarint length, bytes
//	version: uvarint
//	created: uvarint Unix milliseconds
//	shard size: uvarint
//	files: uvarint count, then per file: path (uvarint length, bytes), size (uvarint)
//	shards: uvarint count, then per shard: 32-byte sha2-256 digest, size (uvarint)
//	owner: uvarint length, libp2p-marshalled Ed25519 public key
//
// The signed encoding appends the signature (uvarint length, bytes). The
// signature is Ed25519 over signingDomain || body.
func (m *Manifest) encodeBody() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if m.Created.UnixMilli() < 0 {
		return nil, fmt.Errorf("%w: created before 1970", ErrManifestMalformed)
	}
	owner, err := crypto.MarshalPublicKey(m.Owner)
	if err != nil {
		return nil, fmt.Errorf("shardcast: encode owner key: %w", err)
	}
	b := make([]byte, 0, 64+len(m.Files)*40+len(m.Shards)*36+len(owner))
	b = append(b, manifestMagic...)
	b = append(b, ManifestFormat)
	b = appendString(b, m.Pool)
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendUvarint(b, uint64(m.Created.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(m.ShardSize))
	b = binary.AppendUvarint(b, uint64(len(m.Files)))
	for _, f := range m.Files {
		b = appendString(b, f.Path)
		b = binary.AppendUvarint(b, f.Size)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Shards)))
	for _, s := range m.Shards {
		d, _ := digestOf(s.CID) // checked above
		b = append(b, d...)
		b = binary.AppendUvarint(b, uint64(s.Size))
	}
	b = appendString(b, string(owner))
	return b, nil
}

// decoder reads a manifest and remembers the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(ErrManifestTruncated)
		return 0
	case n < 0:
		d.fail(fmt.Errorf("%w: varint overflow at byte %d", ErrManifestMalformed, d.off))
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) bytes(n uint64, limit int) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail(fmt.Errorf("%w: field of %d bytes at byte %d, limit %d", ErrManifestMalformed, n, d.off, limit))
		return nil
	}
	if uint64(len(d.b)-d.off) < n {
		d.fail(ErrManifestTruncated)
		return nil
	}
	out := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return out
}

// count reads a uvarint count of items that take at least minItem bytes each,
// and rejects counts the rest of the input cannot hold before allocating.
func (d *decoder) count(limit int, minItem int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) {
		d.fail(fmt.Errorf("%w: count %d, limit %d", ErrManifestMalformed, n, limit))
		return 0
	}
	if n*uint64(minItem) > uint64(len(d.b)-d.off) {
		d.fail(ErrManifestTruncated)
		return 0
	}
	return int(n)
}

// DecodeManifest decodes and verifies a signed manifest. It rejects input
// that is too large, truncated, malformed, not canonical, unsigned, or whose
// signature does not verify. If owner is not nil, the manifest must be signed
// by owner (ErrWrongSigner otherwise). The caller checks the pool.
func DecodeManifest(b []byte, owner crypto.PubKey) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrManifestTooLarge, len(b), MaxManifestSize)
	}
	if len(b) < len(manifestMagic)+1 {
		if bytes.HasPrefix(manifestMagic, b) {
			return nil, ErrManifestTruncated
		}
		return nil, fmt.Errorf("%w: bad magic", ErrManifestMalformed)
	}
	if !bytes.Equal(b[:len(manifestMagic)], manifestMagic) {
		return nil, fmt.Errorf("%w: bad magic", ErrManifestMalformed)
	}
	if b[len(manifestMagic)] != ManifestFormat {
		return nil, fmt.Errorf("%w %d (this node reads %d)", ErrManifestFormat, b[len(manifestMagic)], ManifestFormat)
	}
	d := &decoder{b: b, off: len(manifestMagic) + 1}
	m := &Manifest{}
	m.Pool = string(d.bytes(d.uvarint(), MaxPoolLen))
	m.Version = d.uvarint()
	created := d.uvarint()
	if created > 1<<53 {
		d.fail(fmt.Errorf("%w: created time out of range", ErrManifestMalformed))
	}
	m.Created = time.UnixMilli(int64(created)).UTC()
	ss := d.uvarint()
	if ss > MaxShardSize {
		d.fail(fmt.Errorf("%w: shard size %d, limit %d", ErrManifestMalformed, ss, MaxShardSize))
	}
	m.ShardSize = uint32(ss)
	nf := d.count(MaxFiles, 2)
	if d.err == nil {
		m.Files = make([]File, nf)
	}
	for i := 0; i < nf && d.err == nil; i++ {
		m.Files[i].Path = string(d.bytes(d.uvarint(), MaxPathLen))
		m.Files[i].Size = d.uvarint()
	}
	ns := d.count(MaxShards, sha256.Size+1)
	if d.err == nil {
		m.Shards = make([]Shard, ns)
	}
	for i := 0; i < ns && d.err == nil; i++ {
		dg := d.bytes(sha256.Size, sha256.Size)
		sz := d.uvarint()
		if d.err != nil {
			break
		}
		if sz > MaxShardSize {
			d.fail(fmt.Errorf("%w: shard %d size %d", ErrManifestMalformed, i, sz))
			break
		}
		m.Shards[i] = Shard{CID: cidFromDigest(dg), Size: uint32(sz)}
	}
	ownerBytes := d.bytes(d.uvarint(), 256)
	bodyEnd := d.off
	sigLen := d.uvarint()
	if d.err == nil && sigLen == 0 {
		return nil, ErrManifestUnsigned
	}
	m.Signature = bytes.Clone(d.bytes(sigLen, 256))
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrManifestMalformed, len(b)-d.off)
	}
	pk, err := crypto.UnmarshalPublicKey(ownerBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: owner key: %v", ErrManifestMalformed, err)
	}
	m.Owner = pk
	if err := m.check(); err != nil {
		return nil, err
	}
	// Canonical: re-encoding must give the same bytes (rules out non-minimal
	// varints and any other second spelling of the same manifest).
	body, err := m.encodeBody()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(body, b[:bodyEnd]) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrManifestMalformed)
	}
	ok, err := pk.Verify(append([]byte(signingDomain), body...), m.Signature)
	if err != nil || !ok {
		return nil, ErrBadSignature
	}
	if owner != nil && !owner.Equals(pk) {
		return nil, ErrWrongSigner
	}
	return m, nil
}
