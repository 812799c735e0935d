package p2p

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A pool descriptor is a researcher's signed statement of what a pool trains,
// how, and who may join. Its ID is self-certifying: the slug the owner chose
// followed by 16 base32 characters of a hash of the owner's public key and
// the slug, so nobody but the owner can publish a descriptor for that ID.
//
// Wire format (version 1). Integers are unsigned varints, strings and byte
// strings a varint length then bytes, floats the IEEE-754 bits as a
// big-endian uint64:
//
//	version      byte (1)
//	id           string  (slug-xxxxxxxxxxxxxxxx, <= 64)
//	owner        bytes   (libp2p public key, protobuf; Ed25519, <= 64)
//	seq          uvarint (strictly increasing per update)
//	updated      uvarint (unix milliseconds)
//	flags        uvarint (bit 0: closed)
//	name         string  (<= 128, UTF-8)
//	description  string  (<= 2048, UTF-8)
//	model        string  (<= 256, UTF-8)
//	model CID    bytes   (<= 128, empty or a CID)
//	data         string  (<= 256, UTF-8)
//	data CID     bytes   (<= 128, empty or a CID)
//	inner steps  uvarint (1..1e6)
//	outer lr     float64
//	momentum     float64
//	quantization byte (0 float32, 1 int8)
//	shard size   uvarint (bytes)
//	min hardware: gpu memory MiB, bandwidth Mbps, cpu cores, memory MiB uvarints
//	admission    byte (0 open, 1 invite-only)
//	checkpoint   bytes   (<= 128, empty or the manifest CID)
//	chain ID     uvarint (0: no chain)
//	chain pool   uvarint
//	contract     bytes   (empty or the 20-byte ComputePools address)
//	chain owner  bytes   (empty or the owner's 20-byte Ethereum address, which signs chain invites)
//	domain       uvarint (the on-chain domain of the pool)
//	signature    bytes   (<= 128), Ed25519 over "openpool/pool/v1\x00" || all bytes above
//
// Trailing bytes are an error; every descriptor has exactly one encoding.
const (
	descriptorVersion = 1
	// MaxDescriptorSize bounds an encoded pool descriptor.
	MaxDescriptorSize = 8 << 10

	poolIDHashLen      = 16
	maxPoolSlugLen     = maxPoolIDLen - poolIDHashLen - 1
	maxPoolNameLen     = 128
	maxPoolDescLen     = 2048
	maxPoolTextLen     = 256
	maxCIDLen          = 128
	maxPubKeyLen       = 64
	maxSignatureLen    = 128
	maxInnerSteps      = 1_000_000
	descriptorSigLabel = "openpool/pool/v1\x00"
	poolIDHashLabel    = "openpool/pool-id/v1\x00"
)

// Descriptor errors.
var (
	ErrBadDescriptor = errors.New("invalid pool descriptor")
	ErrBadSignature  = errors.New("pool descriptor signature does not verify")
	ErrNotOwner      = errors.New("pool ID does not belong to this owner key")
)

// Admission says who may join a pool.
type Admission uint8

// Admission policies.
const (
	AdmitOpen   Admission = 0 // anyone who meets the hardware minimums
	AdmitInvite Admission = 1 // only holders of an owner-signed invite
)

func (a Admission) String() string {
	switch a {
	case AdmitOpen:
		return "open"
	case AdmitInvite:
		return "invite"
	}
	return fmt.Sprintf("admission(%d)", uint8(a))
}

// ParseAdmission reads "open" or "invite".
func ParseAdmission(s string) (Admission, error) {
	switch strings.ToLower(s) {
	case "", "open":
		return AdmitOpen, nil
	case "invite", "invite-only":
		return AdmitInvite, nil
	}
	return 0, fmt.Errorf("admission %q: use open or invite", s)
}

