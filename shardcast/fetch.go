package shardcast

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNoSources is returned when no peer is known to hold what is fetched
// and the context ends.
var ErrNoSources = errors.New("shardcast: no peer has it")

func isBusy(err error) bool {
	return errors.Is(err, ErrPeerBusy) || errors.Is(err, context.Canceled)
}

// deferFor is how long a peer that deferred a shard is not asked for it.
const deferFor = 2 * time.Second

// Fetch obtains manifest c and every shard of it, and returns the manifest
// once all shards are verified and stored. The manifest must be signed by
// the pool owner and be of this pool. Shards already in the store are
// hashed and kept (a fetch resumes); shards are served to other peers as
// soon as they are verified. Concurrent calls for one manifest share one
// fetch. Fetch returns when ctx ends, with the shards fetched so far kept.
func (s *Service) Fetch(ctx context.Context, c cid.Cid) (*Manifest, error) {
	if _, err := digestOf(c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	t := s.trackLocked(c)
	if fc := t.fetch; fc != nil {
		s.mu.Unlock()
		select {
		case <-fc.done:
			return fc.m, fc.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	fc := &fetchCall{done: make(chan struct{})}
	t.fetch = fc
	s.mu.Unlock()

	fc.m, fc.err = s.fetch(ctx, t)
	s.mu.Lock()
	t.fetch = nil
	s.mu.Unlock()
	close(fc.done)
	return fc.m, fc.err
}

func (s *Service) fetch(ctx context.Context, t *tracked) (*Manifest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	s.store.pin(t.c)
	defer s.store.unpin(t.c)

	wrap := func(err error) error {
		if s.ctx.Err() != nil {
			return ErrClosed
		}
		return fmt.Errorf("shardcast: fetch %v: %w", t.c, err)
	}
	m, err := s.fetchManifest(ctx, t)
	if err != nil {
		return nil, wrap(err)
	}
	own := newBitmap(len(m.Shards))
	need := 0
	for i, sh := range m.Shards {
		if s.store.HasShard(sh.CID, int64(sh.Size)) && s.store.VerifyShard(sh.CID, int64(sh.Size)) == nil {
			own.set(i)
		} else {
			need++
		}
	}
	s.mu.Lock()
	s.setManifestLocked(t, m, own)
	for p, bm := range t.holders {
		if bm != nil && len(bm) != len(own) {
			delete(t.holders, p)
		}
	}
	t.haveDue = true
	t.signal()
	s.mu.Unlock()

	f := &fetchRun{s: s, t: t, m: m, need: need, same: repeatedShards(m), inflight: make([]int, len(m.Shards)), running: map[int][]*attempt{}, partials: map[int]*partial{}, deferred: map[int]map[peer.ID]time.Time{}}
	if err := f.run(ctx); err != nil {
		return nil, wrap(err)
	}
	s.mu.Lock()
	if !s.latest.Defined() || m.Version >= s.latestV {
		s.latest, s.latestV = t.c, m.Version
	}
	t.haveDue = true
	s.mu.Unlock()
	s.prune()
	return m, nil
}

// fetchManifest gets the manifest from the store or from a holder.
func (s *Service) fetchManifest(ctx context.Context, t *tracked) (*Manifest, error) {
	for {
		if b, err := s.store.ManifestBytes(t.c); err == nil {
			return s.checkManifest(b)
		}
		s.mu.Lock()
		holders := make([]peer.ID, 0, len(t.holders))
		for p := range t.holders {
			holders = append(holders, p)
		}
		ch := t.changed
		s.mu.Unlock()
		p := peer.ID("")
		if len(holders) > 0 {
			p = s.src.pick(holders, time.Now())
		}
		if p == "" {
			s.mu.Lock()
			if time.Since(t.lastHave) >= wantInterval {
				t.haveDue = true // ask holders to speak up
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				if len(holders) == 0 {
					return nil, fmt.Errorf("%w: %w", ErrNoSources, ctx.Err())
				}
				return nil, ctx.Err()
			case <-ch:
			case <-time.After(busyBackoff):
			}
			continue
		}
		s.src.start(p)
		t0 := time.Now()
		b, err := s.requestManifest(ctx, p, t.c)
		s.src.done(p, int64(len(b)), time.Since(t0), err, time.Now())
		if err != nil {
			s.log.Debug("shardcast: manifest request failed", "peer", p, "err", err)
			continue
		}
		if !ShardCID(b).Equals(t.c) {
			s.cnt.badManifests.Add(1)
			s.src.ban(p)
			s.log.Warn("shardcast: peer sent a manifest that does not match its CID; banned", "peer", p, "manifest", t.c)
			continue
		}
		m, err := s.checkManifest(b)
		if err != nil {
			// The bytes are what the CID names: the manifest itself is bad,
			// and every other peer would send the same.
			s.cnt.badManifests.Add(1)
			return nil, err
		}
		if _, err := s.store.PutManifest(b); err != nil {
			return nil, err
		}
		return m, nil
	}
}

func (s *Service) checkManifest(b []byte) (*Manifest, error) {
	m, err := DecodeManifest(b, s.owner)
	if err != nil {
		return nil, err
	}
	if m.Pool != s.pool {
		return nil, fmt.Errorf("%w: %q, this is %q", ErrWrongPool, m.Pool, s.pool)
	}
	return m, nil
}

// partial is a shard being received, possibly from several sources in turn
// (byte ranges after a stall).
type partial struct {
	w    *ShardWriter
	from map[peer.ID]bool
}

// fetchRun is one fetch's shard scheduler. Its fields are guarded by s.mu.
type fetchRun struct {
	s        *Service
	t        *tracked
	m        *Manifest
	need     int
	inflight []int // downloads in progress per shard (2 in the end game)
	running  map[int][]*attempt
	partials map[int]*partial
	deferred map[int]map[peer.ID]time.Time // shard -> peers that deferred it, until
	same     map[int][]int                 // repeated shards: index -> all its indexes
}

func (f *fetchRun) run(ctx context.Context) error {
	defer func() {
		f.s.mu.Lock()
		for _, p := range f.partials {
			p.w.Abort()
		}
		f.s.mu.Unlock()
	}()
	errc := make(chan error, f.s.cfg.parallel)
	for range f.s.cfg.parallel {
		go func() { errc <- f.worker(ctx) }()
	}
	var first error
	for range f.s.cfg.parallel {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// attempt is one download in progress.
type attempt struct {
	p      peer.ID
	cancel context.CancelFunc
}

func (f *fetchRun) worker(ctx context.Context) error {
	s := f.s
	for {
		s.mu.Lock()
		if f.need == 0 {
			s.mu.Unlock()
			return nil
		}
		i, p, dup := f.pickLocked(time.Now())
		if i < 0 {
			if time.Since(f.t.lastHave) >= wantInterval && !f.anySourceLocked() {
				f.t.haveDue = true
			}
			ch := f.t.changed
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			case <-time.After(busyBackoff):
			}
			continue
		}
		dctx, dcancel := context.WithCancel(ctx)
		a := &attempt{p: p, cancel: dcancel}
		f.inflight[i]++
		f.running[i] = append(f.running[i], a)
		var part *partial
		if !dup {
			part = f.partials[i]
			delete(f.partials, i)
		}
		s.mu.Unlock()

		s.cnt.downloads.Add(1)
		part, err := f.download(dctx, i, p, part)
		s.cnt.downloads.Add(-1)

		s.mu.Lock()
		f.inflight[i]--
		f.running[i] = slices.DeleteFunc(f.running[i], func(b *attempt) bool { return b == a })
		// Canceled because another download of the same shard won.
		lost := err != nil && dctx.Err() != nil && ctx.Err() == nil
		dcancel()
		switch {
		case err == nil:
			// Every shard of the same bytes is now held too.
			for _, j := range f.sameLocked(i) {
				if !f.t.own.has(j) {
					f.t.own.set(j)
					f.need--
				}
			}
			for _, b := range f.running[i] {
				b.cancel() // the end game's other copy
			}
			f.t.haveDue = true
			s.cnt.shardsFetched.Add(1)
		case lost:
		case errors.Is(err, ErrHashMismatch):
			s.cnt.hashFailures.Add(1)
			if part != nil && len(part.from) == 1 {
				s.src.ban(p)
				s.log.Warn("shardcast: peer sent bad shard bytes; banned", "peer", p, "shard", f.m.Shards[i].CID)
			} else if part != nil {
				for q := range part.from {
					s.src.penalize(q)
				}
			}
		case errors.Is(err, ErrPeerNotFound):
			f.dropHolderLocked(p, i)
		case errors.Is(err, ErrPeerBusy):
			s.cnt.busy.Add(1)
		case errors.Is(err, ErrPeerDefer):
			if f.deferred[i] == nil {
				f.deferred[i] = map[peer.ID]time.Time{}
			}
			f.deferred[i][p] = time.Now().Add(deferFor)
		case ctx.Err() == nil:
			s.cnt.failed.Add(1)
		}
		if err != nil && !lost && ctx.Err() == nil {
			s.log.Debug("shardcast: shard request failed", "peer", p, "shard", i, "err", err)
		}
		if err != nil && part != nil && part.w.open() {
			if part.w.Written() > 0 && !lost && f.partials[i] == nil && !f.t.own.has(i) {
				f.partials[i] = part
			} else {
				part.w.Abort()
			}
		}
		f.t.signal()
		s.mu.Unlock()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (f *fetchRun) anySourceLocked() bool {
	for range f.t.holders {
		return true
	}
	return false
}

// dropHolderLocked records that p does not have shard i after all.
func (f *fetchRun) dropHolderLocked(p peer.ID, i int) {
	bm, ok := f.t.holders[p]
	if !ok {
		return
	}
	if bm == nil {
		bm = newBitmap(len(f.m.Shards))
		for j := range f.m.Shards {
			bm.set(j)
		}
	}
	bm[i/8] &^= 1 << (i % 8)
	f.t.holders[p] = bm
}

// sameLocked returns the indexes of the shards of f's manifest with the
// same CID as shard i (i included): a checkpoint may repeat a shard.
func (f *fetchRun) sameLocked(i int) []int {
	if f.same[i] == nil {
		return []int{i}
	}
	return f.same[i]
}

// repeatedShards maps each shard that occurs more than once in m to all
// its indexes (computed once: the scheduler asks for every pick).
func repeatedShards(m *Manifest) map[int][]int {
	byCID := map[cid.Cid][]int{}
	for i, sh := range m.Shards {
		byCID[sh.CID] = append(byCID[sh.CID], i)
	}
	out := map[int][]int{}
	for _, idx := range byCID {
		if len(idx) > 1 {
			for _, i := range idx {
				out[i] = idx
			}
		}
	}
	return out
}

// pickLocked chooses a source first, then a shard: the source is drawn
// by weight (sources.pick) among the peers that have some shard we need and
// may be asked now; the shard is the rarest of those it has (ties broken at
// random). Choosing the source first keeps every uplink that has something
// to give busy; choosing the shard by rarity keeps the swarm's shards
// diverse, so that every peer has something to give.
func (f *fetchRun) pickLocked(now time.Time) (int, peer.ID, bool) {
	avail := make([]int, len(f.m.Shards))
	fresh := 0
	for i := range f.m.Shards {
		if f.t.own.has(i) || f.inflight[i] > 0 {
			avail[i] = -1
			continue
		}
		if busy := f.same[i] != nil && slices.ContainsFunc(f.same[i], func(j int) bool { return f.inflight[j] > 0 }); busy {
			avail[i] = -1 // the same bytes are on their way
			continue
		}
		fresh++
		for _, bm := range f.t.holders {
			if bm == nil || bm.has(i) {
				avail[i]++
			}
		}
	}
	if fresh == 0 {
		return f.endgameLocked(now)
	}
	wanted := func(p peer.ID, bm bitmap, i int) bool {
		return avail[i] > 0 && (bm == nil || bm.has(i)) && !now.Before(f.deferred[i][p])
	}
	var peers []peer.ID
	for p, bm := range f.t.holders {
		for i := range f.m.Shards {
			if wanted(p, bm, i) {
				peers = append(peers, p)
				break
			}
		}
	}
	p := f.s.src.pick(peers, now)
	if p == "" {
		return -1, "", false
	}
	bm := f.t.holders[p]
	best, ties := -1, 0
	for i := range f.m.Shards {
		if !wanted(p, bm, i) {
			continue
		}
		switch {
		case best < 0 || avail[i] < avail[best]:
			best, ties = i, 1
		case avail[i] == avail[best]:
			// Reservoir sampling: each of the rarest is equally likely.
			if ties++; rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best, p, false
}

// endgameLocked, once every missing shard is being downloaded, picks one
// of them to download a second time from another source: the first copy to
// arrive wins and cancels the other. A last shard on a slow or dying source
// then no longer holds up the whole checkpoint.
func (f *fetchRun) endgameLocked(now time.Time) (int, peer.ID, bool) {
	var peers []peer.ID
	can := func(p peer.ID, bm bitmap, i int) bool {
		if f.t.own.has(i) || f.inflight[i] != 1 || !(bm == nil || bm.has(i)) || now.Before(f.deferred[i][p]) {
			return false
		}
		return !slices.ContainsFunc(f.running[i], func(a *attempt) bool { return a.p == p })
	}
	for p, bm := range f.t.holders {
		for i := range f.m.Shards {
			if can(p, bm, i) {
				peers = append(peers, p)
				break
			}
		}
	}
	p := f.s.src.pick(peers, now)
	if p == "" {
		return -1, "", false
	}
	bm := f.t.holders[p]
	var cands []int
	for i := range f.m.Shards {
		if can(p, bm, i) {
			cands = append(cands, i)
		}
	}
	return cands[rand.IntN(len(cands))], p, true
}

// download receives shard i (or the rest of it, continuing part) from p and
// commits it to the store. It returns the partial shard on failure.
func (f *fetchRun) download(ctx context.Context, i int, p peer.ID, part *partial) (*partial, error) {
	s := f.s
	sh := f.m.Shards[i]
	if part == nil {
		w, err := s.store.NewShardWriter(sh.CID, int64(sh.Size))
		if err != nil {
			return nil, err
		}
		part = &partial{w: w, from: map[peer.ID]bool{}}
	}
	off := uint64(part.w.Written())
	s.src.start(p)
	t0 := time.Now()
	n, err := s.requestShard(ctx, p, sh.CID, off, uint64(sh.Size)-off, part.w)
	s.src.done(p, n, time.Since(t0), err, time.Now())
	if n > 0 {
		part.from[p] = true
	}
	if err != nil {
		return part, err
	}
	if err := part.w.Commit(); err != nil {
		return part, err
	}
	return nil, nil
}

func (s *Service) openStream(ctx context.Context, p peer.ID) (network.Stream, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	st, err := s.h.NewStream(cctx, p, s.proto)
	if err != nil {
		return nil, fmt.Errorf("shardcast: open stream to %s: %w", p, err)
	}
	return st, nil
}

func (s *Service) sendRequest(ctx context.Context, p peer.ID, req request) (network.Stream, *bufio.Reader, func() bool, error) {
	st, err := s.openStream(ctx, p)
	if err != nil {
		return nil, nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.stallTimeout))
	if _, err := st.Write(req.encode()); err != nil {
		stop()
		_ = st.Reset()
		return nil, nil, nil, fmt.Errorf("shardcast: request to %s: %w", p, err)
	}
	_ = st.CloseWrite()
	return st, bufio.NewReaderSize(st, chunkSize), stop, nil
}

// requestManifest asks p for manifest c.
func (s *Service) requestManifest(ctx context.Context, p peer.ID, c cid.Cid) ([]byte, error) {
	st, br, stop, err := s.sendRequest(ctx, p, request{op: opManifest, cid: c})
	if err != nil {
		return nil, err
	}
	defer stop()
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(s.cfg.stallTimeout))
	n, err := readResponseHeader(br, MaxManifestSize)
	if err != nil {
		_ = st.Reset()
		return nil, err
	}
	b := make([]byte, 0, min(n, 1<<20))
	lr := &stallReader{r: io.LimitReader(br, int64(n)), st: st, stall: s.cfg.stallTimeout}
	b, err = appendAll(b, lr)
	if err != nil || uint64(len(b)) != n {
		_ = st.Reset()
		return nil, fmt.Errorf("shardcast: manifest from %s: %w", p, errOr(err, io.ErrUnexpectedEOF))
	}
	return b, nil
}

func appendAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// requestShard asks p for length bytes of shard c from offset and writes
// them to w. It returns how many bytes it wrote. The response counts only
// if the peer then ends the stream cleanly (a peer whose own copy turns
// out corrupt resets it instead).
func (s *Service) requestShard(ctx context.Context, p peer.ID, c cid.Cid, offset, length uint64, w io.Writer) (int64, error) {
	st, br, stop, err := s.sendRequest(ctx, p, request{op: opShard, cid: c, offset: offset, length: length})
	if err != nil {
		return 0, err
	}
	defer stop()
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(s.cfg.stallTimeout))
	n, err := readResponseHeader(br, length)
	if err == nil && n != length {
		err = fmt.Errorf("%w: %d bytes, asked for %d", ErrBadResponse, n, length)
	}
	if err != nil {
		_ = st.Reset()
		return 0, fmt.Errorf("shardcast: shard %v from %s: %w", c, p, err)
	}
	sr := &stallReader{r: br, st: st, stall: s.cfg.stallTimeout}
	buf := make([]byte, chunkSize)
	var got int64
	for uint64(got) < length {
		k, rerr := sr.Read(buf[:min(uint64(len(buf)), length-uint64(got))])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				_ = st.Reset()
				return got, werr
			}
			got += int64(k)
			s.cnt.bytesFetched.Add(int64(k))
		}
		if rerr != nil {
			_ = st.Reset()
			if ctx.Err() != nil {
				return got, ctx.Err()
			}
			return got, fmt.Errorf("shardcast: shard %v from %s after %d bytes: %w", c, p, got, errOr(rerr, io.ErrUnexpectedEOF))
		}
	}
	if _, err := sr.Read(buf[:1]); err != io.EOF {
		_ = st.Reset()
		return got, fmt.Errorf("shardcast: shard %v from %s: no clean end of response: %w", c, p, errOr(err, ErrBadResponse))
	}
	return got, nil
}

// stallReader extends the read deadline while bytes arrive: the transfer
// fails only after stall without progress.
type stallReader struct {
	r     io.Reader
	st    network.Stream
	stall time.Duration
	set   time.Time
}

func (r *stallReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(r.set) > r.stall/8 {
		r.set = now
		_ = r.st.SetReadDeadline(now.Add(r.stall))
	}
	return r.r.Read(p)
}
