package toploc

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Limits on what a decoder accepts, so that a proof from the network can
// neither allocate without bound nor buy unbounded verification work
// (verifying one chunk costs about TopK² field operations).
const (
	MaxTopK      = 1024
	MaxChunkSize = 65535
	// MaxChunks bounds the chunks of one Proof: 2^20 chunks of 32 tokens
	// are 32 Mi tokens, far beyond any one generation.
	MaxChunks = 1 << 20
)

// ChunkProof is the proof of one chunk of activations, the reference's
// ProofPoly: the injective modulus and the coefficients, ascending powers, of
// the polynomial over GF(Prime) through (index mod Modulus, value bits).
// Modulus 0 marks a null proof, which the reference emits for a chunk it
// could not prove.
type ChunkProof struct {
	Modulus uint16
	Coeffs  []uint16
}

// NullChunkProof is the reference's null proof with k coefficients.
func NullChunkProof(k int) ChunkProof { return ChunkProof{Coeffs: make([]uint16, k)} }

// IsNull reports whether c is a null proof.
func (c ChunkProof) IsNull() bool { return c.Modulus == 0 }

// AppendBinary appends the reference encoding: Modulus then every
// coefficient, each a big-endian uint16 (2 + 2k bytes).
func (c ChunkProof) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, c.Modulus)
	for _, v := range c.Coeffs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b, nil
}

// MarshalBinary returns the reference encoding (ProofPoly.to_bytes).
func (c ChunkProof) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, 2+2*len(c.Coeffs)))
}

// UnmarshalBinary decodes the reference encoding. Unlike the reference,
// which drops a trailing odd byte, it rejects anything but 2 + 2k bytes with
// 1 <= k <= MaxTopK.
func (c *ChunkProof) UnmarshalBinary(b []byte) error {
	if len(b) < 4 || len(b)%2 != 0 {
		return fmt.Errorf("%w: chunk proof of %d bytes (want 2 + 2k, k >= 1)", ErrInvalidProof, len(b))
	}
	k := (len(b) - 2) / 2
	if k > MaxTopK {
		return fmt.Errorf("%w: chunk proof has %d coefficients (limit %d)", ErrInvalidProof, k, MaxTopK)
	}
	c.Modulus = binary.BigEndian.Uint16(b)
	c.Coeffs = make([]uint16, k)
	for i := range c.Coeffs {
		c.Coeffs[i] = binary.BigEndian.Uint16(b[2+2*i:])
	}
	return nil
}

// String returns the reference's text form (ProofPoly.to_base64): standard
// base64 with padding.
func (c ChunkProof) String() string {
	b, _ := c.MarshalBinary()
	return base64.StdEncoding.EncodeToString(b)
}

// ParseChunkProof decodes the reference's base64 text form.
func ParseChunkProof(s string) (ChunkProof, error) {
	if len(s) > base64.StdEncoding.EncodedLen(2+2*MaxTopK) {
		return ChunkProof{}, fmt.Errorf("%w: chunk proof text of %d bytes", ErrInvalidProof, len(s))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ChunkProof{}, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	var c ChunkProof
	return c, c.UnmarshalBinary(b)
}

// Params are the proof parameters of the reference: chunk size in decoded
// tokens (decode_batching_size), the number of committed values per chunk
// (topk), and whether the prompt gets its own proof (skip_prefill false).
type Params struct {
	ChunkSize   int
	TopK        int
	SkipPrefill bool
}

// DefaultParams are the values the reference is used with in practice.
var DefaultParams = Params{ChunkSize: 32, TopK: 128}

func (p Params) validate() error {
	if p.ChunkSize < 1 || p.ChunkSize > MaxChunkSize {
		return fmt.Errorf("chunk size %d out of range 1..%d", p.ChunkSize, MaxChunkSize)
	}
	if p.TopK < 1 || p.TopK > MaxTopK {
		return fmt.Errorf("topk %d out of range 1..%d", p.TopK, MaxTopK)
	}
	return nil
}

// Proof is the proof of one inference: its parameters and one ChunkProof per
// chunk (see Chunks for which rows each covers).
type Proof struct {
	Params
	Chunks []ChunkProof
}

// Validate checks the parameters and that every chunk has TopK coefficients.
func (p *Proof) Validate() error {
	if err := p.Params.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if len(p.Chunks) > MaxChunks {
		return fmt.Errorf("%w: %d chunks (limit %d)", ErrInvalidProof, len(p.Chunks), MaxChunks)
	}
	for i, c := range p.Chunks {
		if len(c.Coeffs) != p.TopK {
			return fmt.Errorf("%w: chunk %d has %d coefficients, topk is %d", ErrInvalidProof, i, len(c.Coeffs), p.TopK)
		}
	}
	return nil
}

// Binary container of a Proof (the reference has none; it passes a list):
//
//	"TPLC" | version (1 byte, 1) | flags (1 byte; bit 0 skip_prefill) |
//	chunk size (uint16) | topk (uint16) | chunk count (uint32) |
//	count × (2 + 2·topk) bytes of reference-encoded chunk proofs
//
// All integers big-endian. The length is fixed by the header, so a decoder
// knows the exact size before it allocates.
const (
	binaryMagic   = "TPLC"
	binaryVersion = 1
	binaryHeader  = 14
	flagSkip      = 1
)

// BinarySize is the size of the binary container for the given parameters.
func (p Params) BinarySize(chunks int) int { return binaryHeader + chunks*(2+2*p.TopK) }

// MarshalBinary encodes p in the binary container.
func (p *Proof) MarshalBinary() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, binaryHeader, p.BinarySize(len(p.Chunks)))
	copy(b, binaryMagic)
	b[4] = binaryVersion
	if p.SkipPrefill {
		b[5] = flagSkip
	}
	binary.BigEndian.PutUint16(b[6:], uint16(p.ChunkSize))
	binary.BigEndian.PutUint16(b[8:], uint16(p.TopK))
	binary.BigEndian.PutUint32(b[10:], uint32(len(p.Chunks)))
	for _, c := range p.Chunks {
		b, _ = c.AppendBinary(b)
	}
	return b, nil
}