// MarshalText writes the policy name (for JSON and TOML).
func (a Admission) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads the policy name.
func (a *Admission) UnmarshalText(b []byte) error {
	v, err := ParseAdmission(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Quantization names how pseudo-gradients are sent in the all-reduce.
type Quantization uint8

// Quantization schemes (see the diloco package).
const (
	QuantFloat32 Quantization = 0
	QuantInt8    Quantization = 1
)

func (q Quantization) String() string {
	switch q {
	case QuantFloat32:
		return "float32"
	case QuantInt8:
		return "int8"
	}
	return fmt.Sprintf("quantization(%d)", uint8(q))
}

// MarshalText writes the scheme name.
func (q Quantization) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads "float32" or "int8".
func (q *Quantization) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "float32", "fp32", "":
		*q = QuantFloat32
	case "int8":
		*q = QuantInt8
	default:
		return fmt.Errorf("quantization %q: use float32 or int8", b)
	}
	return nil
}

// MinHardware is what a node needs to be admitted to a pool. Zero fields
// impose nothing.
type MinHardware struct {
	GPUMemoryMiB  uint64 `json:"gpu_memory_mib,omitempty" toml:"gpu_memory_mib"`
	BandwidthMbps uint64 `json:"bandwidth_mbps,omitempty" toml:"bandwidth_mbps"`
	CPUCores      uint64 `json:"cpu_cores,omitempty" toml:"cpu_cores"`
	MemoryMiB     uint64 `json:"memory_mib,omitempty" toml:"memory_mib"`
}

// Check reports the first minimum that hw falls short of.
func (m MinHardware) Check(hw Hardware) error {
	switch {
	case hw.GPUMemoryMiB < m.GPUMemoryMiB:
		return fmt.Errorf("GPU memory %d MiB is below the pool's minimum %d MiB", hw.GPUMemoryMiB, m.GPUMemoryMiB)
	case m.BandwidthMbps > 0 && hw.BandwidthMbps < m.BandwidthMbps:
		return fmt.Errorf("bandwidth %d Mbit/s is below the pool's minimum %d Mbit/s", hw.BandwidthMbps, m.BandwidthMbps)
	case uint64(hw.CPUCores) < m.CPUCores:
		return fmt.Errorf("%d CPU cores is below the pool's minimum %d", hw.CPUCores, m.CPUCores)
	case hw.MemoryMiB < m.MemoryMiB:
		return fmt.Errorf("memory %d MiB is below the pool's minimum %d MiB", hw.MemoryMiB, m.MemoryMiB)
	}
	return nil
}

// PoolParams are the training parameters a pool descriptor fixes.
type PoolParams struct {
	InnerSteps    uint64       `json:"inner_steps" toml:"inner_steps"`
	OuterLR       float64      `json:"outer_lr" toml:"outer_lr"`
	OuterMomentum float64      `json:"outer_momentum" toml:"outer_momentum"`
	Quantization  Quantization `json:"quantization" toml:"quantization"`
	ShardSize     uint64       `json:"shard_size" toml:"shard_size"`
}

