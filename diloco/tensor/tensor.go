// Package tensor holds named float32 tensors and reads and writes them in the
// safetensors format (https://huggingface.co/docs/safetensors), the format the
// DiLoCo trainer API exchanges with external trainers.
//
// A Set keeps its tensors sorted by name, so that every peer flattens the same
// model into the same vector: the all-reduce works on that flat vector.
//
// The safetensors codec is hand-written and strict: the JSON header is limited
// in size (DefaultMaxHeader), offsets must be contiguous, in bounds and match
// dtype x shape exactly, and the total size is limited by the caller. F32 is
// written; F32, F16 and BF16 are read (converted to float32).
package tensor

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// Tensor is a named, dense, row-major float32 array.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Set is an ordered collection of tensors with unique names, sorted by name.
type Set struct {
	ts []Tensor
}

// ErrShape reports a tensor whose data length does not match its shape, or
// two sets with different layouts.
var ErrShape = errors.New("tensor: shape mismatch")

// NumElems is the product of the shape (1 for a scalar).
func NumElems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// NewSet builds a set from tensors; names must be unique and non-empty and
// every Data must have NumElems(Shape) elements. The tensors are not copied.
func NewSet(ts ...Tensor) (*Set, error) {
	s := &Set{ts: slices.Clone(ts)}
	slices.SortFunc(s.ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range s.ts {
		if t.Name == "" {
			return nil, fmt.Errorf("tensor: empty name")
		}
		if i > 0 && s.ts[i-1].Name == t.Name {
			return nil, fmt.Errorf("tensor: duplicate name %q", t.Name)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in %v: %w", t.Name, t.Shape, ErrShape)
			}
		}
		if NumElems(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d elements, has %d: %w", t.Name, t.Shape, NumElems(t.Shape), len(t.Data), ErrShape)
		}
	}
	return s, nil
}

// Tensors returns the tensors sorted by name (shared, not copied).
func (s *Set) Tensors() []Tensor { return s.ts }

// Len is the number of tensors.
func (s *Set) Len() int { return len(s.ts) }

// Get returns the tensor with the given name.
func (s *Set) Get(name string) (Tensor, bool) {
	i, ok := slices.BinarySearchFunc(s.ts, name, func(t Tensor, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return Tensor{}, false
	}
	return s.ts[i], true
}

// NumElems is the total number of float32 values in the set.
func (s *Set) NumElems() int {
	n := 0
	for _, t := range s.ts {
		n += len(t.Data)
	}
	return n
}

// Flatten copies all tensors, in name order, into dst, which must have
// NumElems elements; a nil dst is allocated.
func (s *Set) Flatten(dst []float32) []float32 {
	if dst == nil {
		dst = make([]float32, s.NumElems())
	}
	off := 0
	for _, t := range s.ts {
		off += copy(dst[off:], t.Data)
	}
	return dst
}

// Unflatten builds a set with the layout of s whose data comes from flat.
// The new tensors alias flat.
func (s *Set) Unflatten(flat []float32) (*Set, error) {
	if len(flat) != s.NumElems() {
		return nil, fmt.Errorf("tensor: unflatten %d values into %d: %w", len(flat), s.NumElems(), ErrShape)
	}
	out := &Set{ts: make([]Tensor, len(s.ts))}
	off := 0
	for i, t := range s.ts {
		n := len(t.Data)
		out.ts[i] = Tensor{Name: t.Name, Shape: slices.Clone(t.Shape), Data: flat[off : off+n : off+n]}
		off += n
	}
	return out, nil
}

// Clone deep-copies the set.
func (s *Set) Clone() *Set {
	out, _ := s.Unflatten(s.Flatten(nil))
	return out
}

// SameLayout reports whether o has the same names and shapes as s.
func (s *Set) SameLayout(o *Set) bool {
	if len(s.ts) != len(o.ts) {
		return false
	}
	for i := range s.ts {
		if s.ts[i].Name != o.ts[i].Name || !slices.Equal(s.ts[i].Shape, o.ts[i].Shape) {
			return false
		}
	}
	return true
}

// LayoutHash is a SHA-256 over the names and shapes: peers whose models differ
// get different hashes, so a round between them fails at the handshake.
func (s *Set) LayoutHash() [32]byte {
	h := sha256.New()
	for _, t := range s.ts {
		writeLayout(h, t)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func writeLayout(h hash.Hash, t Tensor) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(t.Name)))
	h.Write(b[:])
	h.Write([]byte(t.Name))
	binary.LittleEndian.PutUint64(b[:], uint64(len(t.Shape)))
	h.Write(b[:])
	for _, d := range t.Shape {
		binary.LittleEndian.PutUint64(b[:], uint64(d))
		h.Write(b[:])
	}
}
