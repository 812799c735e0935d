package diloco

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Ring runs ring all-reduces (reduce-scatter, then all-gather) over libp2p
// streams. One Ring serves every round of a host: it owns the stream handler
// of ProtocolAllReduce and routes incoming streams to the round they name.
//
// The vector of S values is cut into N segments of m chunks each (chunk g of
// the N*m covers [g*S/(N*m), (g+1)*S/(N*m))). Peer r sends to r+1. In phase
// t (0 <= t < 2N-2) peer r sends segment r-t (mod N): phases 0..N-2 are the
// reduce-scatter (the receiver adds into its copy), phase N-1 sends the
// peer's fully reduced segment, phases N..2N-3 forward what was received.
// Frames are pipelined per chunk: frame (t, c) leaves as soon as frame
// (t-1, c) has arrived, in an order that runs pipelineLag diagonals of
// chunks ahead, so every link is busy while memory stays bounded: a lane
// holds one frame buffer each way plus, in Int8 mode, a queue of at most
// (pipelineLag+2)(2N-2) forwarded frames (the all-gather forwards bytes
// unchanged), independent of S. Chunks are spread over several streams
// ("lanes") per link; each lane is an independent pipeline.
type Ring struct {
	h   host.Host
	cfg ringConfig

	mu       sync.Mutex
	sessions map[[32]byte]*session
	changed  chan struct{} // closed and replaced when sessions changes

	relayWarned sync.Map // peer.ID -> struct{}: warned once that rounds to it are relayed
}

type ringConfig struct {
	log          *slog.Logger
	chunkElems   int
	lanes        int
	readTimeout  time.Duration
	helloTimeout time.Duration
	mutate       func(phase, chunk int, frame []byte) []byte // tests only: corrupt outgoing frames
}

// RingOption configures a Ring.
type RingOption func(*ringConfig) error

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) RingOption {
	return func(c *ringConfig) error { c.log = l; return nil }
}

// WithChunkElems sets the number of float32 values per frame (default 256Ki:
// 1 MiB fp32, 256 KiB int8). Every peer of a round must use the same value.
func WithChunkElems(n int) RingOption {
	return func(c *ringConfig) error {
		if n < minChunkElems || n > maxChunkElems {
			return fmt.Errorf("diloco: chunk size %d outside [%d, %d]", n, minChunkElems, maxChunkElems)
		}
		c.chunkElems = n
		return nil
	}
}

// WithLanes sets the number of streams per ring link (default 2). Every
// peer of a round must use the same value.
func WithLanes(n int) RingOption {
	return func(c *ringConfig) error {
		if n < 1 || n > maxLanes {
			return fmt.Errorf("diloco: lanes %d outside [1, %d]", n, maxLanes)
		}
		c.lanes = n
		return nil
	}
}

// WithReadTimeout bounds every read of a frame (default 30 s): a neighbour
// that sends nothing for this long fails the round.
func WithReadTimeout(d time.Duration) RingOption {
	return func(c *ringConfig) error {
		if d <= 0 {
			return fmt.Errorf("diloco: read timeout %v must be positive", d)
		}
		c.readTimeout = d
		return nil
	}
}

// WithHelloTimeout bounds the wait for a neighbour's stream to arrive and for
// a round to be registered locally when a stream names it (default 10 s).
func WithHelloTimeout(d time.Duration) RingOption {
	return func(c *ringConfig) error {
		if d <= 0 {
			return fmt.Errorf("diloco: hello timeout %v must be positive", d)
		}
		c.helloTimeout = d
		return nil
	}
}

// pipelineLag is how many chunk diagonals a sender runs ahead of what it
// needs from its left neighbour.
const pipelineLag = 2

