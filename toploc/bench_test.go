package toploc

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/openpool/openpool/toploc/tensorfile"
)

// Benchmarks report throughput in bytes of activations per second and its
// ratio to the memory read bandwidth measured in the same run (the bound
// for any single pass over the activations). Run them with
// scripts/bench-toploc.sh.

// benchRows × benchHidden bf16 values: 64 MiB, well beyond the caches.
const benchHidden, benchRows = 4096, 8192

var benchActs = sync.OnceValue(func() Sequence {
	r := rand.New(rand.NewPCG(42, 42))
	bits := make([]uint16, benchRows*benchHidden)
	for i := range bits {
		bits[i] = tensorfile.F32ToBF16(math.Float32bits(float32(r.NormFloat64())))
	}
	return Sequence{DType: BF16, Hidden: benchHidden, PromptLen: 32, States: bits}
})

// readWords sums buf over par goroutines: one read of every byte, the
// memory-bandwidth bound of any pass over it.
func readWords(buf []uint64, par int) uint64 {
	if par == 1 {
		return sumWords(buf)
	}
	var wg sync.WaitGroup
	sums := make([]uint64, par)
	part := (len(buf) + par - 1) / par
	for p := range par {
		wg.Go(func() {
			sums[p] = sumWords(buf[min(p*part, len(buf)):min((p+1)*part, len(buf))])
		})
	}
	wg.Wait()
	var s uint64
	for _, v := range sums {
		s += v
	}
	return s
}

func sumWords(w []uint64) uint64 {
	var a, b, c, d uint64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		a += w[i]
		b += w[i+1]
		c += w[i+2]
		d += w[i+3]
	}
	for ; i < len(w); i++ {
		a += w[i]
	}
	return a + b + c + d
}

// asWords views the activations as 64-bit words for readWords.
func asWords(v []uint16) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(v))), len(v)/4)
}

var sink uint64

// benchPass runs pass over seq once per iteration and, in the same
// iteration and on the same buffer, times a plain read of the activations
// over the same number of goroutines (outside the benchmark timer). The
// ratio of the two times is what the CPU costs on top of reading memory,
// measured under the same conditions (this machine is shared, so absolute
// speeds drift between runs; the ratio far less).
func benchPass(b *testing.B, seq Sequence, par int, pass func() error) {
	words := asWords(seq.States)
	bytes := int64(2 * len(seq.States))
	b.SetBytes(bytes)
	if par == 1 {
		// Pin to one thread so that its CPU time can be read: under load the
		// CPU-time ratio does not depend on how often we were descheduled.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	_, cpuOK := threadCPUTime()
	var readTime, readCPU, passCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		c0, _ := threadCPUTime()
		sink += readWords(words, par)
		c1, _ := threadCPUTime()
		readTime += time.Since(t0)
		readCPU += c1 - c0
		b.StartTimer()
		if err := pass(); err != nil {
			b.Fatal(err)
		}
		c2, _ := threadCPUTime()
		passCPU += c2 - c1
	}
	b.ReportMetric(readTime.Seconds()/b.Elapsed().Seconds(), "ratio_to_membw")
	b.ReportMetric(float64(b.N)*float64(bytes)/readTime.Seconds()/1e9, "membw_GB/s")
	if par == 1 && cpuOK && passCPU > 0 {
		b.ReportMetric(readCPU.Seconds()/passCPU.Seconds(), "cpu_ratio_to_membw")
	}
}

func benchmarkProve(b *testing.B, par int) {
	seq := benchActs()
	ctx := context.Background()
	var proof *Proof
	benchPass(b, seq, par, func() (err error) {
		proof, err = Prove(ctx, seq, WithParallelism(par))
		return err
	})
	enc, _ := proof.MarshalBinary()
	b.ReportMetric(float64(len(enc)-binaryHeader)/float64(len(proof.Chunks)), "proof_bytes/chunk")
}

func benchmarkVerify(b *testing.B, par int) {
	seq := benchActs()
	ctx := context.Background()
	proof, err := Prove(ctx, seq)
	if err != nil {
		b.Fatal(err)
	}
	noisy := Jitter(seq, 1, 0.3)
	benchPass(b, noisy, par, func() error {
		res, err := Verify(ctx, proof, noisy, WithParallelism(par))
		if err == nil && !res.Accepted {
			err = res.Err()
		}
		return err
	})
}

func BenchmarkProve1Core(b *testing.B)     { benchmarkProve(b, 1) }
func BenchmarkProveAllCores(b *testing.B)  { benchmarkProve(b, runtime.GOMAXPROCS(0)) }
func BenchmarkVerify1Core(b *testing.B)    { benchmarkVerify(b, 1) }
func BenchmarkVerifyAllCores(b *testing.B) { benchmarkVerify(b, runtime.GOMAXPROCS(0)) }

// The parts of one 32-token chunk (32 × 4096 bf16 = 256 KiB).
func BenchmarkChunkTopK(b *testing.B) {
	v := benchActs().States[:32*benchHidden]
	var s selector
	b.SetBytes(int64(2 * len(v)))
	for b.Loop() {
		s.topK(v, 128)
	}
}

func BenchmarkChunkInterpolate(b *testing.B) {
	var p prover
	p.grow(128)
	r := rand.New(rand.NewPCG(1, 1))
	perm := r.Perm(Prime)
	for i := range 128 {
		p.x[i], p.y[i] = uint32(perm[i]), uint32(r.IntN(1<<16))
	}
	sortPoints(p.x, p.y, p.pairs)
	for b.Loop() {
		interpolate(p.x, p.y, p.c, p.dd)
	}
}

func BenchmarkChunkEvaluate(b *testing.B) {
	coeffs := make([]uint16, 128)
	x, out := make([]uint32, 128), make([]uint32, 128)
	for i := range coeffs {
		coeffs[i], x[i] = uint16(i*7919), uint32(i*131)
	}
	for b.Loop() {
		evaluate(coeffs, x, out)
	}
}
