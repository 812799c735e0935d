package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Wire format of membership messages (version 2). All integers are unsigned
// varints; strings and byte strings are a varint length followed by bytes.
//
//	version   byte  (1)
//	kind      byte  (1 heartbeat, 2 deathrattle)
//	pool      string (1..64 bytes, [A-Za-z0-9._-])
//	peer      bytes  (the subject's peer ID, must be the signer)
//	seq       uvarint
//	time      uvarint (unix milliseconds at send)
//	outerStep uvarint
//	ckptVer   uvarint
//	hardware: cpuCores, memMiB, gpus, gpuMemMiB, bandwidthMbps uvarints; gpuModel string (<= 64)
//	admission bytes (<= MaxInviteSize; empty, or the sender's invite to an invite-only pool)
//
// Trailing bytes are an error, so every valid message has exactly one encoding.
const (
	wireVersion = 2
	// MaxMembershipMessageSize bounds an encoded membership message. Larger
	// payloads are rejected before decoding.
	MaxMembershipMessageSize = 768

	maxPoolIDLen   = 64
	maxPeerIDLen   = 64
	maxGPUModelLen = 64
)

// MessageKind tells a heartbeat from a deathrattle.
type MessageKind uint8

// Membership message kinds.
const (
	KindHeartbeat   MessageKind = 1
	KindDeathrattle MessageKind = 2
)

