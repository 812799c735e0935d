package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Wire format of the SWIM membership mode (version 3). Integers are unsigned
// varints, strings and byte strings a varint length and the bytes, as in
// version 2.
//
// A member record is a node's own signed state; any node may pass it on
// (pool topic, anti-entropy, probe acks) because only its subject can make
// one:
//
//	version   byte (3)
//	kind      byte (1 alive, 2 leave)
//	pool      string
//	peer      bytes (the subject, whose key signs the record)
//	seq       uvarint (incarnation: grows with every new record of the subject)
//	time      uvarint (unix milliseconds at signing)
//	outerStep, ckptVer uvarint
//	hardware  as in version 2
//	admission bytes
//	addrs     uvarint count (<= 8), then each multiaddr as bytes (<= 64)
//	sig       bytes (Ed25519 signature of swimRecordDomain + everything above)
//
// A suspicion is a hint published on the pool topic by the node that failed
// to reach a member; the topic's strict signing names its author:
//
//	version byte (3), kind byte (3), pool string, subject bytes, seq uvarint, time uvarint
//
// Probe-protocol frames are a uvarint length and a body whose first byte is
// the frame type (see swimFrame*).
const (
	swimWireVersion = 3
	// MaxMemberRecordSize bounds one encoded member record.
	MaxMemberRecordSize = 1536
	// MaxSwimGossipSize bounds a SWIM message on the pool topic.
	MaxSwimGossipSize = MaxMemberRecordSize
	maxRecordAddrs    = 8
	maxAddrLen        = 64
	maxSigLen         = 128
	swimRecordDomain  = "openpool-member-record:"
)

// ErrBadRecordSignature: a member record not signed by its subject.
var ErrBadRecordSignature = errors.New("member record signature does not verify")

// SwimKind is the kind of a SWIM-mode message.
type SwimKind uint8

// SWIM message kinds.
const (
	SwimAlive   SwimKind = 1 // a member's own state: join, refutation, status change
	SwimLeave   SwimKind = 2 // a member's own deathrattle
	SwimSuspect SwimKind = 3 // a hint that the author failed to reach a member
	// SwimSuspectDefinite is a suspicion whose author saw a definite failure
	// (connection refused, protocol gone): receivers check it with a probe
	// of their own instead of waiting out the suspicion timeout.
	SwimSuspectDefinite SwimKind = 4
)

func (k SwimKind) String() string {
	switch k {
	case SwimAlive:
		return "alive"
	case SwimLeave:
		return "leave"
	case SwimSuspect:
		return "suspect"
	case SwimSuspectDefinite:
		return "suspect-definite"
	}
	return fmt.Sprintf("swimkind(%d)", uint8(k))
}

// MemberRecord is a member's signed statement about itself.
type MemberRecord struct {
	Kind              SwimKind // SwimAlive or SwimLeave
	Pool              string
	Peer              peer.ID
	Seq               uint64
	Time              time.Time
	OuterStep         uint64
	CheckpointVersion uint64
	Hardware          Hardware
	Admission         []byte
	Addrs             []ma.Multiaddr
	Signature         []byte

	signed []byte // the encoding that Signature covers, set by decode and sign
	raw    []byte // the whole encoding
}

// Suspicion is the statement of its author (the pubsub message's signer)
// that it could not reach Subject at Subject's record Seq. Receivers mark
// Subject suspect and declare it dead when it does not refute within the
// suspicion timeout, which independent suspicions from other members
// shorten; a Definite one makes them probe Subject themselves at once.
type Suspicion struct {
	Pool     string
	Subject  peer.ID
	Seq      uint64
	Time     time.Time
	Definite bool
}

func (r *MemberRecord) appendUnsigned(b []byte) ([]byte, error) {
	if err := ValidatePoolID(r.Pool); err != nil {
		return nil, err
	}
	if r.Kind != SwimAlive && r.Kind != SwimLeave {
		return nil, ErrUnknownKind
	}
	pid := []byte(r.Peer)
	if len(pid) == 0 || len(pid) > maxPeerIDLen || len(r.Hardware.GPUModel) > maxGPUModelLen {
		return nil, fmt.Errorf("%w: peer ID or GPU model too long", ErrMalformed)
	}
	if len(r.Admission) > MaxInviteSize {
		return nil, fmt.Errorf("%w: admission token too long", ErrMalformed)
	}
	b = append(b, swimWireVersion, byte(r.Kind))
	b = appendBytes(b, []byte(r.Pool))
	b = appendBytes(b, pid)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendUvarint(b, uint64(max(r.Time.UnixMilli(), 0)))
	b = binary.AppendUvarint(b, r.OuterStep)
	b = binary.AppendUvarint(b, r.CheckpointVersion)
	b = appendHardware(b, r.Hardware)
	b = appendBytes(b, r.Admission)
	addrs := 0
	for _, a := range r.Addrs {
		if len(a.Bytes()) <= maxAddrLen && addrs < maxRecordAddrs {
			addrs++
		}
	}
	b = binary.AppendUvarint(b, uint64(addrs))
	n := 0
	for _, a := range r.Addrs {
		if ab := a.Bytes(); len(ab) <= maxAddrLen && n < addrs {
			b = appendBytes(b, ab)
			n++
		}
	}
	return b, nil
}

