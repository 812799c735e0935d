package shardcast

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// RetainVersions is how many checkpoint versions of each pool Prune keeps.
const RetainVersions = 5

// Errors of the store.
var (
	ErrHashMismatch  = errors.New("shardcast: shard bytes do not match its CID")
	ErrShardNotFound = errors.New("shardcast: shard not in store")
	ErrNotFound      = errors.New("shardcast: manifest not in store")
	ErrIncomplete    = errors.New("shardcast: checkpoint incomplete")
)

// Store keeps verified shards and manifests under one directory:
//
//	shards/<cid>     verified shard bytes, named by CID
//	manifests/<cid>  signed manifest encodings, named by CID
//	tmp/             files being written (removed on open)
//
// Every file is written to tmp/, fsynced and renamed into place, so a file
// under shards/ or manifests/ is always complete. It is safe for concurrent
// use by several Services (one per pool) in one process.
type Store struct {
	dir string
	mu  sync.Mutex // orders Prune against writes
	// pinned manifests are being fetched: Prune keeps their shards.
	pinned map[cid.Cid]int
	// verified remembers the shard files this Store hashed in full (when it
	// wrote them, or read them all), with the file's identity then.
	verified map[cid.Cid]verifiedFile
}

// reverifyAfter is how long a serve trusts a shard file that this Store
// hashed and that has not changed since (same inode, size and modification
// time): within it a serve reads only the range asked for and does not hash
// again (the receiver hashes every shard it gets, so a copy that rots on
// disk cannot be accepted anywhere); after it the next serve hashes the
// whole file again and removes a copy that no longer matches.
const reverifyAfter = 10 * time.Minute

type verifiedFile struct {
	fi os.FileInfo
	at time.Time
}

