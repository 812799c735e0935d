package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/internal/wirefmt"
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
	r := newWireReader(data)
	if v := r.U8(); r.Err == nil && v != wireVersion {
		return fmt.Errorf("%w: %d", ErrBadVersion, v)
	}
	var out Heartbeat
	out.Kind = MessageKind(r.U8())
	pool := r.Bytes(maxPoolIDLen)
	pid := r.Bytes(maxPeerIDLen)
	out.Seq = r.Uvarint()
	ms := r.Uvarint()
	out.OuterStep = r.Uvarint()
	out.CheckpointVersion = r.Uvarint()
	out.Hardware.CPUCores = uint32(r.UvarintMax(1 << 20))
	out.Hardware.MemoryMiB = r.Uvarint()
	out.Hardware.GPUs = uint32(r.UvarintMax(1 << 16))
	out.Hardware.GPUMemoryMiB = r.Uvarint()
	out.Hardware.BandwidthMbps = r.Uvarint()
	model := r.Bytes(maxGPUModelLen)
	admission := r.Bytes(MaxInviteSize)
	if r.Err != nil {
		return r.Err
	}
	if len(r.B) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.B))
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

func appendBytes(b, s []byte) []byte { return wirefmt.AppendBytes(b, s) }

// wireReader is the shared sticky-error reader; failures wrap ErrMalformed.
type wireReader struct{ wirefmt.Reader }

func newWireReader(data []byte) *wireReader {
	return &wireReader{wirefmt.NewReader(data, ErrMalformed)}
}
