package diloco

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Int8 wire encoding of one chunk of n float32 values (see the package doc
// for why this scheme and its error bound): an 8-byte header holding the
// chunk's scale as float32 little-endian and 4 reserved zero bytes, followed
// by n bytes u[i] = round(x[i]/scale) + 128, where scale = absmax/127.
// Decoding is x[i] = (u[i]-128)*scale. u is always in [1, 255].
const int8Header = 8

// int8Size is the encoded size of a chunk of n values.
func int8Size(n int) int { return int8Header + n }

// quantize encodes src into dst (len int8Size(len(src))). src must be
// finite (the caller checks pseudo-gradients; received values are checked
// on arrival).
func quantize(dst []byte, src []float32) {
	// |x| as bits orders like |x| for finite values: a branch-free max.
	var m0, m1, m2, m3 uint32
	i := 0
	if hasAVX2 && len(src) >= 32 {
		i = len(src) &^ 31
		m0 = absmaxAVX2(&src[0], i)
	}
	for ; i+4 <= len(src); i += 4 {
		s := src[i : i+4 : i+4]
		m0 = max(m0, math.Float32bits(s[0])&0x7fffffff)
		m1 = max(m1, math.Float32bits(s[1])&0x7fffffff)
		m2 = max(m2, math.Float32bits(s[2])&0x7fffffff)
		m3 = max(m3, math.Float32bits(s[3])&0x7fffffff)
	}
	for ; i < len(src); i++ {
		m0 = max(m0, math.Float32bits(src[i])&0x7fffffff)
	}
	amax := math.Float32frombits(max(m0, m1, m2, m3))
	var scale, inv float32
	if amax > 0 && !isInf32(amax) && amax == amax {
		scale = amax / 127
		inv = 127 / amax
	}
	binary.LittleEndian.PutUint32(dst, math.Float32bits(scale))
	binary.LittleEndian.PutUint32(dst[4:], 0)
	q := dst[int8Header : int8Header+len(src)]
	// x*inv is in [-127, 127] (a rounding hair beyond at ±amax). Adding
	// 2^23+128 leaves round(x*inv)+128 (round half to even) in the low
	// mantissa bits of the sum, which is faster than a float-to-int
	// conversion: u = low byte, in [1, 255]. float32() keeps the product
	// rounded on its own (no fused multiply-add on any platform), so all
	// peers produce the same bytes.
	const magic = 1<<23 + 128
	i = 0
	if hasAVX2 && len(src) >= 8 {
		i = len(src) &^ 7
		quantizeAVX2(&q[0], &src[0], i, inv)
	}
	for ; i+4 <= len(src); i += 4 {
		s := src[i : i+4 : i+4]
		d := q[i : i+4 : i+4]
		d[0] = uint8(math.Float32bits(float32(s[0]*inv) + magic))
		d[1] = uint8(math.Float32bits(float32(s[1]*inv) + magic))
		d[2] = uint8(math.Float32bits(float32(s[2]*inv) + magic))
		d[3] = uint8(math.Float32bits(float32(s[3]*inv) + magic))
	}
	for ; i < len(src); i++ {
		q[i] = uint8(math.Float32bits(float32(src[i]*inv) + magic))
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

// streamMinElems is the chunk size from which dequantize writes with
// non-temporal stores: a chunk this large (256 KiB of results, half this
// machine class's L2) is written once into a vector far larger than any
// cache and read again only after the round, so loading each line before
// overwriting it (a normal store's read-for-ownership) only adds a read
// of every line. TestLabQuantThroughput on a 2-core EPYC: 0.45 -> 0.54-0.59
// of memcpy.
const streamMinElems = 64 << 10

// Modes of dequantAVX2.
const (
	dqSet    uint8 = iota // dst = v
	dqAdd                 // dst += v
	dqStream              // dst = v, non-temporal stores (dst 32-byte aligned)
)

// dequantize decodes src into dst.
func dequantize(dst []float32, src []byte, scale float32) {
	var table [256]float32
	for u := range table {
		table[u] = float32(u-128) * scale
	}
	q := src[int8Header : int8Header+len(dst)]
	i := 0
	if hasAVX2 && len(q) >= streamMinElems {
		// scalar head up to a 32-byte boundary, as VMOVNTPS needs
		for ; uintptr(unsafe.Pointer(&dst[i]))%32 != 0; i++ {
			dst[i] = table[q[i]]
		}
		k := (len(q) - i) &^ 7
		dequantAVX2(&dst[i], &q[i], k, scale, dqStream)
		i += k
	} else if hasAVX2 && len(q) >= 8 {
		i = len(q) &^ 7
		dequantAVX2(&dst[0], &q[0], i, scale, dqSet)
	}
	for ; i+8 <= len(q); i += 8 {
		s := q[i : i+8 : i+8]
		d := dst[i : i+8 : i+8]
		d[0], d[1], d[2], d[3] = table[s[0]], table[s[1]], table[s[2]], table[s[3]]
		d[4], d[5], d[6], d[7] = table[s[4]], table[s[5]], table[s[6]], table[s[7]]
	}
	for ; i < len(q); i++ {
		dst[i] = table[q[i]]
	}
}

// dequantizeAdd adds the decoded src to dst (the reduce-scatter accumulate).
func dequantizeAdd(dst []float32, src []byte, scale float32) {
	var table [256]float32
	for u := range table {
		table[u] = float32(u-128) * scale
	}
	q := src[int8Header : int8Header+len(dst)]
	i := 0
	if hasAVX2 && len(q) >= 8 {
		i = len(q) &^ 7
		dequantAVX2(&dst[0], &q[0], i, scale, dqAdd)
	}
	for ; i+4 <= len(q); i += 4 {
		s := q[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] += table[s[0]]
		d[1] += table[s[1]]
		d[2] += table[s[2]]
		d[3] += table[s[3]]
	}
	for ; i < len(q); i++ {
		dst[i] += table[q[i]]
	}
}

func isInf32(x float32) bool { return math.Float32bits(x)&0x7f800000 == 0x7f800000 }

// Int8ErrorBound is the documented worst-case absolute error of one value of
// an Int8 all-reduce among n peers, where sumAbsMax is the sum over peers of
// the largest |x| in the chunk holding that value (the largest |x| of each
// peer's whole vector is a valid, looser substitute). See the package doc.
func Int8ErrorBound(n int, sumAbsMax float64) float64 {
	return (1 + float64(n)/254) * sumAbsMax / 254
}