func (k MessageKind) String() string {
	switch k {
	case KindHeartbeat:
		return "heartbeat"
	case KindDeathrattle:
		return "deathrattle"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Hardware is the summary of a node's resources carried in heartbeats.
type Hardware struct {
	CPUCores      uint32 `json:"cpu_cores"`
	MemoryMiB     uint64 `json:"memory_mib"`
	GPUs          uint32 `json:"gpus"`
	GPUMemoryMiB  uint64 `json:"gpu_memory_mib"`
	BandwidthMbps uint64 `json:"bandwidth_mbps"`
	GPUModel      string `json:"gpu_model,omitempty"`
}

// Heartbeat is one membership message: a liveness beat or, with
// Kind == KindDeathrattle, the announcement of a clean exit.
type Heartbeat struct {
	Kind              MessageKind
	Pool              string
	Peer              peer.ID
	Seq               uint64
	Time              time.Time // sender's clock, millisecond precision
	OuterStep         uint64
	CheckpointVersion uint64
	Hardware          Hardware
	// Admission is the sender's invite (PoolInvite encoding) when the pool
	// is invite-only, else empty.
	Admission []byte
}

// Decoding errors. ErrMalformed wraps every structural problem.
var (
	ErrMalformed   = errors.New("malformed membership message")
	ErrOversize    = errors.New("membership message too large")
	ErrBadPoolID   = errors.New("invalid pool ID")
	ErrBadVersion  = errors.New("unsupported membership message version")
	ErrUnknownKind = errors.New("unknown membership message kind")
)

var poolIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidatePoolID reports whether id can name a pool: 1 to 64 characters of
// letters, digits, '.', '_' and '-'.
func ValidatePoolID(id string) error {
	if !poolIDPattern.MatchString(id) {
		return fmt.Errorf("%w %q: use 1-64 letters, digits, '.', '_' or '-'", ErrBadPoolID, id)
	}
	return nil
}

// MarshalBinary encodes the message in the version-2 wire format.
func (h *Heartbeat) MarshalBinary() ([]byte, error) {
	if err := ValidatePoolID(h.Pool); err != nil {
		return nil, err
	}
	if h.Kind != KindHeartbeat && h.Kind != KindDeathrattle {
		return nil, ErrUnknownKind
	}
	pid := []byte(h.Peer)
	if len(pid) == 0 || len(pid) > maxPeerIDLen || len(h.Hardware.GPUModel) > maxGPUModelLen {
		return nil, fmt.Errorf("%w: peer ID or GPU model too long", ErrMalformed)
	}
	b := make([]byte, 0, 128)
	b = append(b, wireVersion, byte(h.Kind))
	b = appendBytes(b, []byte(h.Pool))
	b = appendBytes(b, pid)
	b = binary.AppendUvarint(b, h.Seq)
	b = binary.AppendUvarint(b, uint64(max(h.Time.UnixMilli(), 0)))
	b = binary.AppendUvarint(b, h.OuterStep)
	b = binary.AppendUvarint(b, h.CheckpointVersion)
	hw := h.Hardware
	b = binary.AppendUvarint(b, uint64(hw.CPUCores))
	b = binary.AppendUvarint(b, hw.MemoryMiB)
	b = binary.AppendUvarint(b, uint64(hw.GPUs))
	b = binary.AppendUvarint(b, hw.GPUMemoryMiB)
	b = binary.AppendUvarint(b, hw.BandwidthMbps)
	b = appendBytes(b, []byte(hw.GPUModel))
	if len(h.Admission) > MaxInviteSize {
		return nil, fmt.Errorf("%w: admission token too long", ErrMalformed)
	}
	b = appendBytes(b, h.Admission)
	if len(b) > MaxMembershipMessageSize {
		return nil, ErrOversize
	}
	return b, nil
}

// UnmarshalBinary decodes a version-2 membership message. It never panics and
// allocates at most len(data) bytes.
func (h *Heartbeat) UnmarshalBinary(data []byte) error {
	if len(data) > MaxMembershipMessageSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrOversize, len(data), MaxMembershipMessageSize)
	}
	r := wireReader{b: data}
	if v := r.u8(); r.err == nil && v != wireVersion {
		return fmt.Errorf("%w: %d", ErrBadVersion, v)
	}
	var out Heartbeat
	out.Kind = MessageKind(r.u8())
	pool := r.bytes(maxPoolIDLen)
	pid := r.bytes(maxPeerIDLen)
	out.Seq = r.uvarint()
	ms := r.uvarint()
	out.OuterStep = r.uvarint()
	out.CheckpointVersion = r.uvarint()
	out.Hardware.CPUCores = uint32(r.uvarintMax(1 << 20))
	out.Hardware.MemoryMiB = r.uvarint()
	out.Hardware.GPUs = uint32(r.uvarintMax(1 << 16))
	out.Hardware.GPUMemoryMiB = r.uvarint()
	out.Hardware.BandwidthMbps = r.uvarint()
	model := r.bytes(maxGPUModelLen)
	admission := r.bytes(MaxInviteSize)
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	if out.Kind != KindHeartbeat && out.Kind != KindDeathrattle {
		return fmt.Errorf("%w: %d", ErrUnknownKind, out.Kind)
	}
	out.Pool = string(pool)
	if err := ValidatePoolID(out.Pool); err != nil {
		return err
	}
	id, err := peer.IDFromBytes(pid)
	if err != nil {
		return fmt.Errorf("%w: peer ID: %v", ErrMalformed, err)
	}
	out.Peer = id
	if ms > 1<<62 {
		return fmt.Errorf("%w: time out of range", ErrMalformed)
	}
	out.Time = time.UnixMilli(int64(ms))
	out.Hardware.GPUModel = string(model)
	if len(admission) > 0 {
		out.Admission = bytes.Clone(admission)
	}
	*h = out
	return nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// wireReader decodes with a sticky error so the decoder reads straight through.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or invalid %s", ErrMalformed, what)
	}
	r.b = nil
}

func (r *wireReader) u8() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("header")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	// Overlong encodings are refused so that every message has one encoding.
	if n <= 0 || n != uvarintLen(v) {
		r.fail("integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) uvarintMax(limit uint64) uint64 {
	v := r.uvarint()
	if v > limit {
		r.fail("integer range")
		return 0
	}
	return v
}

func (r *wireReader) bytes(limit int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(r.b)) {
		r.fail("length")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
