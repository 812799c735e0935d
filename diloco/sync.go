package diloco

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// StateProtocolPrefix is the prefix of the per-pool outer-state protocol:
// /openpool/diloco/state/1.0.0/<pool>. One stream carries one request:
//
//	'H'               -> head: status(1) | step(8) | applied(8) | elems(8) | layout(32) | hash(32)
//	'S' | hash(32)    -> state: status(1) | step(8) | applied(8) | elems(8) | weights(4*elems) | momentum(4*elems)
//
// Integers are little-endian, float32 values IEEE-754 little-endian. Status
// 0 is OK; 1 means the peer has no state yet (head) or no longer holds the
// state named by hash (it moved on; ask again).
const StateProtocolPrefix = "/openpool/diloco/state/1.0.0/"

const (
	stateOK     = 0
	stateAbsent = 1
	headLen     = 1 + 8 + 8 + 8 + 32 + 32
)

// Head names an outer state: the start of outer step Step after Applied
// successful outer steps, with Hash the SHA-256 of the step, the applied
// count, the layout, the weights and the momentum buffer (StateHash).
type Head struct {
	Step    uint64
	Applied uint64
	Hash    [32]byte
}

// better reports whether h should replace o in a pool: more applied outer
// steps first (progress is never given up, and a skipped round loses to an
// applied one), then the later step, then more peers holding it, then the
// smaller hash, so that every peer that sees the same heads picks the same
// one. A peer cannot apply a round alone while it knows other members
// (ErrAlone), so applied steps are the pool's, not one peer's.
func (h Head) better(hSupport int, o Head, oSupport int) bool {
	if h.Applied != o.Applied {
		return h.Applied > o.Applied
	}
	if h.Step != o.Step {
		return h.Step > o.Step
	}
	if hSupport != oSupport {
		return hSupport > oSupport
	}
	return slices.Compare(h.Hash[:], o.Hash[:]) < 0
}

func (h Head) String() string {
	return fmt.Sprintf("step %d applied %d %s", h.Step, h.Applied, hex.EncodeToString(h.Hash[:6]))
}

// StateHash hashes an outer state. A nil momentum counts as zeros (an
// optimizer that has not stepped yet equals one with a zero buffer).
func StateHash(step, applied uint64, layout [32]byte, weights, momentum []float32) [32]byte {
	h := sha256.New()
	var hdr [24]byte
	binary.LittleEndian.PutUint64(hdr[0:], step)
	binary.LittleEndian.PutUint64(hdr[8:], applied)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(weights)))
	h.Write([]byte("openpool/diloco/state/1\x00"))
	h.Write(layout[:])
	h.Write(hdr[:])
	h.Write(f32bytes(weights))
	if momentum == nil {
		zero := make([]byte, 64<<10)
		for n := 4 * len(weights); n > 0; n -= len(zero) {
			h.Write(zero[:min(n, len(zero))])
		}
	} else {
		h.Write(f32bytes(momentum))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// StateSync serves this worker's outer state (start weights, momentum,
// step) to the pool's other workers and fetches theirs, so that a worker
// that missed a round, joined late, restarted from an old state file or was
// cut off by a partition adopts the pool's state instead of averaging on
// top of different weights for good. Rounds only group workers that start
// from the same state (the state hash is part of the round spec).
//
// Trust: a fetched state is checked against the hash its sender announced,
// which guards against corruption, not against an admitted member that
// lies; the pool's admission (WithSyncAdmit) decides whom to believe, as it
// decides whose pseudo-gradients are averaged.
type StateSync struct {
	h     host.Host
	proto protocol.ID
	cfg   syncConfig
	log   *slog.Logger
	sem   chan struct{}

	mu      sync.RWMutex // guards the bound state and stats; the Worker writes under it
	stats   SyncStats
	bound   bool
	layout  [32]byte
	head    Head
	weights []float32
	mom     []float32
}

type syncConfig struct {
	log          *slog.Logger
	members      func() []peer.ID
	admit        func(peer.ID) bool
	queryTimeout time.Duration
	readTimeout  time.Duration
	maxPeers     int
	maxServing   int
}

// SyncOption configures a StateSync.
type SyncOption func(*syncConfig) error

// WithSyncLogger sets the logger.
func WithSyncLogger(l *slog.Logger) SyncOption {
	return func(c *syncConfig) error { c.log = l; return nil }
}

// WithSyncMembers gives the pool's live members, the peers asked for their
// state.
func WithSyncMembers(f func() []peer.ID) SyncOption {
	return func(c *syncConfig) error { c.members = f; return nil }
}

// WithSyncAdmit restricts whom states are served to and fetched from.
func WithSyncAdmit(f func(peer.ID) bool) SyncOption {
	return func(c *syncConfig) error { c.admit = f; return nil }
}

// WithSyncTimeouts sets the bound of a head query (default 2 s) and of
// every read of a state transfer (default 10 s).
func WithSyncTimeouts(query, read time.Duration) SyncOption {
	return func(c *syncConfig) error {
		if query <= 0 || read <= 0 {
			return fmt.Errorf("diloco: sync timeouts %v, %v must be positive", query, read)
		}
		c.queryTimeout, c.readTimeout = query, read
		return nil
	}
}

// SyncStats counts what a StateSync did.
type SyncStats struct {
	Adopted     int  // states fetched from peers and installed
	LastAdopted Head // the last one installed
	Served      int  // states served to peers
	Failed      int  // fetches that failed (bad hash, peer gone, timeout)
}

// Stats returns the counters.
func (s *StateSync) Stats() SyncStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

// NewStateSync registers the pool's state protocol on h; Close removes it.
func NewStateSync(h host.Host, pool string, opts ...SyncOption) (*StateSync, error) {
	cfg := syncConfig{log: slog.Default(), queryTimeout: 2 * time.Second, readTimeout: 10 * time.Second, maxPeers: 32, maxServing: 4}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if pool == "" {
		return nil, errors.New("diloco: state sync needs a pool")
	}
	s := &StateSync{h: h, proto: protocol.ID(StateProtocolPrefix + pool), cfg: cfg, log: cfg.log, sem: make(chan struct{}, cfg.maxServing)}
	h.SetStreamHandler(s.proto, s.handle)
	return s, nil
}

// Close stops serving.
func (s *StateSync) Close() error {
	s.h.RemoveStreamHandler(s.proto)
	return nil
}

// bind makes weights and momentum (owned by the Worker, which changes them
// only inside update) the served state.
func (s *StateSync) bind(layout [32]byte, step, applied uint64, weights, momentum []float32) Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bound, s.layout, s.weights, s.mom = true, layout, weights, momentum
	s.head = Head{Step: step, Applied: applied, Hash: StateHash(step, applied, layout, weights, momentum)}
	return s.head
}