func appendHardware(b []byte, hw Hardware) []byte {
	b = binary.AppendUvarint(b, uint64(hw.CPUCores))
	b = binary.AppendUvarint(b, hw.MemoryMiB)
	b = binary.AppendUvarint(b, uint64(hw.GPUs))
	b = binary.AppendUvarint(b, hw.GPUMemoryMiB)
	b = binary.AppendUvarint(b, hw.BandwidthMbps)
	return appendBytes(b, []byte(hw.GPUModel))
}

func readHardware(r *wireReader) Hardware {
	var hw Hardware
	hw.CPUCores = uint32(r.UvarintMax(1 << 20))
	hw.MemoryMiB = r.Uvarint()
	hw.GPUs = uint32(r.UvarintMax(1 << 16))
	hw.GPUMemoryMiB = r.Uvarint()
	hw.BandwidthMbps = r.Uvarint()
	hw.GPUModel = string(r.Bytes(maxGPUModelLen))
	return hw
}

// Sign encodes the record and signs it with key, which must be the key of
// r.Peer. Addresses beyond the first 8 (or longer than 64 bytes) are left out.
func (r *MemberRecord) Sign(key crypto.PrivKey) ([]byte, error) {
	body, err := r.appendUnsigned(make([]byte, 0, 256))
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(append([]byte(swimRecordDomain), body...))
	if err != nil {
		return nil, fmt.Errorf("p2p: sign member record: %w", err)
	}
	if len(sig) > maxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(sig))
	}
	out := appendBytes(bytes.Clone(body), sig)
	if len(out) > MaxMemberRecordSize {
		return nil, ErrOversize
	}
	dec, err := DecodeMemberRecord(out)
	if err != nil {
		return nil, err
	}
	*r = *dec
	return out, nil
}

// Raw returns the record's encoding as signed (nil for a record that was
// neither signed nor decoded).
func (r *MemberRecord) Raw() []byte { return r.raw }

// DecodeMemberRecord parses a record without checking its signature (see
// Verify). It never panics and keeps a copy of data.
func DecodeMemberRecord(data []byte) (*MemberRecord, error) {
	if len(data) > MaxMemberRecordSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrOversize, len(data), MaxMemberRecordSize)
	}
	data = bytes.Clone(data)
	r := newWireReader(data)
	if v := r.U8(); r.Err == nil && v != swimWireVersion {
		return nil, fmt.Errorf("%w: %d", ErrBadVersion, v)
	}
	out := &MemberRecord{Kind: SwimKind(r.U8())}
	pool := r.Bytes(maxPoolIDLen)
	pid := r.Bytes(maxPeerIDLen)
	out.Seq = r.Uvarint()
	ms := r.Uvarint()
	out.OuterStep = r.Uvarint()
	out.CheckpointVersion = r.Uvarint()
	out.Hardware = readHardware(r)
	admission := r.Bytes(MaxInviteSize)
	naddrs := r.UvarintMax(maxRecordAddrs)
	var raw [][]byte
	for i := uint64(0); i < naddrs && r.Err == nil; i++ {
		raw = append(raw, r.Bytes(maxAddrLen))
	}
	signedLen := len(data) - len(r.B)
	sig := r.Bytes(maxSigLen)
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.B) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.B))
	}
	if out.Kind != SwimAlive && out.Kind != SwimLeave {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKind, out.Kind)
	}
	out.Pool = string(pool)
	if err := ValidatePoolID(out.Pool); err != nil {
		return nil, err
	}
	id, err := peer.IDFromBytes(pid)
	if err != nil {
		return nil, fmt.Errorf("%w: peer ID: %v", ErrMalformed, err)
	}
	out.Peer = id
	if ms > 1<<62 {
		return nil, fmt.Errorf("%w: time out of range", ErrMalformed)
	}
	out.Time = time.UnixMilli(int64(ms))
	if len(admission) > 0 {
		out.Admission = admission
	}
	for _, a := range raw {
		addr, err := ma.NewMultiaddrBytes(a)
		if err != nil {
			return nil, fmt.Errorf("%w: address: %v", ErrMalformed, err)
		}
		if !bytes.Equal(addr.Bytes(), a) {
			return nil, fmt.Errorf("%w: non-canonical address", ErrMalformed)
		}
		out.Addrs = append(out.Addrs, addr)
	}
	out.Signature = sig
	out.signed = data[:signedLen]
	out.raw = data
	return out, nil
}

