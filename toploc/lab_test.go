//go:build lab

package toploc

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/openpool/openpool/toploc/tensorfile"
)

// TestLabLargeInference proves and verifies 1 GiB of bf16 activations
// (65536 tokens of hidden size 8192, a 70B-class model's width) and prints
// throughput against the memory read bandwidth measured on the same buffer
// right before each pass.
func TestLabLargeInference(t *testing.T) {
	const hidden, rows = 8192, 65536
	r := rand.New(rand.NewPCG(9, 9))
	bits := make([]uint16, hidden*rows)
	for i := range bits {
		bits[i] = tensorfile.F32ToBF16(math.Float32bits(float32(r.NormFloat64())))
	}
	seq := Sequence{DType: BF16, Hidden: hidden, PromptLen: 512, States: bits}
	ctx := context.Background()
	words := asWords(bits)
	size := float64(2 * len(bits))
	for _, par := range []int{1, runtime.GOMAXPROCS(0)} {
		read := bestOf3(func() { sink += readWords(words, par) })

		t0 := time.Now()
		proof, err := Prove(ctx, seq, WithParallelism(par))
		if err != nil {
			t.Fatal(err)
		}
		prove := time.Since(t0)

		noisy := Jitter(seq, 2, 0.3)
		read2 := bestOf3(func() { sink += readWords(asWords(noisy.States), par) })
		t0 = time.Now()
		res, err := Verify(ctx, proof, noisy, WithParallelism(par))
		if err != nil || !res.Accepted {
			t.Fatalf("%v %s", err, res.Reason)
		}
		verify := time.Since(t0)
		enc, _ := proof.MarshalBinary()
		t.Logf("goroutines=%d: %d chunks, proof %d bytes (%.1f per 32 tokens); read %.2f GB/s; prove %.2f GB/s = %.3f of read; verify %.2f GB/s = %.3f of read",
			par, len(proof.Chunks), len(enc), float64(len(enc)-binaryHeader)/float64(len(proof.Chunks)),
			size/read.Seconds()/1e9, size/prove.Seconds()/1e9, read.Seconds()/prove.Seconds(),
			size/verify.Seconds()/1e9, read2.Seconds()/verify.Seconds())
		fmt.Printf("BENCH issue=6 name=lab_prove/read goroutines=%d hidden=%d value=%.3f unit=ratio target=>=0.25 # 1 GiB of bf16 activations\n", par, hidden, read.Seconds()/prove.Seconds())
		fmt.Printf("BENCH issue=6 name=lab_verify/read goroutines=%d hidden=%d value=%.3f unit=ratio\n", par, hidden, read2.Seconds()/verify.Seconds())
		fmt.Printf("BENCH issue=6 name=lab_proof_bytes_per_32_tokens goroutines=%d value=%.1f unit=B target=~258\n", par, float64(len(enc)-binaryHeader)/float64(len(proof.Chunks)))
	}
}

// bestOf3 is the fastest of three runs of f: the bandwidth limit is what
// the memory can do, not what a disturbed run happened to get.
func bestOf3(f func()) time.Duration {
	best := time.Duration(math.MaxInt64)
	for range 3 {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	return best
}