// update runs f, which changes the bound slices in place and returns the
// new step and applied count, with serving locked out.
func (s *StateSync) update(f func() (step, applied uint64)) Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	step, applied := f()
	s.head = Head{Step: step, Applied: applied, Hash: StateHash(step, applied, s.layout, s.weights, s.mom)}
	return s.head
}

// Head returns the state this worker serves.
func (s *StateSync) Head() Head {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

func (s *StateSync) handle(st network.Stream) {
	defer st.Close()
	if s.cfg.admit != nil && !s.cfg.admit(st.Conn().RemotePeer()) {
		_ = st.Reset()
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		_ = st.Reset() // busy: the asker tries another peer
		return
	}
	_ = st.SetReadDeadline(time.Now().Add(s.cfg.queryTimeout))
	var req [33]byte
	if _, err := io.ReadFull(st, req[:1]); err != nil {
		_ = st.Reset()
		return
	}
	switch req[0] {
	case 'H':
		s.mu.RLock()
		b := s.headBytes()
		s.mu.RUnlock()
		_ = st.SetWriteDeadline(time.Now().Add(s.cfg.queryTimeout))
		_, _ = st.Write(b)
	case 'S':
		if _, err := io.ReadFull(st, req[1:]); err != nil {
			_ = st.Reset()
			return
		}
		if err := s.serveState(st, [32]byte(req[1:])); err != nil {
			s.log.Debug("diloco: serving state failed", "peer", st.Conn().RemotePeer(), "err", err)
			_ = st.Reset()
			return
		}
		s.mu.Lock()
		s.stats.Served++
		s.mu.Unlock()
	default:
		_ = st.Reset()
	}
}

// headBytes encodes the head response; the caller holds s.mu.
func (s *StateSync) headBytes() []byte {
	b := make([]byte, 0, headLen)
	if !s.bound {
		return append(b, stateAbsent)
	}
	b = append(b, stateOK)
	b = binary.LittleEndian.AppendUint64(b, s.head.Step)
	b = binary.LittleEndian.AppendUint64(b, s.head.Applied)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.weights)))
	b = append(b, s.layout[:]...)
	return append(b, s.head.Hash[:]...)
}

func (s *StateSync) serveState(st network.Stream, want [32]byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.bound || s.head.Hash != want {
		_ = st.SetWriteDeadline(time.Now().Add(s.cfg.queryTimeout))
		_, err := st.Write([]byte{stateAbsent})
		return err
	}
	w := bufio.NewWriterSize(st, 1<<20)
	hdr := []byte{stateOK}
	hdr = binary.LittleEndian.AppendUint64(hdr, s.head.Step)
	hdr = binary.LittleEndian.AppendUint64(hdr, s.head.Applied)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(s.weights)))
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.readTimeout))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	mom := s.mom
	if mom == nil {
		mom = make([]float32, len(s.weights))
	}
	for _, v := range [][]float32{s.weights, mom} {
		b := f32bytes(v)
		for len(b) > 0 {
			n := min(len(b), 1<<20)
			_ = st.SetWriteDeadline(time.Now().Add(s.cfg.readTimeout))
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
	}
	return w.Flush()
}

