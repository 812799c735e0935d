package diloco

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// portable versions of the codec, the reference the AVX2 kernels must match
// bit for bit (peers with and without AVX2 share one ring).
func quantizeRef(dst []byte, src []float32) {
	var m uint32
	for _, x := range src {
		m = max(m, math.Float32bits(x)&0x7fffffff)
	}
	amax := math.Float32frombits(m)
	var scale, inv float32
	if amax > 0 && !isInf32(amax) {
		scale, inv = amax/127, 127/amax
	}
	dst[0], dst[1], dst[2], dst[3] = byte(math.Float32bits(scale)), byte(math.Float32bits(scale)>>8), byte(math.Float32bits(scale)>>16), byte(math.Float32bits(scale)>>24)
	dst[4], dst[5], dst[6], dst[7] = 0, 0, 0, 0
	for i, x := range src {
		dst[int8Header+i] = uint8(math.Float32bits(float32(x*inv) + (1<<23 + 128)))
	}
}

func TestQuantKernelsMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// the last two sizes take dequantize's non-temporal path, whose scalar
	// head depends on dst's alignment: the trials shift dst by 0..4 values
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 1000, 4099, streamMinElems, streamMinElems + 13} {
		for trial := range 5 {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * math.Pow(10, float64(trial-3)))
				if trial == 4 && i%3 == 0 {
					src[i] = 0
				}
			}
			got := make([]byte, int8Size(n))
			want := make([]byte, int8Size(n))
			quantize(got, src)
			quantizeRef(want, src)
			if !bytes.Equal(got, want) {
				t.Fatalf("n=%d trial %d: quantize differs from the portable reference (avx2 %v)", n, trial, hasAVX2)
			}
			scale, ok := int8Scale(got)
			if !ok {
				t.Fatal("bad header")
			}
			dec := make([]float32, n+trial)[trial:]
			acc := make([]float32, n)
			copy(acc, src)
			dequantize(dec, got, scale)
			dequantizeAdd(acc, got, scale)
			for i := range n {
				v := float32(int(got[int8Header+i])-128) * scale
				if math.Float32bits(dec[i]) != math.Float32bits(v) || math.Float32bits(acc[i]) != math.Float32bits(src[i]+v) {
					t.Fatalf("n=%d: value %d decodes to %v / %v, want %v / %v", n, i, dec[i], acc[i], v, src[i]+v)
				}
				if d := math.Abs(float64(v - src[i])); d > float64(scale)/2*1.0001+1e-30 {
					t.Fatalf("n=%d: value %d error %g > scale/2 %g", n, i, d, scale/2)
				}
			}
		}
	}
	t.Logf("AVX2 kernels in use: %v", hasAVX2)
}
