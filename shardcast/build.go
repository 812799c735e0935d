package shardcast

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// ErrBadCheckpoint is returned for a checkpoint path that cannot be published
// (missing, empty, a symlink or device inside, too many files).
var ErrBadCheckpoint = errors.New("shardcast: bad checkpoint path")

type buildConfig struct {
	shardSize int
	created   time.Time
}

// BuildOption configures Build.
type BuildOption func(*buildConfig) error

// WithShardSize sets the shard size (MinShardSize..MaxShardSize; default
// DefaultShardSize).
func WithShardSize(n int) BuildOption {
	return func(c *buildConfig) error {
		if n < MinShardSize || n > MaxShardSize {
			return fmt.Errorf("shardcast: shard size %d outside [%d, %d]", n, MinShardSize, MaxShardSize)
		}
		c.shardSize = n
		return nil
	}
}

// WithCreated sets the manifest's creation time (default: now).
func WithCreated(t time.Time) BuildOption {
	return func(c *buildConfig) error { c.created = t; return nil }
}

// Build cuts the file or directory src into shards, stores them in st, and
// returns the manifest of checkpoint version of pool, signed with key (the
// pool owner's), stored in st too. A single file is named by its base name;
// a directory's regular files by their paths relative to it.
func Build(ctx context.Context, st *Store, key crypto.PrivKey, pool string, version uint64, src string, opts ...BuildOption) (*Manifest, cid.Cid, error) {
	cfg := buildConfig{shardSize: DefaultShardSize, created: time.Now()}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, cid.Undef, err
		}
	}
	files, paths, err := listCheckpoint(src)
	if err != nil {
		return nil, cid.Undef, err
	}
	m := &Manifest{
		Pool:      pool,
		Version:   version,
		Created:   time.UnixMilli(cfg.created.UnixMilli()).UTC(),
		ShardSize: uint32(cfg.shardSize),
		Files:     files,
	}
	if err := checkPool(pool); err != nil {
		return nil, cid.Undef, err
	}
	var total uint64
	for _, f := range files {
		total += f.Size
	}
	if total > uint64(MaxShards)*uint64(cfg.shardSize) {
		return nil, cid.Undef, fmt.Errorf("%w: %d bytes need more than %d shards of %d bytes; choose a larger shard size", ErrBadCheckpoint, total, MaxShards, cfg.shardSize)
	}
	// Read the files as one stream and cut it into shards.
	r := &multiFileReader{paths: paths, sizes: files}
	defer r.Close()
	buf := make([]byte, cfg.shardSize)
	for left := total; left > 0; {
		if err := ctx.Err(); err != nil {
			return nil, cid.Undef, err
		}
		n := uint64(cfg.shardSize)
		if left < n {
			n = left
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return nil, cid.Undef, fmt.Errorf("shardcast: read checkpoint: %w", err)
		}
		sum := sha256.Sum256(buf[:n])
		c := cidFromDigest(sum[:])
		if !st.HasShard(c, int64(n)) {
			if err := st.PutShard(c, buf[:n]); err != nil {
				return nil, cid.Undef, err
			}
		}
		m.Shards = append(m.Shards, Shard{CID: c, Size: uint32(n)})
		left -= n
	}
	if err := m.Sign(key); err != nil {
		return nil, cid.Undef, err
	}
	enc, err := m.Encode()
	if err != nil {
		return nil, cid.Undef, err
	}
	c, err := st.PutManifest(enc)
	if err != nil {
		return nil, cid.Undef, err
	}
	return m, c, nil
}

// listCheckpoint returns the files of src in manifest order and their paths
// on disk.
func listCheckpoint(src string) ([]File, []string, error) {
	st, err := os.Lstat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if st.Mode().IsRegular() {
		f := File{Path: filepath.Base(src), Size: uint64(st.Size())}
		if err := checkPath(f.Path); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
		}
		return []File{f}, []string{src}, nil
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%w: %s is neither a regular file nor a directory", ErrBadCheckpoint, src)
	}
	type item struct {
		f    File
		disk string
	}
	var items []item
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrBadCheckpoint, p)
		}
		if len(items) >= MaxFiles {
			return fmt.Errorf("%w: more than %d files", ErrBadCheckpoint, MaxFiles)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		f := File{Path: filepath.ToSlash(rel), Size: uint64(info.Size())}
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
		}
		items = append(items, item{f, p})
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrBadCheckpoint) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("%w: %s has no files", ErrBadCheckpoint, src)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].f.Path < items[j].f.Path })
	files := make([]File, len(items))
	paths := make([]string, len(items))
	for i, it := range items {
		files[i], paths[i] = it.f, it.disk
	}
	return files, paths, nil
}

// multiFileReader reads files one after another, each exactly its listed
// size (a file that changed size while being read is an error).
type multiFileReader struct {
	paths []string
	sizes []File
	i     int
	cur   *os.File
	left  int64
}

func (r *multiFileReader) Read(p []byte) (int, error) {
	for r.cur == nil || r.left == 0 {
		if r.cur != nil {
			r.cur.Close()
			r.cur = nil
		}
		if r.i >= len(r.paths) {
			return 0, io.EOF
		}
		f, err := os.Open(r.paths[r.i])
		if err != nil {
			return 0, err
		}
		r.cur, r.left = f, int64(r.sizes[r.i].Size)
		r.i++
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.cur.Read(p)
	r.left -= int64(n)
	if err == io.EOF {
		if r.left > 0 {
			return n, fmt.Errorf("%s shrank while being read", r.cur.Name())
		}
		err = nil
	}
	return n, err
}

func (r *multiFileReader) Close() {
	if r.cur != nil {
		r.cur.Close()
	}
}