// peerHead is one peer's answer to a head query.
type peerHead struct {
	peer peer.ID
	head Head
}

// liveMembers counts the pool's live members, us included.
func (s *StateSync) liveMembers() int {
	return 1 + othersIn(s.cfg.members, s.h.ID())
}

// queryHeads asks up to maxPeers members (admitted, not self) for their
// heads in parallel and returns the answers that name the same model
// (layout and size) within the query timeout.
func (s *StateSync) queryHeads(ctx context.Context) []peerHead {
	if s.cfg.members == nil {
		return nil
	}
	s.mu.RLock()
	layout, elems := s.layout, uint64(len(s.weights))
	s.mu.RUnlock()
	var ps []peer.ID
	for _, p := range s.cfg.members() {
		if p != s.h.ID() && (s.cfg.admit == nil || s.cfg.admit(p)) {
			ps = append(ps, p)
		}
	}
	rand.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	if len(ps) > s.cfg.maxPeers {
		ps = ps[:s.cfg.maxPeers]
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.queryTimeout)
	defer cancel()
	out := make([]peerHead, 0, len(ps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			h, err := s.askHead(qctx, p, layout, elems)
			if err != nil {
				s.log.Debug("diloco: state head query failed", "peer", p, "err", err)
				return
			}
			mu.Lock()
			out = append(out, peerHead{p, h})
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

var errNoState = errors.New("diloco: peer has no outer state")

func (s *StateSync) askHead(ctx context.Context, p peer.ID, layout [32]byte, elems uint64) (Head, error) {
	st, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "diloco-state"), p, s.proto)
	if err != nil {
		return Head{}, err
	}
	defer st.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	if _, err := st.Write([]byte{'H'}); err != nil {
		_ = st.Reset()
		return Head{}, err
	}
	_ = st.CloseWrite()
	var b [headLen]byte
	if _, err := io.ReadFull(st, b[:1]); err != nil {
		_ = st.Reset()
		return Head{}, err
	}
	if b[0] != stateOK {
		return Head{}, errNoState
	}
	if _, err := io.ReadFull(st, b[1:]); err != nil {
		_ = st.Reset()
		return Head{}, err
	}
	return parseHead(b[:], layout, elems)
}

// parseHead decodes a head response (status OK) and checks that it names
// our model.
func parseHead(b []byte, layout [32]byte, elems uint64) (Head, error) {
	if len(b) != headLen || b[0] != stateOK {
		return Head{}, fmt.Errorf("%w: head response of %d bytes", ErrProtocol, len(b))
	}
	h := Head{Step: binary.LittleEndian.Uint64(b[1:]), Applied: binary.LittleEndian.Uint64(b[9:]), Hash: [32]byte(b[57:89])}
	if binary.LittleEndian.Uint64(b[17:]) != elems || [32]byte(b[25:57]) != layout {
		return Head{}, fmt.Errorf("%w: peer trains another model", ErrProtocol)
	}
	if h.Applied > h.Step {
		return Head{}, fmt.Errorf("%w: head with %d applied steps at step %d", ErrProtocol, h.Applied, h.Step)
	}
	return h, nil
}

// choose returns the best head among own and the answers (see Head.better)
// and the peers that hold it; ok is false when own is best.
func choose(own Head, answers []peerHead, maxStep uint64) (best Head, holders []peer.ID, ok bool) {
	support := map[[32]byte]int{own.Hash: 1}
	heads := map[[32]byte]Head{own.Hash: own}
	for _, a := range answers {
		if maxStep > 0 && a.head.Step > maxStep {
			continue
		}
		support[a.head.Hash]++
		heads[a.head.Hash] = a.head
	}
	best = own
	for hash, h := range heads {
		if h.better(support[hash], best, support[best.Hash]) {
			best = h
		}
	}
	if best.Hash == own.Hash {
		return own, nil, false
	}
	for _, a := range answers {
		if a.head.Hash == best.Hash {
			holders = append(holders, a.peer)
		}
	}
	return best, holders, true
}

// fetch reads the state named by want from p into weights and momentum
// (of the bound length) and checks its hash.
func (s *StateSync) fetch(ctx context.Context, p peer.ID, want Head, layout [32]byte, weights, momentum []float32) error {
	st, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "diloco-state"), p, s.proto)
	if err != nil {
		return err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	req := append([]byte{'S'}, want.Hash[:]...)
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.queryTimeout))
	if _, err := st.Write(req); err != nil {
		_ = st.Reset()
		return err
	}
	_ = st.CloseWrite()
	r := bufio.NewReaderSize(st, 1<<20)
	var hdr [25]byte
	_ = st.SetReadDeadline(time.Now().Add(s.cfg.readTimeout))
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		_ = st.Reset()
		return err
	}
	if hdr[0] != stateOK {
		return fmt.Errorf("%w: peer no longer holds %s", errNoState, want)
	}
	if _, err := io.ReadFull(r, hdr[1:]); err != nil {
		_ = st.Reset()
		return err
	}
	step, applied, elems := binary.LittleEndian.Uint64(hdr[1:]), binary.LittleEndian.Uint64(hdr[9:]), binary.LittleEndian.Uint64(hdr[17:])
	if step != want.Step || applied != want.Applied || elems != uint64(len(weights)) {
		_ = st.Reset()
		return fmt.Errorf("%w: state header step %d applied %d size %d, asked for %s of size %d", ErrProtocol, step, applied, elems, want, len(weights))
	}
	for _, v := range [][]float32{weights, momentum} {
		b := f32bytes(v)
		for len(b) > 0 {
			n := min(len(b), 1<<20)
			_ = st.SetReadDeadline(time.Now().Add(s.cfg.readTimeout))
			if _, err := io.ReadFull(r, b[:n]); err != nil {
				_ = st.Reset()
				return fmt.Errorf("reading state: %w", err)
			}
			b = b[n:]
		}
	}
	if got := StateHash(step, applied, layout, weights, momentum); got != want.Hash {
		return fmt.Errorf("%w: state from %s hashes to %x, announced %x", ErrProtocol, p, got[:6], want.Hash[:6])
	}
	return nil
}