// UnmarshalBinary decodes the binary container. It allocates nothing before
// the header has been checked against the length of b.
func (p *Proof) UnmarshalBinary(b []byte) error {
	if len(b) < binaryHeader || string(b[:4]) != binaryMagic {
		return fmt.Errorf("%w: not a binary toploc proof", ErrInvalidProof)
	}
	if b[4] != binaryVersion {
		return fmt.Errorf("%w: binary proof version %d (want %d)", ErrInvalidProof, b[4], binaryVersion)
	}
	if b[5]&^flagSkip != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrInvalidProof, b[5])
	}
	params := Params{
		ChunkSize:   int(binary.BigEndian.Uint16(b[6:])),
		TopK:        int(binary.BigEndian.Uint16(b[8:])),
		SkipPrefill: b[5]&flagSkip != 0,
	}
	if err := params.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	n := binary.BigEndian.Uint32(b[10:])
	if n > MaxChunks {
		return fmt.Errorf("%w: %d chunks (limit %d)", ErrInvalidProof, n, MaxChunks)
	}
	if want := params.BinarySize(int(n)); len(b) != want {
		return fmt.Errorf("%w: %d bytes, header says %d", ErrInvalidProof, len(b), want)
	}
	size := 2 + 2*params.TopK
	// One backing array for every coefficient: two allocations in all.
	coeffs := make([]uint16, int(n)*params.TopK)
	chunks := make([]ChunkProof, n)
	for i := range chunks {
		rec := b[binaryHeader+i*size : binaryHeader+(i+1)*size]
		c := coeffs[i*params.TopK : (i+1)*params.TopK : (i+1)*params.TopK]
		for j := range c {
			c[j] = binary.BigEndian.Uint16(rec[2+2*j:])
		}
		chunks[i] = ChunkProof{Modulus: binary.BigEndian.Uint16(rec), Coeffs: c}
	}
	p.Params = params
	p.Chunks = chunks
	return nil
}

// proofJSON is the text container: the reference's parameter names and its
// base64 proofs, so Python can call
// toploc.verify_proofs_base64(acts, d["proofs"], d["decode_batching_size"], d["topk"], d["skip_prefill"]).
type proofJSON struct {
	Format             string   `json:"format"`
	DecodeBatchingSize int      `json:"decode_batching_size"`
	TopK               int      `json:"topk"`
	SkipPrefill        bool     `json:"skip_prefill"`
	Proofs             []string `json:"proofs"`
}

const jsonFormat = "toploc/1"

// MarshalJSON encodes p as the text container.
func (p *Proof) MarshalJSON() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	j := proofJSON{Format: jsonFormat, DecodeBatchingSize: p.ChunkSize, TopK: p.TopK, SkipPrefill: p.SkipPrefill,
		Proofs: make([]string, len(p.Chunks))}
	for i, c := range p.Chunks {
		j.Proofs[i] = c.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the text container. Callers reading from the
// network should bound the input size first; every proof is checked.
func (p *Proof) UnmarshalJSON(b []byte) error {
	var j proofJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if j.Format != "" && j.Format != jsonFormat {
		return fmt.Errorf("%w: format %q (want %q)", ErrInvalidProof, j.Format, jsonFormat)
	}
	q := Proof{Params: Params{ChunkSize: j.DecodeBatchingSize, TopK: j.TopK, SkipPrefill: j.SkipPrefill}}
	if err := q.Params.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if len(j.Proofs) > MaxChunks {
		return fmt.Errorf("%w: %d chunks (limit %d)", ErrInvalidProof, len(j.Proofs), MaxChunks)
	}
	q.Chunks = make([]ChunkProof, len(j.Proofs))
	for i, s := range j.Proofs {
		c, err := ParseChunkProof(s)
		if err != nil {
			return fmt.Errorf("%w (chunk %d)", err, i)
		}
		q.Chunks[i] = c
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

// ParseProof decodes either container: binary (starts with "TPLC") or JSON.
func ParseProof(b []byte) (*Proof, error) {
	var p Proof
	var err error
	if len(b) >= 4 && string(b[:4]) == binaryMagic {
		err = p.UnmarshalBinary(b)
	} else {
		err = p.UnmarshalJSON(b)
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}