// Verify checks that the record is signed by the key of its subject.
func (r *MemberRecord) Verify() error {
	pub, err := r.Peer.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: no public key in peer ID %s: %v", ErrBadRecordSignature, r.Peer, err)
	}
	if r.signed == nil {
		return fmt.Errorf("%w: record not decoded", ErrBadRecordSignature)
	}
	ok, err := pub.Verify(append([]byte(swimRecordDomain), r.signed...), r.Signature)
	if err != nil || !ok {
		return ErrBadRecordSignature
	}
	return nil
}

// MarshalBinary encodes a suspicion.
func (s *Suspicion) MarshalBinary() ([]byte, error) {
	if err := ValidatePoolID(s.Pool); err != nil {
		return nil, err
	}
	pid := []byte(s.Subject)
	if len(pid) == 0 || len(pid) > maxPeerIDLen {
		return nil, fmt.Errorf("%w: peer ID", ErrMalformed)
	}
	kind := SwimSuspect
	if s.Definite {
		kind = SwimSuspectDefinite
	}
	b := []byte{swimWireVersion, byte(kind)}
	b = appendBytes(b, []byte(s.Pool))
	b = appendBytes(b, pid)
	b = binary.AppendUvarint(b, s.Seq)
	return binary.AppendUvarint(b, uint64(max(s.Time.UnixMilli(), 0))), nil
}

// DecodeSwimGossip decodes a SWIM message from the pool topic: a member
// record (alive or leave, signature not yet checked) or a suspicion.
func DecodeSwimGossip(data []byte) (*MemberRecord, *Suspicion, error) {
	if len(data) > MaxSwimGossipSize {
		return nil, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrOversize, len(data), MaxSwimGossipSize)
	}
	if len(data) >= 2 && data[0] == swimWireVersion && SwimKind(data[1]) != SwimSuspect && SwimKind(data[1]) != SwimSuspectDefinite {
		rec, err := DecodeMemberRecord(data)
		return rec, nil, err
	}
	r := newWireReader(data)
	if v := r.U8(); r.Err == nil && v != swimWireVersion {
		return nil, nil, fmt.Errorf("%w: %d", ErrBadVersion, v)
	}
	var s Suspicion
	s.Definite = SwimKind(r.U8()) == SwimSuspectDefinite
	pool := r.Bytes(maxPoolIDLen)
	pid := r.Bytes(maxPeerIDLen)
	s.Seq = r.Uvarint()
	ms := r.Uvarint()
	if r.Err != nil {
		return nil, nil, r.Err
	}
	if len(r.B) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.B))
	}
	s.Pool = string(pool)
	if err := ValidatePoolID(s.Pool); err != nil {
		return nil, nil, err
	}
	id, err := peer.IDFromBytes(pid)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: peer ID: %v", ErrMalformed, err)
	}
	s.Subject = id
	if ms > 1<<62 {
		return nil, nil, fmt.Errorf("%w: time out of range", ErrMalformed)
	}
	s.Time = time.UnixMilli(int64(ms))
	return nil, &s, nil
}

// Probe-protocol frames.
const (
	swimFramePing     = 1 // knownSeq (of the target), proberSeq
	swimFrameAck      = 2 // seq, flags, record (empty unless the prober's is older)
	swimFramePingReq  = 3 // target peer ID, knownSeq
	swimFrameResult   = 4 // 1 when the target answered the indirect ping
	swimFrameSync     = 5 // digest (32 bytes), requester's own record
	swimFrameRecords  = 6 // digest (32 bytes), count, records
	maxSwimSmallFrame = 2 * MaxMemberRecordSize
	// maxSwimSyncFrame bounds an anti-entropy answer.
	maxSwimSyncFrame = 1 << 20

	ackWantRecord = 1 // the target does not have the prober's current record
	ackSuspectYou = 2 // the target holds the prober as suspect, dead or left

	pingSuspected = 1 // the prober holds the target as suspect: refute
)

