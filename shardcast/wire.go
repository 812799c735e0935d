package shardcast

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol is the stream protocol on which pool's Service serves manifests
// and shards. Each pool has its own, so that the Services of several pools
// on one host each own their stream handler: closing one leaves the others
// serving.
func Protocol(pool string) protocol.ID {
	return protocol.ID("/openpool/pool/" + pool + "/shardcast/1.0.0")
}

// TopicKind is the kind of the pool's gossip topic that carries manifest
// announcements and have-maps.
const TopicKind = "checkpoints"

// TopicName is the pool's checkpoint topic, in the format of p2p.TopicName.
func TopicName(pool string) string {
	return "/openpool/pool/" + pool + "/" + TopicKind + "/1.0.0"
}

// Wire limits.
const (
	maxCIDLen     = 64
	maxRequestLen = 1 + 1 + maxCIDLen + 2*binary.MaxVarintLen64
	// MaxGossipSize bounds a gossip message: a have-map of MaxShards bits
	// plus a header.
	MaxGossipSize = MaxShards/8 + 256
)

// Stream request ops.
const (
	opManifest byte = 1 // body: cid
	opShard    byte = 2 // body: cid, offset, length
)

// Response status bytes.
const (
	statusOK         byte = 0
	statusNotFound   byte = 1
	statusBusy       byte = 2
	statusBadRequest byte = 3
	statusDefer      byte = 4 // "not this shard from me now; ask another peer"
)

// Errors of the wire protocol, for callers that choose another source.
var (
	ErrPeerBusy     = errors.New("shardcast: peer busy")
	ErrPeerNotFound = errors.New("shardcast: peer does not have it")
	ErrPeerDefer    = errors.New("shardcast: peer defers this shard to others")
	ErrBadResponse  = errors.New("shardcast: malformed response")
	ErrBadMessage   = errors.New("shardcast: malformed gossip message")
)

// request is one stream request.
type request struct {
	op     byte
	cid    cid.Cid
	offset uint64
	length uint64 // 0: to the end of the shard
}

func (r request) encode() []byte {
	b := []byte{r.op}
	cb := r.cid.Bytes()
	b = binary.AppendUvarint(b, uint64(len(cb)))
	b = append(b, cb...)
	if r.op == opShard {
		b = binary.AppendUvarint(b, r.offset)
		b = binary.AppendUvarint(b, r.length)
	}
	return b
}

// readRequest reads one request of at most maxRequestLen bytes.
func readRequest(br *bufio.Reader) (request, error) {
	var r request
	lr := &io.LimitedReader{R: br, N: maxRequestLen}
	rd := bufio.NewReaderSize(lr, 16)
	op, err := rd.ReadByte()
	if err != nil {
		return r, err
	}
	if op != opManifest && op != opShard {
		return r, fmt.Errorf("%w: op %d", ErrBadResponse, op)
	}
	r.op = op
	n, err := binary.ReadUvarint(rd)
	if err != nil || n == 0 || n > maxCIDLen {
		return r, fmt.Errorf("shardcast: bad request cid length")
	}
	cb := make([]byte, n)
	if _, err := io.ReadFull(rd, cb); err != nil {
		return r, err
	}
	if r.cid, err = cid.Cast(cb); err != nil {
		return r, fmt.Errorf("shardcast: bad request cid: %w", err)
	}
	if op == opShard {
		if r.offset, err = binary.ReadUvarint(rd); err != nil {
			return r, err
		}
		if r.length, err = binary.ReadUvarint(rd); err != nil {
			return r, err
		}
	}
	return r, nil
}