// NewRing registers the all-reduce stream handler on h. Close removes it.
func NewRing(h host.Host, opts ...RingOption) (*Ring, error) {
	cfg := ringConfig{
		log:          slog.Default(),
		chunkElems:   256 << 10,
		lanes:        2,
		readTimeout:  30 * time.Second,
		helloTimeout: 10 * time.Second,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if !littleEndian {
		return nil, errors.New("diloco: the all-reduce needs a little-endian machine")
	}
	r := &Ring{h: h, cfg: cfg, sessions: map[[32]byte]*session{}, changed: make(chan struct{})}
	h.SetStreamHandler(ProtocolAllReduce, r.handle)
	return r, nil
}

// Close unregisters the stream handler. Rounds in progress fail.
func (r *Ring) Close() error {
	r.h.RemoveStreamHandler(ProtocolAllReduce)
	return nil
}

// Round describes one all-reduce. Every member must pass the same ID, Group
// and Mode, and a vector of the same length.
type Round struct {
	ID    [32]byte  // unique per pool, outer step and attempt
	Group []peer.ID // ring order; must contain this host exactly once
	Mode  Mode
}

// Stats reports what an all-reduce did.
type Stats struct {
	BytesSent int64 // payload and frame headers written to the right neighbour
	Duration  time.Duration
}

// PeerError blames a peer for a failed all-reduce. Violation is set when the
// peer broke the protocol (errors.Is(err, ErrProtocol)); otherwise it died,
// stalled past a deadline or closed the stream.
type PeerError struct {
	Peer      peer.ID
	Violation bool
	Err       error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("peer %s: %v", e.Peer, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

// AllReduce replaces data with the mean of every member's data. On error
// data holds garbage (partially reduced values) and must not be used; the
// error is a *PeerError when a neighbour is to blame.
func (r *Ring) AllReduce(ctx context.Context, rd Round, data []float32) (Stats, error) {
	start := time.Now()
	n := len(rd.Group)
	rank := -1
	for i, p := range rd.Group {
		if p == r.h.ID() {
			if rank >= 0 {
				return Stats{}, fmt.Errorf("diloco: all-reduce: %s twice in the group", p)
			}
			rank = i
		}
	}
	if rank < 0 {
		return Stats{}, fmt.Errorf("diloco: all-reduce: this host %s is not in the group", r.h.ID())
	}
	if n > maxGroupSize {
		return Stats{}, fmt.Errorf("diloco: all-reduce: group of %d exceeds %d", n, maxGroupSize)
	}
	if n == 1 {
		return Stats{Duration: time.Since(start)}, nil
	}
	if rd.Mode != Float32 && rd.Mode != Int8 {
		return Stats{}, fmt.Errorf("diloco: all-reduce: unknown mode %d", rd.Mode)
	}
	ce := r.cfg.chunkElems
	m := max(1, (len(data)+n*ce-1)/(n*ce))
	s := &session{
		ring:  r,
		round: rd,
		data:  data,
		n:     n,
		rank:  rank,
		m:     m,
		left:  rd.Group[(rank+n-1)%n],
		right: rd.Group[(rank+1)%n],
		lanes: min(r.cfg.lanes, m),
	}
	s.tag = uint32(rd.ID[0]) | uint32(rd.ID[1])<<8 | uint32(rd.ID[2])<<16 | uint32(rd.ID[3])<<24
	s.incoming = make([]chan network.Stream, s.lanes)
	for i := range s.incoming {
		s.incoming[i] = make(chan network.Stream, 1)
	}
	if err := r.register(s); err != nil {
		return Stats{}, err
	}
	defer r.unregister(s)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for lane := range s.lanes {
		l := newLane(s, lane)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := l.send(ctx); err != nil {
				cancel(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := l.receive(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	st := Stats{BytesSent: s.sent.Load(), Duration: time.Since(start)}
	if err := context.Cause(ctx); err != nil {
		return st, fmt.Errorf("diloco: all-reduce %x: %w", rd.ID[:4], err)
	}
	return st, nil
}

// session is one all-reduce in progress on this host.
type session struct {
	ring        *Ring
	round       Round
	data        []float32
	n, rank, m  int
	left, right peer.ID
	lanes       int
	tag         uint32
	incoming    []chan network.Stream
	sent        atomic.Int64
}

// chunk returns the bounds of chunk c of segment seg.
func (s *session) chunk(seg, c int) (lo, hi int) {
	total := int64(s.n) * int64(s.m)
	g := int64(seg)*int64(s.m) + int64(c)
	S := int64(len(s.data))
	return int(g * S / total), int((g + 1) * S / total)
}

func (s *session) sendSeg(t int) int { return ((s.rank-t)%s.n + s.n) % s.n }
func (s *session) recvSeg(t int) int { return ((s.rank-1-t)%s.n + s.n) % s.n }

func (s *session) frameLen(n int) int {
	if s.round.Mode == Int8 {
		return int8Size(n)
	}
	return 4 * n
}

func (s *session) hello(lane int) hello {
	return hello{
		mode: s.round.Mode, lane: uint16(lane), lanes: uint16(s.lanes),
		rank: uint16(s.rank), n: uint16(s.n), round: s.round.ID,
		elems: uint64(len(s.data)), chunkElems: uint32(s.ring.cfg.chunkElems),
	}
}

func (r *Ring) register(s *session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sessions[s.round.ID]; ok {
		return fmt.Errorf("diloco: all-reduce %x already running", s.round.ID[:4])
	}
	r.sessions[s.round.ID] = s
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

func (r *Ring) unregister(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, s.round.ID)
	for _, ch := range s.incoming {
		select {
		case st := <-ch:
			_ = st.Reset()
		default:
		}
	}
}

// waitSession waits until a round with this ID is registered, or the deadline.
func (r *Ring) waitSession(id [32]byte, deadline time.Time) *session {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		r.mu.Lock()
		s, ch := r.sessions[id], r.changed
		r.mu.Unlock()
		if s != nil {
			return s
		}
		select {
		case <-ch:
		case <-t.C:
			return nil
		}
	}
}

// handle accepts a lane stream from a left neighbour.
func (r *Ring) handle(st network.Stream) {
	from := st.Conn().RemotePeer()
	deadline := time.Now().Add(r.cfg.helloTimeout)
	_ = st.SetDeadline(deadline)
	h, err := readHello(st)
	if err != nil {
		r.cfg.log.Warn("diloco: rejected all-reduce stream", "peer", from, "err", err)
		_ = st.Reset()
		return
	}
	s := r.waitSession(h.round, deadline)
	if s == nil {
		r.cfg.log.Debug("diloco: all-reduce stream for an unknown round", "peer", from, "round", fmt.Sprintf("%x", h.round[:4]))
		_, _ = st.Write([]byte{ackUnknown})
		_ = st.Close()
		return
	}
	want := s.hello(int(h.lane))
	want.rank = uint16(s.rank+s.n-1) % uint16(s.n)
	if from != s.left || h != want {
		r.cfg.log.Warn("diloco: all-reduce stream does not match the round", "peer", from, "left", s.left, "got", fmt.Sprintf("%+v", h), "want", fmt.Sprintf("%+v", want))
		_, _ = st.Write([]byte{ackMismatch})
		_ = st.Reset()
		return
	}
	if _, err := st.Write([]byte{ackOK}); err != nil {
		_ = st.Reset()
		return
	}
	select {
	case s.incoming[h.lane] <- st:
	default:
		r.cfg.log.Warn("diloco: duplicate all-reduce stream", "peer", from, "lane", h.lane)
		_ = st.Reset()
	}
}

// lane is one pipelined stream pair of a session: chunks c with c%lanes == lane.
type lane struct {
	s     *session
	idx   int
	cols  []int     // chunk indices in this lane
	order [][2]int  // frame order: (phase, column index)
	pos   [][]int32 // pos[t][j] = index of frame (t, j) in order
	recv  progress  // frames processed by the receiver
	sent  progress  // frames written by the sender
	fwd   chan []byte
	free  chan []byte
}

func newLane(s *session, idx int) *lane {
	l := &lane{s: s, idx: idx}
	for c := idx; c < s.m; c += s.lanes {
		l.cols = append(l.cols, c)
	}
	T := 2*s.n - 2
	l.pos = make([][]int32, T)
	for t := range l.pos {
		l.pos[t] = make([]int32, len(l.cols))
	}
	total := T * len(l.cols)
	l.order = make([][2]int, 0, total)
	for d := 0; len(l.order) < total; d++ {
		for t := range T {
			j := d - t*pipelineLag
			if j >= 0 && j < len(l.cols) {
				l.pos[t][j] = int32(len(l.order))
				l.order = append(l.order, [2]int{t, j})
			}
		}
	}
	if s.round.Mode == Int8 {
		k := (pipelineLag + 2) * T
		l.fwd = make(chan []byte, k)
		l.free = make(chan []byte, k+1)
	}
	l.recv.init()
	l.sent.init()
	return l
}

func (l *lane) maxFrame() int {
	lo, hi := l.s.chunk(0, 0)
	return frameHeaderSize + l.s.frameLen(hi-lo+1)
}

func (l *lane) buffer() []byte {
	select {
	case b := <-l.free:
		return b
	default:
		return make([]byte, l.maxFrame())
	}
}

func (l *lane) release(b []byte) {
	select {
	case l.free <- b:
	default:
	}
}

// send dials the right neighbour and writes every frame of the lane.
func (l *lane) send(ctx context.Context) error {
	s := l.s
	blame := func(err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return &PeerError{Peer: s.right, Err: fmt.Errorf("lane %d send: %w", l.idx, err)}
	}
	dctx, cancel := context.WithTimeout(ctx, s.ring.cfg.helloTimeout)
	st, err := s.ring.h.NewStream(network.WithAllowLimitedConn(dctx, "diloco"), s.right, ProtocolAllReduce)
	cancel()
	if err != nil {
		return blame(fmt.Errorf("open stream: %w", err))
	}
	// Two nodes behind NATs that cannot punch a hole: the relay cuts the
	// connection at its limits (go-libp2p's default 128 KiB each way), so
	// a round larger than that fails and is redone without one of them.
	// Said once per peer.
	if st.Conn().Stat().Limited {
		if _, seen := s.ring.relayWarned.LoadOrStore(s.right, struct{}{}); !seen {
			s.ring.cfg.log.Warn("diloco: all-reduce to this peer goes through a relay; the relay's data limit may cut the round",
				"peer", s.right, "addr", st.Conn().RemoteMultiaddr())
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(s.ring.cfg.helloTimeout))
	if _, err := st.Write(s.hello(l.idx).marshal()); err != nil {
		_ = st.Reset()
		return blame(fmt.Errorf("write hello: %w", err))
	}
	var ack [1]byte
	if _, err := io.ReadFull(st, ack[:]); err != nil {
		_ = st.Reset()
		return blame(fmt.Errorf("read ack: %w", err))
	}
	if ack[0] != ackOK {
		_ = st.Reset()
		return blame(fmt.Errorf("neighbour refused the round (ack %d)", ack[0]))
	}
	_ = st.SetReadDeadline(time.Time{})
	buf := make([]byte, l.maxFrame())
	for seq, f := range l.order {
		t, j := f[0], f[1]
		c := l.cols[j]
		if t > 0 {
			if err := l.recv.wait(ctx, int(l.pos[t-1][j])+1); err != nil {
				return context.Cause(ctx)
			}
		}
		lo, hi := s.chunk(s.sendSeg(t), c)
		vals := s.data[lo:hi]
		var frame, rest []byte
		switch {
		case s.round.Mode == Float32:
			if t == s.n-1 {
				inv := float32(s.n)
				for i := range vals {
					vals[i] /= inv
				}
			}
			// The header goes out with the first bytes of the values in
			// one write, the rest straight from the vector (the muxer
			// copies what it is given before Write returns): the chunk is
			// not copied once more here.
			payload := f32bytes(vals)
			k := len(payload)
			if s.ring.cfg.mutate == nil {
				k = min(k, firstWrite)
				rest = payload[k:]
			}
			frame = buf[:frameHeaderSize+k]
			copy(frame[frameHeaderSize:], payload[:k])
		case t < s.n-1: // int8 reduce-scatter: re-quantize the partial sum
			frame = buf[:frameHeaderSize+int8Size(len(vals))]
			quantize(frame[frameHeaderSize:], vals)
		case t == s.n-1: // int8: quantize the mean once; keep what others will decode
			inv := float32(s.n)
			for i := range vals {
				vals[i] /= inv
			}
			frame = buf[:frameHeaderSize+int8Size(len(vals))]
			quantize(frame[frameHeaderSize:], vals)
			scale, _ := int8Scale(frame[frameHeaderSize:])
			dequantize(vals, frame[frameHeaderSize:], scale)
		default: // int8 all-gather: forward the bytes received unchanged
			var b []byte
			select {
			case b = <-l.fwd:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			copy(buf[frameHeaderSize:], b)
			frame = buf[:frameHeaderSize+len(b)]
			l.release(b)
		}
		h := frameHeader{tag: s.tag, seq: uint32(seq), phase: uint16(t), chunk: uint32(c), n: uint32(len(frame) + len(rest) - frameHeaderSize)}
		h.put(frame)
		if s.ring.cfg.mutate != nil {
			frame = s.ring.cfg.mutate(t, c, frame)
		}
		_ = st.SetWriteDeadline(time.Now().Add(s.ring.cfg.readTimeout))
		if _, err := st.Write(frame); err != nil {
			return blame(fmt.Errorf("frame %d: %w", seq, err))
		}
		if len(rest) > 0 {
			if _, err := st.Write(rest); err != nil {
				return blame(fmt.Errorf("frame %d: %w", seq, err))
			}
		}
		s.sent.Add(int64(len(frame) + len(rest)))
		l.sent.add()
	}
	if err := st.CloseWrite(); err != nil {
		return blame(fmt.Errorf("close: %w", err))
	}
	return nil
}

// receive accepts the left neighbour's stream and applies every frame.
func (l *lane) receive(ctx context.Context) error {
	s := l.s
	blame := func(violation bool, err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return &PeerError{Peer: s.left, Violation: violation, Err: fmt.Errorf("lane %d receive: %w", l.idx, err)}
	}
	var st network.Stream
	t0 := time.NewTimer(s.ring.cfg.helloTimeout)
	select {
	case st = <-s.incoming[l.idx]:
		t0.Stop()
	case <-t0.C:
		return blame(false, errors.New("no stream from the left neighbour"))
	case <-ctx.Done():
		t0.Stop()
		return context.Cause(ctx)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	defer st.Close()
	var hb [frameHeaderSize]byte
	payload := make([]byte, l.maxFrame())
	for seq, f := range l.order {
		t, j := f[0], f[1]
		c := l.cols[j]
		seg := s.recvSeg(t)
		lo, hi := s.chunk(seg, c)
		want := s.frameLen(hi - lo)
		_ = st.SetReadDeadline(time.Now().Add(s.ring.cfg.readTimeout))
		if _, err := io.ReadFull(st, hb[:]); err != nil {
			return blame(false, fmt.Errorf("frame %d header: %w", seq, err))
		}
		h, zero := parseFrameHeader(hb[:])
		switch {
		case h.tag != s.tag:
			return blame(true, fmt.Errorf("%w: frame %d belongs to round tag %08x, want %08x", ErrProtocol, seq, h.tag, s.tag))
		case h.seq != uint32(seq) || h.phase != uint16(t) || h.chunk != uint32(c) || zero != 0:
			return blame(true, fmt.Errorf("%w: got frame seq %d phase %d chunk %d, want seq %d phase %d chunk %d", ErrProtocol, h.seq, h.phase, h.chunk, seq, t, c))
		case h.n != uint32(want):
			return blame(true, fmt.Errorf("%w: frame %d (phase %d chunk %d) has %d bytes, want %d", ErrProtocol, seq, t, c, h.n, want))
		}
		if t >= s.n-1 {
			// All-gather overwrites the segment this peer sent in phase
			// t+1-n; that frame left long ago (the ring's causality), the
			// wait only makes the ordering visible to the memory model.
			if err := l.sent.wait(ctx, int(l.pos[t+1-s.n][j])+1); err != nil {
				return context.Cause(ctx)
			}
		}
		vals := s.data[lo:hi]
		var p []byte
		forward := s.round.Mode == Int8 && t >= s.n-1 && t < 2*s.n-3
		switch {
		case forward:
			p = l.buffer()[:want]
		case s.round.Mode == Float32 && t >= s.n-1:
			// fp32 all-gather: the values land in place and are checked
			// there (on error the vector is garbage anyway).
			p = f32bytes(vals)
		default:
			p = payload[:want]
		}
		if _, err := io.ReadFull(st, p); err != nil {
			return blame(false, fmt.Errorf("frame %d payload: %w", seq, err))
		}
		var err error
		switch {
		case s.round.Mode == Float32 && t < s.n-1:
			err = addF32(vals, p)
		case s.round.Mode == Float32:
			err = checkFinite(vals)
		default:
			scale, ok := int8Scale(p)
			if !ok {
				err = fmt.Errorf("bad int8 chunk header")
			} else if t < s.n-1 {
				dequantizeAdd(vals, p, scale)
			} else {
				dequantize(vals, p, scale)
			}
		}
		if err != nil {
			return blame(true, fmt.Errorf("%w: frame %d (phase %d chunk %d): %v", ErrProtocol, seq, t, c, err))
		}
		if forward {
			select {
			case l.fwd <- p:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		l.recv.add()
	}
	// The sender closes after the last frame: anything more is a violation.
	_ = st.SetReadDeadline(time.Now().Add(s.ring.cfg.readTimeout))
	if n, err := st.Read(hb[:1]); n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
		if n > 0 {
			return blame(true, fmt.Errorf("%w: data after the last frame", ErrProtocol))
		}
		return blame(false, fmt.Errorf("after the last frame: %w", err))
	}
	return nil
}

// firstWrite is how many bytes of an fp32 chunk go out in one write with
// the frame header: what fills one yamux frame (64 KiB with its 12-byte
// header).
const firstWrite = 64<<10 - 12 - frameHeaderSize

// The exponent field of a float32 is all ones (Inf or NaN) exactly when
// adding expCarry to bits&expMask carries into the sign bit: the checks
// below OR that over many values and branch once.
const (
	expMask  = 0x7f800000
	expCarry = 0x00800000
	signBit  = 0x80000000
)

// addF32 adds the float32s in p to dst (of the same length) and fails if
// any of them is not finite (dst is then garbage).
func addF32(dst []float32, p []byte) error {
	src := bytesF32(p)
	dst = dst[:len(src)]
	var bad uint32
	i := 0
	for ; i+8 <= len(src); i += 8 {
		s, d := src[i:i+8:i+8], dst[i:i+8:i+8]
		bad |= (math.Float32bits(s[0])&expMask + expCarry) | (math.Float32bits(s[1])&expMask + expCarry) |
			(math.Float32bits(s[2])&expMask + expCarry) | (math.Float32bits(s[3])&expMask + expCarry) |
			(math.Float32bits(s[4])&expMask + expCarry) | (math.Float32bits(s[5])&expMask + expCarry) |
			(math.Float32bits(s[6])&expMask + expCarry) | (math.Float32bits(s[7])&expMask + expCarry)
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; i < len(src); i++ {
		bad |= math.Float32bits(src[i])&expMask + expCarry
		dst[i] += src[i]
	}
	if bad&signBit != 0 {
		return firstNonFinite(src)
	}
	return nil
}

// checkFinite fails if any value of v is Inf or NaN.
func checkFinite(v []float32) error {
	var bad uint32
	i := 0
	for ; i+8 <= len(v); i += 8 {
		s := v[i : i+8 : i+8]
		bad |= (math.Float32bits(s[0])&expMask + expCarry) | (math.Float32bits(s[1])&expMask + expCarry) |
			(math.Float32bits(s[2])&expMask + expCarry) | (math.Float32bits(s[3])&expMask + expCarry) |
			(math.Float32bits(s[4])&expMask + expCarry) | (math.Float32bits(s[5])&expMask + expCarry) |
			(math.Float32bits(s[6])&expMask + expCarry) | (math.Float32bits(s[7])&expMask + expCarry)
	}
	for ; i < len(v); i++ {
		bad |= math.Float32bits(v[i])&expMask + expCarry
	}
	if bad&signBit != 0 {
		return firstNonFinite(v)
	}
	return nil
}

func firstNonFinite(v []float32) error {
	for i, x := range v {
		if math.Float32bits(x)&expMask == expMask {
			return fmt.Errorf("non-finite value at %d", i)
		}
	}
	return errors.New("non-finite value")
}

func f32bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// bytesF32 views p as float32s; the frame buffers it is used on come from
// make([]byte), which the Go allocator aligns to at least 8 bytes, and the
// payload starts at offset frameHeaderSize (20) or 0.
func bytesF32(p []byte) []float32 {
	if len(p) < 4 {
		return nil
	}
	if uintptr(unsafe.Pointer(&p[0]))%4 != 0 {
		out := make([]float32, len(p)/4)
		copy(f32bytes(out), p)
		return out
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&p[0])), len(p)/4)
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// progress counts completed frames and lets another goroutine wait for a count.
type progress struct {
	mu   sync.Mutex
	n    int
	wake chan struct{}
}

func (p *progress) init() { p.wake = make(chan struct{}) }

func (p *progress) add() {
	p.mu.Lock()
	p.n++
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func (p *progress) wait(ctx context.Context, atLeast int) error {
	for {
		p.mu.Lock()
		n, w := p.n, p.wake
		p.mu.Unlock()
		if n >= atLeast {
			return nil
		}
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
