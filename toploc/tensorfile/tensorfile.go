// Package tensorfile reads and writes the tensors TOPLOC proves: bf16, fp16
// and fp32 arrays in safetensors and NumPy .npy files. Both formats are a
// small header followed by raw little-endian data; every header is size
// limited and checked against the file before anything is allocated.
package tensorfile

import (
	"errors"
	"fmt"
	"math"
	"os"
)

// DType is an element type.
type DType string

// The element types that can be proved; others are read (for listing) but
// not converted.
const (
	BF16 DType = "BF16"
	F16  DType = "F16"
	F32  DType = "F32"
)

// Size is the byte size of one element, 0 for an unsupported type.
func (d DType) Size() int {
	switch d {
	case BF16, F16:
		return 2
	case F32:
		return 4
	}
	return 0
}

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("tensorfile: malformed file")

// ErrUnsupported: a valid file with something this package does not handle.
var ErrUnsupported = errors.New("tensorfile: unsupported")

// Tensor is a dense, row-major, little-endian array.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElements is the product of the shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// numElements multiplies dims, failing on a negative dim or a product above
// limit (so a hostile header cannot overflow the size computation).
func numElements(shape []int, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in shape %v", ErrFormat, shape)
		}
		if d != 0 && n > limit/int64(d) {
			return 0, fmt.Errorf("%w: shape %v exceeds the file", ErrFormat, shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// Uint16s returns the bit patterns of a BF16 or F16 tensor.
func (t Tensor) Uint16s() ([]uint16, error) {
	if t.DType != BF16 && t.DType != F16 {
		return nil, fmt.Errorf("%w: %s is not a 16-bit float", ErrUnsupported, t.DType)
	}
	out := make([]uint16, len(t.Data)/2)
	for i := range out {
		out[i] = uint16(t.Data[2*i]) | uint16(t.Data[2*i+1])<<8
	}
	return out, nil
}

// BF16Bits returns the tensor as bf16 bit patterns: BF16 as stored, F32
// rounded to nearest even (as torch's .to(torch.bfloat16)). F16 is refused:
// convert it with Uint16s and prove it as fp16.
func (t Tensor) BF16Bits() ([]uint16, error) {
	switch t.DType {
	case BF16:
		return t.Uint16s()
	case F32:
		out := make([]uint16, len(t.Data)/4)
		for i := range out {
			b := t.Data[4*i:]
			out[i] = F32ToBF16(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: cannot convert %s to bf16", ErrUnsupported, t.DType)
}

// F32ToBF16 rounds an fp32 bit pattern to bf16, nearest even, NaN to the
// canonical quiet NaN 0x7fc0 (torch's c10::BFloat16 rule).
func F32ToBF16(f uint32) uint16 {
	if f&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((f + 0x7fff + (f>>16)&1) >> 16)
}

// BF16ToF32 widens a bf16 pattern exactly.
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToF16 rounds to IEEE half precision, nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf, NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15:
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		e := uint32(exp - 127 + 15)
		v := e<<10 | mant>>13
		rest := mant & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && v&1 == 1) {
			v++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(v)
	case exp-127 >= -25: // subnormal
		m := mant | 0x800000
		shift := uint(-14-(exp-127)) + 13
		v := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && v&1 == 1) {
			v++
		}
		return sign | uint16(v)
	}
	return sign
}

// F16ToF32 widens a half-precision pattern exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// ReadFile reads one tensor from a .npy or safetensors file, told apart by
// their magic bytes. For safetensors, name selects the tensor; an empty name
// takes the only tensor in the file.
func ReadFile(path, name string) (Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tensor{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Tensor{}, err
	}
	var magic [6]byte
	if _, err := f.ReadAt(magic[:], 0); err == nil && string(magic[:]) == npyMagic {
		if name != "" {
			return Tensor{}, fmt.Errorf("%s: a .npy file holds one unnamed array; drop the tensor name %q", path, name)
		}
		t, err := ReadNPY(f, st.Size())
		if err != nil {
			return Tensor{}, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	}
	t, err := ReadSafetensors(f, st.Size(), name)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
