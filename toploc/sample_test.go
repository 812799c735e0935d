package toploc

import (
	"fmt"
	"math"
	"testing"
)

func TestSampled(t *testing.T) {
	seed := []byte("block 123 hash")
	for _, frac := range []float64{0.01, 0.1, 0.5} {
		const n = 20000
		hits := 0
		for i := range n {
			if Sampled(seed, fmt.Appendf(nil, "sub-%d", i), frac) {
				hits++
			}
		}
		// Binomial: 5 standard deviations.
		sd := math.Sqrt(n * frac * (1 - frac))
		if math.Abs(float64(hits)-n*frac) > 5*sd {
			t.Errorf("fraction %v: %d of %d sampled", frac, hits, n)
		}
	}
	id := []byte("sub-1")
	if Sampled(seed, id, 0) || !Sampled(seed, id, 1) || Sampled(seed, id, math.NaN()) {
		t.Fatal("edge fractions")
	}
	// Deterministic for one seed, different for another.
	same, differ := 0, 0
	for i := range 1000 {
		id := fmt.Appendf(nil, "x%d", i)
		a, b := Sampled(seed, id, 0.5), Sampled(seed, id, 0.5)
		if a == b {
			same++
		}
		if a != Sampled([]byte("another seed"), id, 0.5) {
			differ++
		}
	}
	if same != 1000 || differ < 400 {
		t.Fatalf("same %d, differ %d", same, differ)
	}
}