// readResponseHeader reads the status and, for OK, the body length.
func readResponseHeader(r io.ByteReader, limit uint64) (uint64, error) {
	st, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	switch st {
	case statusOK:
	case statusNotFound:
		return 0, ErrPeerNotFound
	case statusBusy:
		return 0, ErrPeerBusy
	case statusDefer:
		return 0, ErrPeerDefer
	case statusBadRequest:
		return 0, fmt.Errorf("%w: peer says bad request", ErrBadResponse)
	default:
		return 0, fmt.Errorf("%w: status %d", ErrBadResponse, st)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if n > limit {
		return 0, fmt.Errorf("%w: body of %d bytes, limit %d", ErrBadResponse, n, limit)
	}
	return n, nil
}

// Gossip messages: magic 'S', format 1, type, then the body.
const (
	gossipMagic    = 'S'
	gossipFormat   = 1
	gossipAnnounce = 1 // a new manifest: cid, version
	gossipHave     = 2 // a have-map: cid, version, shard count, bitmap
)

// gossipMsg is an announcement or a have-map. A have-map with shards == 0
// asks holders of the manifest to advertise theirs.
type gossipMsg struct {
	typ     byte
	cid     cid.Cid
	version uint64 // announce; have (0 in a want)
	shards  int    // have
	bitmap  []byte // have: (shards+7)/8 bytes, unused high bits zero
}

func (g gossipMsg) encode() []byte {
	cb := g.cid.Bytes()
	b := make([]byte, 0, 16+len(cb)+len(g.bitmap))
	b = append(b, gossipMagic, gossipFormat, g.typ)
	b = binary.AppendUvarint(b, uint64(len(cb)))
	b = append(b, cb...)
	switch g.typ {
	case gossipAnnounce:
		b = binary.AppendUvarint(b, g.version)
	case gossipHave:
		b = binary.AppendUvarint(b, g.version)
		b = binary.AppendUvarint(b, uint64(g.shards))
		b = append(b, g.bitmap...)
	}
	return b
}

func decodeGossip(b []byte) (gossipMsg, error) {
	var g gossipMsg
	if len(b) > MaxGossipSize {
		return g, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(b))
	}
	if len(b) < 4 || b[0] != gossipMagic || b[1] != gossipFormat {
		return g, fmt.Errorf("%w: bad header", ErrBadMessage)
	}
	g.typ = b[2]
	d := &decoder{b: b, off: 3}
	cb := d.bytes(d.uvarint(), maxCIDLen)
	if d.err != nil {
		return g, fmt.Errorf("%w: %v", ErrBadMessage, d.err)
	}
	c, err := cid.Cast(cb)
	if err != nil {
		return g, fmt.Errorf("%w: cid: %v", ErrBadMessage, err)
	}
	if _, err := digestOf(c); err != nil {
		return g, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	g.cid = c
	switch g.typ {
	case gossipAnnounce:
		g.version = d.uvarint()
	case gossipHave:
		g.version = d.uvarint()
		n := d.uvarint()
		if d.err == nil && n > MaxShards {
			return g, fmt.Errorf("%w: %d shards", ErrBadMessage, n)
		}
		g.shards = int(n)
		g.bitmap = d.bytes(uint64((n+7)/8), MaxShards/8)
		if d.err == nil && n%8 != 0 && g.bitmap[len(g.bitmap)-1]>>(n%8) != 0 {
			return g, fmt.Errorf("%w: bits beyond the shard count", ErrBadMessage)
		}
	default:
		return g, fmt.Errorf("%w: type %d", ErrBadMessage, g.typ)
	}
	if d.err != nil {
		return g, fmt.Errorf("%w: %v", ErrBadMessage, d.err)
	}
	if d.off != len(b) {
		return g, fmt.Errorf("%w: trailing bytes", ErrBadMessage)
	}
	// One spelling per message (no non-minimal varints).
	if !bytes.Equal(g.encode(), b) {
		return g, fmt.Errorf("%w: not in canonical form", ErrBadMessage)
	}
	return g, nil
}

// bitmap is a set of shard indexes.
type bitmap []byte

func newBitmap(n int) bitmap    { return make(bitmap, (n+7)/8) }
func (b bitmap) has(i int) bool { return b[i/8]&(1<<(i%8)) != 0 }
func (b bitmap) set(i int)      { b[i/8] |= 1 << (i % 8) }
func (b bitmap) count() (n int) {
	for _, x := range b {
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}