// catchUp asks the pool for its heads and, when a better state than ours
// exists (at most maxStep when that is not 0), fetches it from a holder and
// installs it through install (called under the write lock with the
// verified weights and momentum). wait > 0 keeps asking, until then, while
// a peer that answered is still behind our step (it is finishing the round
// we left) and nothing better appeared. It returns the head now served and
// whether it changed.
func (s *StateSync) catchUp(ctx context.Context, maxStep uint64, wait time.Duration, install func(h Head, weights, momentum []float32)) (Head, bool, error) {
	deadline := time.Now().Add(wait)
	for attempt := 0; ; attempt++ {
		own := s.Head()
		answers := s.queryHeads(ctx)
		best, holders, ok := choose(own, answers, maxStep)
		if ok {
			if err := s.adopt(ctx, best, holders, install); err != nil {
				return own, false, err
			}
			return best, true, nil
		}
		behind := false
		for _, a := range answers {
			if a.head.Step < own.Step {
				behind = true
			}
		}
		if !behind || !time.Now().Before(deadline) || attempt >= 1000 {
			return own, false, nil
		}
		select {
		case <-ctx.Done():
			return own, false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *StateSync) adopt(ctx context.Context, best Head, holders []peer.ID, install func(h Head, weights, momentum []float32)) error {
	s.mu.RLock()
	layout, elems := s.layout, len(s.weights)
	s.mu.RUnlock()
	w := make([]float32, elems)
	m := make([]float32, elems)
	rand.Shuffle(len(holders), func(i, j int) { holders[i], holders[j] = holders[j], holders[i] })
	var errs []error
	for _, p := range holders {
		err := s.fetch(ctx, p, best, layout, w, m)
		if err == nil {
			s.mu.Lock()
			install(best, w, m)
			s.head = best
			s.stats.Adopted++
			s.stats.LastAdopted = best
			s.mu.Unlock()
			s.log.Info("diloco: adopted the pool's outer state", "from", p, "head", best.String())
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
		s.mu.Lock()
		s.stats.Failed++
		s.mu.Unlock()
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("diloco: fetching outer state %s: %w", best, errors.Join(errs...))
}

// detach keeps serving the last state from copies once the Worker's Run
// returned (peers finishing the last round may still need it), until Close.
func (s *StateSync) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound {
		s.weights, s.mom = slices.Clone(s.weights), slices.Clone(s.mom)
	}
}

// Settle keeps serving our state after the outer loop ended until every
// live member that answers holds the same head (they caught up with us or
// we with them) or until d passes, so that a worker finishing its last
// step does not leave a peer that is still catching up without a source.
// It returns whether the pool settled.
func (s *StateSync) Settle(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for i := 0; i < 10000; i++ {
		own := s.Head()
		same := true
		for _, a := range s.queryHeads(ctx) {
			same = same && a.head == own
		}
		if same || !time.Now().Before(deadline) || ctx.Err() != nil {
			return same
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
	return false
}