// PoolDescriptor is the signed description of a pool.
type PoolDescriptor struct {
	ID          string        `json:"id"`
	Owner       crypto.PubKey `json:"-"`
	Seq         uint64        `json:"seq"`
	Updated     time.Time     `json:"updated"`
	Closed      bool          `json:"closed,omitempty"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Model       string        `json:"model,omitempty"`
	ModelCID    cid.Cid       `json:"model_cid,omitzero"`
	Data        string        `json:"data,omitempty"`
	DataCID     cid.Cid       `json:"data_cid,omitzero"`
	Params      PoolParams    `json:"params"`
	MinHardware MinHardware   `json:"min_hardware"`
	Admission   Admission     `json:"admission"`
	Checkpoint  cid.Cid       `json:"checkpoint,omitzero"`
	ChainID     uint64        `json:"chain_id,omitempty"`
	ChainPoolID uint64        `json:"chain_pool_id,omitempty"`
	// ChainContract, ChainOwner and ChainDomainID let members check the
	// EIP-712 invites the chain contract accepts without asking the chain.
	ChainContract [20]byte `json:"chain_contract,omitzero"`
	ChainOwner    [20]byte `json:"chain_owner,omitzero"`
	ChainDomainID uint64   `json:"chain_domain_id,omitempty"`
	Signature     []byte   `json:"-"`
}

var poolSlugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ValidatePoolSlug reports whether s can start a pool ID: 1 to 47 lowercase
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func ValidatePoolSlug(s string) error {
	if len(s) == 0 || len(s) > maxPoolSlugLen || !poolSlugPattern.MatchString(s) {
		return fmt.Errorf("%w: pool slug %q: use 1-%d lowercase letters, digits, '.', '_' or '-'", ErrBadPoolID, s, maxPoolSlugLen)
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DerivePoolID returns the self-certifying pool ID for slug under owner.
func DerivePoolID(owner crypto.PubKey, slug string) (string, error) {
	if err := ValidatePoolSlug(slug); err != nil {
		return "", err
	}
	raw, err := crypto.MarshalPublicKey(owner)
	if err != nil {
		return "", fmt.Errorf("pool ID: owner key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(poolIDHashLabel))
	h.Write(binary.AppendUvarint(nil, uint64(len(raw))))
	h.Write(raw)
	h.Write([]byte(slug))
	return slug + "-" + idEncoding.EncodeToString(h.Sum(nil))[:poolIDHashLen], nil
}

// SplitPoolID returns the slug of a self-certifying pool ID, and false when
// id does not have that form (a plain pool name such as "demo").
func SplitPoolID(id string) (slug string, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || len(id)-i-1 != poolIDHashLen {
		return "", false
	}
	for _, c := range id[i+1:] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	if ValidatePoolSlug(id[:i]) != nil {
		return "", false
	}
	return id[:i], true
}

// CheckOwner reports whether id is the pool ID that owner derives.
func CheckOwner(id string, owner crypto.PubKey) error {
	slug, ok := SplitPoolID(id)
	if !ok {
		return fmt.Errorf("%w: %q is not a self-certifying pool ID", ErrBadPoolID, id)
	}
	want, err := DerivePoolID(owner, slug)
	if err != nil {
		return err
	}
	if want != id {
		return fmt.Errorf("%w: %s", ErrNotOwner, id)
	}
	return nil
}

// OwnerID is the peer ID of the pool's owner.
func (d *PoolDescriptor) OwnerID() peer.ID {
	if d.Owner == nil {
		return ""
	}
	id, err := peer.IDFromPublicKey(d.Owner)
	if err != nil {
		return ""
	}
	return id
}

func (d *PoolDescriptor) check() error {
	if d.Owner == nil {
		return fmt.Errorf("%w: no owner key", ErrBadDescriptor)
	}
	if err := CheckOwner(d.ID, d.Owner); err != nil {
		return err
	}
	texts := []struct {
		name string
		v    string
		max  int
	}{{"name", d.Name, maxPoolNameLen}, {"description", d.Description, maxPoolDescLen}, {"model", d.Model, maxPoolTextLen}, {"data", d.Data, maxPoolTextLen}}
	for _, t := range texts {
		if len(t.v) > t.max || !utf8.ValidString(t.v) {
			return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrBadDescriptor, t.name, t.max)
		}
	}
	p := d.Params
	if p.InnerSteps == 0 || p.InnerSteps > maxInnerSteps {
		return fmt.Errorf("%w: inner steps %d: use 1 to %d", ErrBadDescriptor, p.InnerSteps, maxInnerSteps)
	}
	if !(p.OuterLR > 0 && p.OuterLR <= 10) {
		return fmt.Errorf("%w: outer learning rate %v: use (0, 10]", ErrBadDescriptor, p.OuterLR)
	}
	if !(p.OuterMomentum >= 0 && p.OuterMomentum < 1) {
		return fmt.Errorf("%w: outer momentum %v: use [0, 1)", ErrBadDescriptor, p.OuterMomentum)
	}
	if p.Quantization > QuantInt8 {
		return fmt.Errorf("%w: unknown quantization %d", ErrBadDescriptor, p.Quantization)
	}
	if p.ShardSize != 0 && (p.ShardSize < 4<<10 || p.ShardSize > 64<<20) {
		return fmt.Errorf("%w: shard size %d: use 4 KiB to 64 MiB", ErrBadDescriptor, p.ShardSize)
	}
	if d.Admission > AdmitInvite {
		return fmt.Errorf("%w: unknown admission policy %d", ErrBadDescriptor, d.Admission)
	}
	return nil
}

func appendCID(b []byte, c cid.Cid) []byte {
	if !c.Defined() {
		return appendBytes(b, nil)
	}
	return appendBytes(b, c.Bytes())
}

// appendAddress writes an Ethereum address, or nothing for the zero one.
func appendAddress(b []byte, a [20]byte) []byte {
	if a == ([20]byte{}) {
		return appendBytes(b, nil)
	}
	return appendBytes(b, a[:])
}

func (r *wireReader) address(what string) (a [20]byte) {
	v := r.Bytes(20)
	if r.Err == nil && len(v) != 0 && len(v) != 20 {
		r.Fail(what)
	}
	copy(a[:], v)
	return a
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// unsigned encodes everything the signature covers.
func (d *PoolDescriptor) unsigned() ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	owner, err := crypto.MarshalPublicKey(d.Owner)
	if err != nil || len(owner) > maxPubKeyLen {
		return nil, fmt.Errorf("%w: owner key", ErrBadDescriptor)
	}
	b := make([]byte, 0, 512)
	b = append(b, descriptorVersion)
	b = appendBytes(b, []byte(d.ID))
	b = appendBytes(b, owner)
	b = binary.AppendUvarint(b, d.Seq)
	b = binary.AppendUvarint(b, uint64(max(d.Updated.UnixMilli(), 0)))
	var flags uint64
	if d.Closed {
		flags |= 1
	}
	b = binary.AppendUvarint(b, flags)
	b = appendBytes(b, []byte(d.Name))
	b = appendBytes(b, []byte(d.Description))
	b = appendBytes(b, []byte(d.Model))
	b = appendCID(b, d.ModelCID)
	b = appendBytes(b, []byte(d.Data))
	b = appendCID(b, d.DataCID)
	b = binary.AppendUvarint(b, d.Params.InnerSteps)
	b = appendFloat(b, d.Params.OuterLR)
	b = appendFloat(b, d.Params.OuterMomentum)
	b = append(b, byte(d.Params.Quantization))
	b = binary.AppendUvarint(b, d.Params.ShardSize)
	m := d.MinHardware
	b = binary.AppendUvarint(b, m.GPUMemoryMiB)
	b = binary.AppendUvarint(b, m.BandwidthMbps)
	b = binary.AppendUvarint(b, m.CPUCores)
	b = binary.AppendUvarint(b, m.MemoryMiB)
	b = append(b, byte(d.Admission))
	b = appendCID(b, d.Checkpoint)
	b = binary.AppendUvarint(b, d.ChainID)
	b = binary.AppendUvarint(b, d.ChainPoolID)
	b = appendAddress(b, d.ChainContract)
	b = appendAddress(b, d.ChainOwner)
	b = binary.AppendUvarint(b, d.ChainDomainID)
	return b, nil
}

func signedMessage(unsigned []byte) []byte {
	return append([]byte(descriptorSigLabel), unsigned...)
}

// Sign sets d.Owner to key's public half, d.Updated to now when zero, and
// signs d. The ID must be the one DerivePoolID gives for that key.
func (d *PoolDescriptor) Sign(key crypto.PrivKey) error {
	d.Owner = key.GetPublic()
	if d.Updated.IsZero() {
		d.Updated = time.Now()
	}
	d.Updated = d.Updated.Truncate(time.Millisecond)
	u, err := d.unsigned()
	if err != nil {
		return err
	}
	sig, err := key.Sign(signedMessage(u))
	if err != nil {
		return fmt.Errorf("pool descriptor: sign: %w", err)
	}
	d.Signature = sig
	return nil
}

// MarshalBinary encodes a signed descriptor.
func (d *PoolDescriptor) MarshalBinary() ([]byte, error) {
	if len(d.Signature) == 0 || len(d.Signature) > maxSignatureLen {
		return nil, fmt.Errorf("%w: not signed", ErrBadDescriptor)
	}
	b, err := d.unsigned()
	if err != nil {
		return nil, err
	}
	b = appendBytes(b, d.Signature)
	if len(b) > MaxDescriptorSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadDescriptor, len(b), MaxDescriptorSize)
	}
	return b, nil
}

func (r *wireReader) cid(what string) cid.Cid {
	b := r.Bytes(maxCIDLen)
	if r.Err != nil || len(b) == 0 {
		return cid.Undef
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil || n != len(b) {
		r.Fail(what)
		return cid.Undef
	}
	return c
}

func (r *wireReader) float() float64 {
	if r.Err != nil || len(r.B) < 8 {
		r.Fail("float")
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(r.B))
	r.B = r.B[8:]
	return v
}

// DecodePoolDescriptor decodes and verifies a descriptor: its encoding, its
// fields, that its ID belongs to its owner key, and the owner's signature.
// It never panics and allocates in proportion to len(data) only.
func DecodePoolDescriptor(data []byte) (*PoolDescriptor, error) {
	if len(data) > MaxDescriptorSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrBadDescriptor, len(data), MaxDescriptorSize)
	}
	r := newWireReader(data)
	if v := r.U8(); r.Err == nil && v != descriptorVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrBadDescriptor, v)
	}
	var d PoolDescriptor
	id := r.Bytes(maxPoolIDLen)
	owner := r.Bytes(maxPubKeyLen)
	d.Seq = r.Uvarint()
	ms := r.UvarintMax(1 << 50)
	flags := r.UvarintMax(1)
	d.Closed = flags&1 != 0
	d.Name = string(r.Bytes(maxPoolNameLen))
	d.Description = string(r.Bytes(maxPoolDescLen))
	d.Model = string(r.Bytes(maxPoolTextLen))
	d.ModelCID = r.cid("model CID")
	d.Data = string(r.Bytes(maxPoolTextLen))
	d.DataCID = r.cid("data CID")
	d.Params.InnerSteps = r.Uvarint()
	d.Params.OuterLR = r.float()
	d.Params.OuterMomentum = r.float()
	d.Params.Quantization = Quantization(r.U8())
	d.Params.ShardSize = r.Uvarint()
	d.MinHardware.GPUMemoryMiB = r.Uvarint()
	d.MinHardware.BandwidthMbps = r.Uvarint()
	d.MinHardware.CPUCores = r.Uvarint()
	d.MinHardware.MemoryMiB = r.Uvarint()
	d.Admission = Admission(r.U8())
	d.Checkpoint = r.cid("checkpoint CID")
	d.ChainID = r.Uvarint()
	d.ChainPoolID = r.Uvarint()
	d.ChainContract = r.address("contract")
	d.ChainOwner = r.address("chain owner")
	d.ChainDomainID = r.Uvarint()
	signedLen := len(data) - len(r.B)
	sig := r.Bytes(maxSignatureLen)
	if r.Err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDescriptor, r.Err)
	}
	if len(r.B) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadDescriptor, len(r.B))
	}
	d.ID = string(id)
	d.Updated = time.UnixMilli(int64(ms))
	pk, err := crypto.UnmarshalPublicKey(owner)
	if err != nil {
		return nil, fmt.Errorf("%w: owner key: %v", ErrBadDescriptor, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: owner key must be Ed25519", ErrBadDescriptor)
	}
	d.Owner = pk
	d.Signature = bytes.Clone(sig)
	if err := d.check(); err != nil {
		return nil, err
	}
	// Re-encoding must give the same bytes: one encoding per descriptor
	// (this rejects, for example, NaN payload variants and non-minimal CIDs).
	u, err := d.unsigned()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(u, data[:signedLen]) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadDescriptor)
	}
	ok, err := pk.Verify(signedMessage(u), d.Signature)
	if err != nil || !ok {
		return nil, ErrBadSignature
	}
	return &d, nil
}

// Newer reports whether d supersedes old: a higher sequence number, or on a
// tie the greater encoding, so every node picks the same one.
func (d *PoolDescriptor) Newer(old *PoolDescriptor) bool {
	if old == nil || d.Seq != old.Seq {
		return old == nil || d.Seq > old.Seq
	}
	a, _ := d.MarshalBinary()
	b, _ := old.MarshalBinary()
	return bytes.Compare(a, b) > 0
}