// swimFrame is one decoded probe-protocol frame.
type swimFrame struct {
	Type      byte
	KnownSeq  uint64 // ping, ping-req: the sender's seq of the target
	Seq       uint64 // ping: the prober's own seq; ack: the target's seq
	Flags     byte   // ping (pingSuspected), ack (ackWantRecord, ackSuspectYou)
	Target    peer.ID
	OK        bool     // result
	Digest    []byte   // sync, records (32 bytes)
	Records   [][]byte // ack (0 or 1), sync (0 or 1), records
	frameSize int
}

func (f *swimFrame) encode() ([]byte, error) {
	b := []byte{f.Type}
	switch f.Type {
	case swimFramePing:
		b = binary.AppendUvarint(b, f.KnownSeq)
		b = binary.AppendUvarint(b, f.Seq)
		b = append(b, f.Flags)
	case swimFrameAck:
		b = binary.AppendUvarint(b, f.Seq)
		b = append(b, f.Flags)
		var rec []byte
		if len(f.Records) > 0 {
			rec = f.Records[0]
		}
		b = appendBytes(b, rec)
	case swimFramePingReq:
		b = appendBytes(b, []byte(f.Target))
		b = binary.AppendUvarint(b, f.KnownSeq)
	case swimFrameResult:
		if f.OK {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case swimFrameSync, swimFrameRecords:
		if len(f.Digest) != 32 {
			return nil, fmt.Errorf("%w: digest of %d bytes", ErrMalformed, len(f.Digest))
		}
		b = append(b, f.Digest...)
		if f.Type == swimFrameRecords {
			b = binary.AppendUvarint(b, uint64(len(f.Records)))
			for _, r := range f.Records {
				b = appendBytes(b, r)
			}
		} else {
			var rec []byte
			if len(f.Records) > 0 {
				rec = f.Records[0]
			}
			b = appendBytes(b, rec)
		}
	default:
		return nil, fmt.Errorf("%w: frame type %d", ErrUnknownKind, f.Type)
	}
	return b, nil
}

// decodeSwimFrame parses one frame body. Records are copied out and not yet
// decoded; the number of records is bounded by the body's size.
func decodeSwimFrame(body []byte) (*swimFrame, error) {
	r := newWireReader(body)
	f := &swimFrame{Type: r.U8(), frameSize: len(body)}
	switch f.Type {
	case swimFramePing:
		f.KnownSeq = r.Uvarint()
		f.Seq = r.Uvarint()
		f.Flags = r.U8()
		if f.Flags&^pingSuspected != 0 {
			r.Fail("flags")
		}
	case swimFrameAck:
		f.Seq = r.Uvarint()
		f.Flags = r.U8()
		if rec := r.Bytes(MaxMemberRecordSize); len(rec) > 0 {
			f.Records = [][]byte{bytes.Clone(rec)}
		}
		if f.Flags&^(ackWantRecord|ackSuspectYou) != 0 {
			r.Fail("flags")
		}
	case swimFramePingReq:
		pid := r.Bytes(maxPeerIDLen)
		f.KnownSeq = r.Uvarint()
		if r.Err == nil {
			id, err := peer.IDFromBytes(pid)
			if err != nil {
				return nil, fmt.Errorf("%w: peer ID: %v", ErrMalformed, err)
			}
			f.Target = id
		}
	case swimFrameResult:
		switch r.U8() {
		case 0:
		case 1:
			f.OK = true
		default:
			r.Fail("result")
		}
	case swimFrameSync, swimFrameRecords:
		f.Digest = bytes.Clone(r.Fixed(32))
		if f.Type == swimFrameRecords {
			n := r.UvarintMax(uint64(len(r.B)))
			for i := uint64(0); i < n && r.Err == nil; i++ {
				if rec := r.Bytes(MaxMemberRecordSize); r.Err == nil {
					f.Records = append(f.Records, bytes.Clone(rec))
				}
			}
		} else if rec := r.Bytes(MaxMemberRecordSize); len(rec) > 0 {
			f.Records = [][]byte{bytes.Clone(rec)}
		}
	default:
		if r.Err == nil {
			return nil, fmt.Errorf("%w: frame type %d", ErrUnknownKind, f.Type)
		}
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.B) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.B))
	}
	return f, nil
}