// OpenStore opens (creating if needed) a store in dir and removes leftovers
// of interrupted writes.
func OpenStore(dir string) (*Store, error) {
	for _, sub := range []string{"shards", "manifests", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("shardcast: open store: %w", err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("shardcast: open store: %w", err)
	}
	for _, e := range ents {
		_ = os.RemoveAll(filepath.Join(dir, "tmp", e.Name()))
	}
	return &Store{dir: dir, pinned: map[cid.Cid]int{}, verified: map[cid.Cid]verifiedFile{}}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) shardPath(c cid.Cid) string { return filepath.Join(s.dir, "shards", c.String()) }
func (s *Store) manifestPath(c cid.Cid) string {
	return filepath.Join(s.dir, "manifests", c.String())
}

// ShardWriter writes one shard to a temporary file, hashing as it goes.
// Commit verifies the hash and moves the file into the store; Abort throws
// it away.
type ShardWriter struct {
	s    *Store
	c    cid.Cid
	want []byte
	size int64
	n    int64
	f    *os.File
	h    hash.Hash
}

// NewShardWriter starts writing shard c of size bytes.
func (s *Store) NewShardWriter(c cid.Cid, size int64) (*ShardWriter, error) {
	d, err := digestOf(c)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > MaxShardSize {
		return nil, fmt.Errorf("shardcast: shard %v: size %d out of range", c, size)
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "shard-*")
	if err != nil {
		return nil, fmt.Errorf("shardcast: write shard %v: %w", c, err)
	}
	return &ShardWriter{s: s, c: c, want: d, size: size, f: f, h: sha256.New()}, nil
}

// Written is the number of bytes written so far.
func (w *ShardWriter) Written() int64 { return w.n }

// Write appends p; it fails if the shard would grow beyond its size.
func (w *ShardWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("shardcast: shard %v: writer closed", w.c)
	}
	if w.n+int64(len(p)) > w.size {
		return 0, fmt.Errorf("shardcast: shard %v: more than %d bytes", w.c, w.size)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Commit checks size and hash, syncs and renames the file into the store.
// On ErrHashMismatch the bytes are thrown away.
func (w *ShardWriter) Commit() error {
	defer w.Abort()
	if w.n != w.size {
		return fmt.Errorf("shardcast: shard %v: %d of %d bytes", w.c, w.n, w.size)
	}
	if !bytes.Equal(w.h.Sum(nil), w.want) {
		return fmt.Errorf("shardcast: shard %v: %w", w.c, ErrHashMismatch)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("shardcast: sync shard %v: %w", w.c, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("shardcast: close shard %v: %w", w.c, err)
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if err := os.Rename(w.f.Name(), w.s.shardPath(w.c)); err != nil {
		return fmt.Errorf("shardcast: store shard %v: %w", w.c, err)
	}
	w.f = nil
	if fi, err := os.Stat(w.s.shardPath(w.c)); err == nil {
		w.s.verified[w.c] = verifiedFile{fi: fi, at: time.Now()}
	}
	return syncDir(filepath.Join(w.s.dir, "shards"))
}

// Abort removes the temporary file; it is a no-op after Commit or Abort.
func (w *ShardWriter) Abort() {
	if w.f != nil {
		_ = w.f.Close()
		_ = os.Remove(w.f.Name())
		w.f = nil
	}
}

// open reports whether the writer can still take bytes.
func (w *ShardWriter) open() bool { return w.f != nil }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("shardcast: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("shardcast: sync %s: %w", dir, err)
	}
	return nil
}

// PutShard stores data as shard c after checking its hash.
func (s *Store) PutShard(c cid.Cid, data []byte) error {
	w, err := s.NewShardWriter(c, int64(len(data)))
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// HasShard reports whether shard c of size bytes is in the store. It does
// not read the bytes; VerifyShard does.
func (s *Store) HasShard(c cid.Cid, size int64) bool {
	st, err := os.Stat(s.shardPath(c))
	return err == nil && st.Mode().IsRegular() && st.Size() == size
}

// VerifyShard hashes the stored shard c and removes it if it does not match.
func (s *Store) VerifyShard(c cid.Cid, size int64) error {
	r, err := s.OpenShard(c, size)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return r.Verify()
}

// ShardReader reads a stored shard and hashes what it reads; Verify tells
// whether the bytes read so far (all of them, after a full read) match.
type ShardReader struct {
	s    *Store
	c    cid.Cid
	want []byte
	f    *os.File
	fi   os.FileInfo
	h    hash.Hash // nil: trusted (see trust)
	size int64
	n    int64
}

// OpenShard opens shard c, which must have size bytes.
func (s *Store) OpenShard(c cid.Cid, size int64) (*ShardReader, error) {
	d, err := digestOf(c)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.shardPath(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("shardcast: shard %v: %w", c, ErrShardNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("shardcast: open shard %v: %w", c, err)
	}
	st, err := f.Stat()
	if err != nil || st.Size() != size {
		f.Close()
		return nil, fmt.Errorf("shardcast: shard %v: wrong size: %w", c, ErrShardNotFound)
	}
	return &ShardReader{s: s, c: c, want: d, f: f, fi: st, h: sha256.New(), size: size}, nil
}

// trust stops hashing if this Store hashed the file in full less than
// reverifyAfter ago and the file has not changed since; it reports whether
// it did. A trusted reader may be read from any offset (ReadAt), and Verify
// accepts it without a full read. Only serving uses it: assembling a
// checkpoint (ReadShard) always hashes.
func (r *ShardReader) trust() bool {
	r.s.mu.Lock()
	v, ok := r.s.verified[r.c]
	r.s.mu.Unlock()
	if !ok || time.Since(v.at) > reverifyAfter || !os.SameFile(v.fi, r.fi) ||
		v.fi.Size() != r.fi.Size() || !v.fi.ModTime().Equal(r.fi.ModTime()) || r.n != 0 {
		return false
	}
	r.h = nil
	return true
}

func (r *ShardReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if r.h != nil {
		r.h.Write(p[:n])
	}
	r.n += int64(n)
	return n, err
}

// ReadAt reads a trusted reader's bytes at off.
func (r *ShardReader) ReadAt(p []byte, off int64) (int, error) {
	if r.h != nil {
		return 0, fmt.Errorf("shardcast: shard %v: ReadAt on a reader that hashes", r.c)
	}
	return r.f.ReadAt(p, off)
}

// Verify must be called after the whole shard was read (or on a trusted
// reader). A shard whose bytes no longer match (disk corruption) is removed
// from the store.
func (r *ShardReader) Verify() error {
	if r.h == nil {
		return nil
	}
	if r.n == r.size && bytes.Equal(r.h.Sum(nil), r.want) {
		r.s.mu.Lock()
		r.s.verified[r.c] = verifiedFile{fi: r.fi, at: time.Now()}
		r.s.mu.Unlock()
		return nil
	}
	r.s.mu.Lock()
	delete(r.s.verified, r.c)
	_ = os.Remove(r.s.shardPath(r.c))
	r.s.mu.Unlock()
	return fmt.Errorf("shardcast: stored shard %v: %w (removed)", r.c, ErrHashMismatch)
}

// Close closes the file.
func (r *ShardReader) Close() error { return r.f.Close() }

// ReadShard returns the verified bytes of shard c.
func (s *Store) ReadShard(c cid.Cid, size int64) ([]byte, error) {
	r, err := s.OpenShard(c, size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("shardcast: read shard %v: %w", c, err)
	}
	if err := r.Verify(); err != nil {
		return nil, err
	}
	return buf, nil
}

// PutManifest stores an encoded manifest (already decoded and verified by
// the caller) under its CID and returns the CID.
func (s *Store) PutManifest(enc []byte) (cid.Cid, error) {
	c := ShardCID(enc)
	if _, err := os.Stat(s.manifestPath(c)); err == nil {
		return c, nil
	}
	if err := s.writeFileAtomic(s.manifestPath(c), enc); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

func (s *Store) writeFileAtomic(dst string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "file-*")
	if err != nil {
		return fmt.Errorf("shardcast: write %s: %w", dst, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		return fmt.Errorf("shardcast: write %s: %w", dst, err)
	}
	return syncDir(filepath.Dir(dst))
}

// ManifestBytes returns the stored encoding of manifest c, checking that it
// still hashes to c.
func (s *Store) ManifestBytes(c cid.Cid) ([]byte, error) {
	b, err := os.ReadFile(s.manifestPath(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("shardcast: manifest %v: %w", c, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("shardcast: read manifest %v: %w", c, err)
	}
	if !ShardCID(b).Equals(c) {
		return nil, fmt.Errorf("shardcast: stored manifest %v: %w", c, ErrHashMismatch)
	}
	return b, nil
}

// Manifest loads and verifies manifest c; owner, if not nil, must have signed it.
func (s *Store) Manifest(c cid.Cid, owner crypto.PubKey) (*Manifest, error) {
	b, err := s.ManifestBytes(c)
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(b, owner)
	if err != nil {
		return nil, fmt.Errorf("shardcast: stored manifest %v: %w", c, err)
	}
	return m, nil
}

// Entry describes one stored manifest.
type Entry struct {
	CID        cid.Cid
	Manifest   *Manifest
	HaveShards int // shards present in the store (not re-hashed)
}

// Complete reports whether every shard is present.
func (e Entry) Complete() bool { return e.HaveShards == len(e.Manifest.Shards) }

// List returns every stored manifest, newest version first within a pool,
// pools in name order. Manifests that do not verify are skipped.
func (s *Store) List() ([]Entry, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "manifests"))
	if err != nil {
		return nil, fmt.Errorf("shardcast: list manifests: %w", err)
	}
	var out []Entry
	for _, e := range ents {
		c, err := cid.Decode(e.Name())
		if err != nil {
			continue
		}
		m, err := s.Manifest(c, nil)
		if err != nil {
			continue
		}
		have := 0
		for _, sh := range m.Shards {
			if s.HasShard(sh.CID, int64(sh.Size)) {
				have++
			}
		}
		out = append(out, Entry{CID: c, Manifest: m, HaveShards: have})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Manifest, out[j].Manifest
		if a.Pool != b.Pool {
			return a.Pool < b.Pool
		}
		if a.Version != b.Version {
			return a.Version > b.Version
		}
		return a.Created.After(b.Created)
	})
	return out, nil
}

func (s *Store) pin(c cid.Cid) {
	s.mu.Lock()
	s.pinned[c]++
	s.mu.Unlock()
}

func (s *Store) unpin(c cid.Cid) {
	s.mu.Lock()
	if s.pinned[c]--; s.pinned[c] <= 0 {
		delete(s.pinned, c)
	}
	s.mu.Unlock()
}

// Prune keeps the keep newest versions of pool (RetainVersions if keep <= 0)
// and removes older manifests, then every shard no remaining manifest of any
// pool refers to. Manifests being fetched are kept. It returns the CIDs of
// the removed manifests.
func (s *Store) Prune(pool string, keep int) ([]cid.Cid, error) {
	if keep <= 0 {
		keep = RetainVersions
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var removed []cid.Cid
	kept := 0
	// Versions, not manifests, are counted: two manifests of one version
	// (a re-publish) count once.
	var lastVersion uint64
	live := map[cid.Cid]bool{}
	for _, e := range all {
		if e.Manifest.Pool == pool && s.pinned[e.CID] == 0 {
			if kept == 0 || e.Manifest.Version != lastVersion {
				kept++
				lastVersion = e.Manifest.Version
			}
			if kept > keep {
				if err := os.Remove(s.manifestPath(e.CID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return removed, fmt.Errorf("shardcast: prune %v: %w", e.CID, err)
				}
				removed = append(removed, e.CID)
				continue
			}
		}
		for _, sh := range e.Manifest.Shards {
			live[sh.CID] = true
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, "shards"))
	if err != nil {
		return removed, fmt.Errorf("shardcast: prune: %w", err)
	}
	for _, e := range ents {
		c, err := cid.Decode(e.Name())
		if err == nil && live[c] {
			continue
		}
		if err == nil {
			delete(s.verified, c)
		}
		if err := os.Remove(filepath.Join(s.dir, "shards", e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("shardcast: prune shard %s: %w", e.Name(), err)
		}
	}
	return removed, nil
}

// Assemble writes the files of m under outDir, reading every shard from the
// store and verifying it first. Each file is written to a temporary name
// and renamed when complete. It returns ErrIncomplete if a shard is missing.
func (s *Store) Assemble(ctx context.Context, m *Manifest, outDir string) error {
	for _, sh := range m.Shards {
		if !s.HasShard(sh.CID, int64(sh.Size)) {
			return fmt.Errorf("shardcast: assemble: shard %v: %w", sh.CID, ErrIncomplete)
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("shardcast: assemble: %w", err)
	}
	stream := &shardStream{ctx: ctx, s: s, m: m}
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil { // decoded manifests are checked; be safe anyway
			return err
		}
		dst := filepath.Join(outDir, filepath.FromSlash(f.Path))
		if !strings.HasPrefix(dst, filepath.Clean(outDir)+string(filepath.Separator)) {
			return fmt.Errorf("shardcast: assemble: %q escapes %s", f.Path, outDir)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("shardcast: assemble: %w", err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".shardcast-*")
		if err != nil {
			return fmt.Errorf("shardcast: assemble: %w", err)
		}
		_, err = io.CopyN(tmp, stream, int64(f.Size))
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("shardcast: assemble %s: %w", f.Path, err)
		}
	}
	return nil
}

// shardStream reads the checkpoint's byte stream shard by shard, each
// shard verified in full before any of its bytes are returned.
type shardStream struct {
	ctx  context.Context
	s    *Store
	m    *Manifest
	next int
	buf  []byte
}

func (r *shardStream) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= len(r.m.Shards) {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		sh := r.m.Shards[r.next]
		b, err := r.s.ReadShard(sh.CID, int64(sh.Size))
		if err != nil {
			return 0, err
		}
		r.buf = b
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
