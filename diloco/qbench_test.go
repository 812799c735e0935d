package diloco

// Single-chunk (1 MiB, in cache) codec benchmarks; the memory-sized ratio
// is TestLabQuantThroughput.

import "testing"

func benchBuf() ([]float32, []float32, []byte) {
	src := make([]float32, 256<<10)
	for i := range src {
		src[i] = float32(i%1000-500) * 1e-3
	}
	return src, make([]float32, len(src)), make([]byte, int8Size(len(src)))
}

func BenchmarkQuantize(b *testing.B) {
	src, _, q := benchBuf()
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		quantize(q, src)
	}
}

func BenchmarkDequantize(b *testing.B) {
	src, dst, q := benchBuf()
	quantize(q, src)
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		dequantize(dst, q, 0.001)
	}
}

func BenchmarkMemcpy(b *testing.B) {
	src, dst, _ := benchBuf()
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		copy(dst, src)
	}
}
