package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/internal/wirefmt"
	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/toploc"
)

// Wire format of a work submission (version 1), gossiped on
// p2p.TopicName(pool, "work"). Integers are unsigned varints in their
// shortest form; byte strings are a varint length followed by the bytes.
//
//	version     byte   (1)
//	pool        string (1..64 bytes, p2p.ValidatePoolID)
//	worker      bytes  (the worker's peer ID; must be the message's signer)
//	outerStep   uvarint
//	ckptVersion uvarint
//	input       bytes  (<= MaxWorkInputSize: the task, or a seed or CID that determines it)
//	outputHash  32 bytes (SHA-256 of the work's output)
//	proof       bytes  (TOPLOC binary container, canonical; <= MaxWorkProofSize)
//
// Trailing bytes, overlong varints and non-canonical proofs are errors, so
// every valid submission has exactly one encoding, and its ID, the SHA-256
// of that encoding, names it everywhere (gossip, verdicts, the ledger).
const (
	workWireVersion = 1
	// MaxWorkSubmissionSize bounds an encoded submission (256 KiB): room for
	// a proof of about 30,000 tokens at TOPLOC's defaults (258 bytes per 32
	// tokens), a quarter of gossipsub's message limit.
	MaxWorkSubmissionSize = 256 << 10
	// MaxWorkInputSize bounds the task input carried inline; larger tasks
	// travel by reference (a CID or a seed).
	MaxWorkInputSize = 4 << 10
	// MaxWorkProofSize bounds the proof bytes.
	MaxWorkProofSize = MaxWorkSubmissionSize - MaxWorkInputSize - 256

	maxWorkPoolLen = 64
	maxWorkPeerLen = 64
)

// Errors of the work submission codec. ErrWorkMalformed wraps every
// structural problem.
var (
	ErrWorkMalformed = errors.New("node: malformed work submission")
	ErrWorkOversize  = errors.New("node: work submission too large")
)

// WorkID names a work submission: the SHA-256 of its encoding. It is the
// work hash a ledger records.
type WorkID [32]byte

// String returns the ID in hex.
func (id WorkID) String() string { return hex.EncodeToString(id[:]) }

// WorkSubmission is one unit of work a worker reports: which task it ran
// (Input), against which checkpoint, what it produced (OutputHash) and the
// TOPLOC proof of the last hidden states of that inference.
type WorkSubmission struct {
	Pool              string
	Worker            peer.ID
	OuterStep         uint64
	CheckpointVersion uint64
	Input             []byte
	OutputHash        [32]byte
	Proof             []byte // toploc.Proof in its binary container
}

// ID returns the submission's ID, the SHA-256 of its encoding, or the zero
// ID when it cannot be encoded.
func (w *WorkSubmission) ID() WorkID {
	b, err := w.MarshalBinary()
	if err != nil {
		return WorkID{}
	}
	return sha256.Sum256(b)
}

// ProofHash returns the SHA-256 of the proof bytes (the proof hash a ledger
// records next to the work hash).
func (w *WorkSubmission) ProofHash() [32]byte { return sha256.Sum256(w.Proof) }

// ParseProof decodes the submission's proof.
func (w *WorkSubmission) ParseProof() (*toploc.Proof, error) { return toploc.ParseProof(w.Proof) }

// MarshalBinary encodes w in the version-1 wire format.
func (w *WorkSubmission) MarshalBinary() ([]byte, error) {
	if err := p2p.ValidatePoolID(w.Pool); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkMalformed, err)
	}
	pid := []byte(w.Worker)
	if len(pid) == 0 || len(pid) > maxWorkPeerLen {
		return nil, fmt.Errorf("%w: worker peer ID of %d bytes", ErrWorkMalformed, len(pid))
	}
	if len(w.Input) > MaxWorkInputSize {
		return nil, fmt.Errorf("%w: input of %d bytes (limit %d)", ErrWorkOversize, len(w.Input), MaxWorkInputSize)
	}
	if len(w.Proof) > MaxWorkProofSize {
		return nil, fmt.Errorf("%w: proof of %d bytes (limit %d)", ErrWorkOversize, len(w.Proof), MaxWorkProofSize)
	}
	if err := checkCanonicalProof(w.Proof); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(pid)+len(w.Input)+len(w.Proof))
	b = append(b, workWireVersion)
	b = appendWorkBytes(b, []byte(w.Pool))
	b = appendWorkBytes(b, pid)
	b = binary.AppendUvarint(b, w.OuterStep)
	b = binary.AppendUvarint(b, w.CheckpointVersion)
	b = appendWorkBytes(b, w.Input)
	b = append(b, w.OutputHash[:]...)
	b = appendWorkBytes(b, w.Proof)
	return b, nil
}

// UnmarshalBinary decodes a version-1 work submission. It never panics,
// refuses anything over MaxWorkSubmissionSize before reading it, and checks
// that the proof is a canonical TOPLOC container.
func (w *WorkSubmission) UnmarshalBinary(data []byte) error {
	if len(data) > MaxWorkSubmissionSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrWorkOversize, len(data), MaxWorkSubmissionSize)
	}
	r := wirefmt.NewReader(data, ErrWorkMalformed)
	if v := r.U8(); r.Err == nil && v != workWireVersion {
		return fmt.Errorf("%w: version %d (this node speaks %d)", ErrWorkMalformed, v, workWireVersion)
	}
	var out WorkSubmission
	pool := r.Bytes(maxWorkPoolLen)
	pid := r.Bytes(maxWorkPeerLen)
	out.OuterStep = r.Uvarint()
	out.CheckpointVersion = r.Uvarint()
	input := r.Bytes(MaxWorkInputSize)
	copy(out.OutputHash[:], r.Fixed(32))
	proof := r.Bytes(MaxWorkProofSize)
	if r.Err != nil {
		return r.Err
	}
	if len(r.B) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrWorkMalformed, len(r.B))
	}
	out.Pool = string(pool)
	if err := p2p.ValidatePoolID(out.Pool); err != nil {
		return fmt.Errorf("%w: %w", ErrWorkMalformed, err)
	}
	id, err := peer.IDFromBytes(pid)
	if err != nil {
		return fmt.Errorf("%w: worker peer ID: %v", ErrWorkMalformed, err)
	}
	out.Worker = id
	if err := checkCanonicalProof(proof); err != nil {
		return err
	}
	if len(input) > 0 {
		out.Input = bytes.Clone(input)
	}
	out.Proof = bytes.Clone(proof)
	*w = out
	return nil
}

// checkCanonicalProof accepts only a binary TOPLOC container that encodes
// back to the same bytes.
func checkCanonicalProof(b []byte) error {
	p, err := toploc.ParseProof(b)
	if err != nil {
		return fmt.Errorf("%w: proof: %w", ErrWorkMalformed, err)
	}
	again, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("%w: proof: %w", ErrWorkMalformed, err)
	}
	if !bytes.Equal(again, b) {
		return fmt.Errorf("%w: proof is not a canonical binary TOPLOC container", ErrWorkMalformed)
	}
	return nil
}

func appendWorkBytes(b, s []byte) []byte { return wirefmt.AppendBytes(b, s) }
