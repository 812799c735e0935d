// Package wirefmt holds the pieces every openpool binary message format
// shares: unsigned varints with one encoding only, length-prefixed byte
// strings with limits, and a reader with a sticky error so that decoders
// read straight through and check once.
package wirefmt

import (
	"encoding/binary"
	"fmt"
)

// AppendBytes appends s with its uvarint length.
func AppendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UvarintLen is the length of v's uvarint encoding.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Reader decodes with a sticky error. Malformed is the error its failures
// wrap (each format has its own sentinel); B is what is left to read.
type Reader struct {
	B         []byte
	Err       error
	Malformed error
}

// NewReader reads data; failures wrap malformed.
func NewReader(data []byte, malformed error) Reader {
	return Reader{B: data, Malformed: malformed}
}

// Fail records a failure reading what (the first one wins) and stops reading.
func (r *Reader) Fail(what string) {
	if r.Err == nil {
		r.Err = fmt.Errorf("%w: truncated or invalid %s", r.Malformed, what)
	}
	r.B = nil
}

// Fixed reads n bytes.
func (r *Reader) Fixed(n int) []byte {
	if r.Err != nil || len(r.B) < n {
		r.Fail("field")
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8() byte {
	v := r.Fixed(1)
	if v == nil {
		return 0
	}
	return v[0]
}

// Uvarint reads an unsigned varint; overlong encodings are refused so that
// every message has one encoding.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 || n != UvarintLen(v) {
		r.Fail("integer")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// UvarintMax reads an unsigned varint of at most limit.
func (r *Reader) UvarintMax(limit uint64) uint64 {
	v := r.Uvarint()
	if v > limit {
		r.Fail("integer range")
		return 0
	}
	return v
}

// Bytes reads a length-prefixed byte string of at most limit bytes. The
// result aliases the input.
func (r *Reader) Bytes(limit int) []byte {
	n := r.Uvarint()
	if r.Err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(r.B)) {
		r.Fail("length")
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}
