package shardcast

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
)

// requestTimeout bounds reading a request.
const requestTimeout = 10 * time.Second

// chunkSize is the unit of reads and writes of shard bytes.
const chunkSize = 256 << 10

// queueWait bounds how long a request waits for an upload slot.
const queueWait = time.Second

// handleStream serves one request: a manifest, or a byte range of a shard.
// A shard the store has not hashed lately (Store.trust) is hashed as it is
// sent; if its stored bytes no longer match its CID the stream is reset
// before the response completes (so the receiver never sees a complete
// shard) and the copy is removed. A shard the store hashed lately and that
// has not changed since is sent without hashing it again: the receiver
// hashes whatever it gets.
func (s *Service) handleStream(st network.Stream) {
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(requestTimeout))
	req, err := readRequest(bufio.NewReaderSize(st, 128))
	if err != nil {
		_ = st.SetWriteDeadline(time.Now().Add(requestTimeout))
		_, _ = st.Write([]byte{statusBadRequest})
		return
	}
	switch req.op {
	case opManifest:
		s.serveManifest(st, req)
	case opShard:
		s.serveShard(st, req)
	}
}

func (s *Service) writeStatus(st network.Stream, status byte) {
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.stallTimeout))
	_, _ = st.Write([]byte{status})
}

func (s *Service) serveManifest(st network.Stream, req request) {
	b, err := s.store.ManifestBytes(req.cid)
	if err != nil {
		s.writeStatus(st, statusNotFound)
		return
	}
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.stallTimeout + time.Duration(len(b)>>16)*time.Second))
	out := binary.AppendUvarint([]byte{statusOK}, uint64(len(b)))
	if _, err := st.Write(append(out, b...)); err != nil {
		_ = st.Reset()
	}
}

func (s *Service) serveShard(st network.Stream, req request) {
	if _, err := digestOf(req.cid); err != nil {
		s.writeStatus(st, statusBadRequest)
		return
	}
	info, err := os.Stat(s.store.shardPath(req.cid))
	if err != nil || !info.Mode().IsRegular() || info.Size() > MaxShardSize {
		s.writeStatus(st, statusNotFound)
		return
	}
	size := uint64(info.Size())
	length := req.length
	if length == 0 {
		length = size - min(req.offset, size)
	}
	if req.offset > size || length > size-req.offset || length == 0 {
		s.writeStatus(st, statusBadRequest)
		return
	}
	if !s.acquireSlot() {
		s.writeStatus(st, statusBusy)
		return
	}
	defer func() { <-s.slots }()
	// A continuation (offset > 0) finishes what was started: always admitted.
	// An upload that would leave the uplink idle otherwise is never deferred.
	undo, ok := s.admit(req.cid, req.offset == 0, len(s.slots) > 1)
	if !ok {
		s.writeStatus(st, statusDefer)
		return
	}
	sent := false
	defer func() {
		if !sent {
			undo()
		}
	}()
	r, err := s.store.OpenShard(req.cid, int64(size))
	if err != nil {
		s.writeStatus(st, statusNotFound)
		return
	}
	defer r.Close()
	trusted := r.trust()
	buf := make([]byte, chunkSize)
	hdr := binary.AppendUvarint([]byte{statusOK}, length)
	_ = st.SetWriteDeadline(time.Now().Add(s.cfg.stallTimeout))
	if _, err := st.Write(hdr); err != nil {
		_ = st.Reset()
		return
	}
	// Read the whole shard (to hash it), or only the range of a trusted
	// one; send [offset, offset+length).
	var pos uint64
	end := req.offset + length
	if trusted {
		pos, size = req.offset, end
	}
	for pos < size {
		var n int
		var err error
		if trusted {
			n, err = r.ReadAt(buf[:min(uint64(len(buf)), size-pos)], int64(pos))
			if err == io.EOF && uint64(n) == min(uint64(len(buf)), size-pos) {
				err = nil
			}
		} else {
			n, err = io.ReadFull(r, buf[:min(uint64(len(buf)), size-pos)])
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = nil
			}
		}
		if err != nil || n == 0 {
			_ = st.Reset()
			return
		}
		lo, hi := max(pos, req.offset), min(pos+uint64(n), end)
		if lo < hi {
			if err := s.upload(st, buf[lo-pos:hi-pos]); err != nil {
				_ = st.Reset()
				return
			}
			s.cnt.bytesServed.Add(int64(hi - lo))
		}
		pos += uint64(n)
	}
	// The receiver waits for a clean end of stream after the last byte, so
	// a reset here means "do not use what I sent".
	if err := r.Verify(); err != nil {
		s.log.Error("shardcast: stored shard corrupt; removed", "shard", req.cid, "err", err)
		_ = st.Reset()
		return
	}
	sent = true
	s.cnt.shardsServed.Add(1)
}

// acquireSlot takes an upload slot. When all are taken, up to as many
// requests again wait for one, at most queueWait: a queued request starts
// the moment a slot frees, where a Busy answer would cost the requester a
// round trip (long on a loaded link) before it asks again.
func (s *Service) acquireSlot() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.queued.Add(1) > int64(cap(s.slots)) {
		s.queued.Add(-1)
		return false
	}
	defer s.queued.Add(-1)
	timer := time.NewTimer(queueWait)
	defer timer.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-s.ctx.Done():
		return false
	}
}

// admit decides whether to upload shard c now. The publisher of a
// checkpoint sends every shard once before it sends any shard twice: while
// some shard has not gone out, a request for one that has (or is going out)
// is deferred: the requester asks for another shard, and gets this one from
// the peer that has it. The publisher's upload thus brings a new shard into
// the swarm every time (BitTorrent's super-seeding). Every other upload is
// admitted, and so is any upload when no other one is running (mayDefer
// false): an idle uplink serves what is asked. undo forgets an upload that
// failed.
func (s *Service) admit(c cid.Cid, fresh, mayDefer bool) (undo func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !fresh {
		return func() {}, true
	}
	// The first index of c in each manifest that has it counts its uploads.
	var firsts []shardRef
	for _, r := range s.index[c] {
		if !slices.ContainsFunc(firsts, func(f shardRef) bool { return f.t == r.t }) {
			firsts = append(firsts, r)
		}
	}
	for _, r := range firsts {
		if mayDefer && r.t.origin && r.t.unserved > 0 && r.t.served[r.i] > 0 {
			return nil, false
		}
	}
	for _, r := range firsts {
		if r.t.served[r.i] == 0 {
			r.t.unserved--
		}
		r.t.served[r.i]++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range firsts {
			if r.t.served[r.i]--; r.t.served[r.i] == 0 {
				r.t.unserved++
			}
		}
	}, true
}

// rateBurst is the largest write under an upload rate limit.
const rateBurst = 16 << 10

// upload writes p to st, paced by the upload rate limit if there is one.
func (s *Service) upload(st network.Stream, p []byte) error {
	for len(p) > 0 {
		n := len(p)
		if s.rate != nil {
			n = min(n, rateBurst)
			if err := s.rate.WaitN(s.ctx, n); err != nil {
				return err
			}
		}
		_ = st.SetWriteDeadline(time.Now().Add(s.cfg.stallTimeout))
		if _, err := st.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
