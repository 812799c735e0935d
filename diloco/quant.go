package diloco

import (
	"encoding/binary"
	"math"
)

// Int8 wire encoding of one chunk of n float32 values (see the package doc
// for why this scheme and its error bound): an 8-byte header holding the
// chunk's scale as float32 little-endian and 4 reserved zero bytes, followed
// by n bytes u[i] = round(x[i]/scale) + 128, where scale = absmax/127.
// Decoding is x[i] = (u[i]-128)*scale. u is always in [1, 255].
const int8Header = 8

// int8Size is the encoded size of a chunk of n values.
func int8Size(n int) int { return int8Header + n }

// quantize encodes src into dst (len int8Size(len(src))).
func quantize(dst []byte, src []float32) {
	var amax float32
	for _, x := range src {
		amax = max(amax, abs32(x))
	}
	var scale, inv float32
	if amax > 0 && !isInf32(amax) {
		scale = amax / 127
		inv = 127 / amax
	}
	binary.LittleEndian.PutUint32(dst, math.Float32bits(scale))
	binary.LittleEndian.PutUint32(dst[4:], 0)
	q := dst[int8Header : int8Header+len(src)]
	// x*inv is in [-127, 127]; adding 128.5 and truncating rounds half up
	// without a branch. Rounding can land a hair above 127 (x == amax), so
	// clamp the float before converting.
	for i, x := range src {
		v := min(x*inv+128.5, 255.49)
		q[i] = uint8(int32(v))
	}
}

// int8Scale reads and validates a chunk header.
func int8Scale(src []byte) (float32, bool) {
	scale := math.Float32frombits(binary.LittleEndian.Uint32(src))
	if isInf32(scale) || scale != scale || scale < 0 || binary.LittleEndian.Uint32(src[4:]) != 0 {
		return 0, false
	}
	return scale, true
}

// dequantize decodes src into dst.
func dequantize(dst []float32, src []byte, scale float32) {
	var table [256]float32
	for u := range table {
		table[u] = float32(u-128) * scale
	}
	q := src[int8Header : int8Header+len(dst)]
	for i, u := range q {
		dst[i] = table[u]
	}
}

// dequantizeAdd adds the decoded src to dst (the reduce-scatter accumulate).
func dequantizeAdd(dst []float32, src []byte, scale float32) {
	var table [256]float32
	for u := range table {
		table[u] = float32(u-128) * scale
	}
	q := src[int8Header : int8Header+len(dst)]
	for i, u := range q {
		dst[i] += table[u]
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

func isInf32(x float32) bool { return math.Float32bits(x)&0x7f800000 == 0x7f800000 }

// Int8ErrorBound is the documented worst-case absolute error of one value of
// an Int8 all-reduce among n peers, where sumAbsMax is the sum over peers of
// the largest |x| in the chunk holding that value (the largest |x| of each
// peer's whole vector is a valid, looser substitute). See the package doc.
func Int8ErrorBound(n int, sumAbsMax float64) float64 {
	return (1 + float64(n)/254) * sumAbsMax / 254
}
