package toploc

import (
	"context"
	"fmt"
	"math"
)

// Thresholds decide acceptance from the statistics of a chunk. A chunk is
// rejected when any is exceeded; an inference when any chunk is.
type Thresholds struct {
	// MaxExpMismatches: most top-k positions whose exponent may differ.
	MaxExpMismatches int
	// MaxMantErrMean, MaxMantErrMedian: bounds on the mean and (upper)
	// median absolute mantissa difference over positions with equal
	// exponents, in units of the last bf16 mantissa bit.
	MaxMantErrMean   float64
	MaxMantErrMedian float64
}

// DefaultThresholds are the paper's validation thresholds: reject if the mean
// mantissa error exceeds 10, the median 8, or fewer than 90 of 128 exponents
// match. For other k the exponent bound keeps the same fraction (90/128 must
// match, rounded up).
func DefaultThresholds(topk int) Thresholds {
	must := (90*topk + 127) / 128
	return Thresholds{MaxExpMismatches: topk - must, MaxMantErrMean: 10, MaxMantErrMedian: 8}
}

// ChunkResult holds the statistics of one chunk, as the reference's
// VerificationResult, and the decision on it.
type ChunkResult struct {
	Span
	// ExpMismatches counts the verifier's top-k positions whose bf16
	// exponent differs from the committed value (a position outside the
	// prover's top-k evaluates to a pseudo-random pattern and so counts too).
	ExpMismatches int
	// MantErrMean and MantErrMedian summarise |mantissa difference| over the
	// positions with equal exponents; MantErrMedian is the upper median
	// (sorted[n/2]) as in the reference's C++ verifier, MantErrMedianMid the
	// mean of the two middle values as in its Python path. Both are 2^64
	// when no exponent matches.
	MantErrMean      float64
	MantErrMedian    float64
	MantErrMedianMid float64
	// TopKOverlap is the fraction of the verifier's top-k whose exponent
	// matched: an estimate of the overlap of the two top-k sets (the prover's
	// indices are not transmitted, so it cannot be counted exactly).
	TopKOverlap float64
	// Null is set for a null proof, which is always rejected.
	Null     bool
	Accepted bool
	Reason   string
}

// Result is the outcome of Verify: the decision, why, and the statistics of
// every chunk.
type Result struct {
	Accepted   bool
	Reason     string // the first rejection reason; empty when accepted
	Params     Params
	Thresholds Thresholds
	Chunks     []ChunkResult
	// Worst values over all chunks.
	MaxExpMismatches    int
	MaxMantErrMean      float64
	MaxMantErrMedian    float64
	MinTopKOverlap      float64
	RejectedChunks      int
	ExpectedChunks      int // chunks the verifier's activations give
	ProofChunks         int // chunks the proof carries
	VerifiedValuesTotal int // top-k positions checked over all chunks
}

// Err returns nil for an accepted result and an error wrapping ErrRejected
// with the reason otherwise.
func (r Result) Err() error {
	if r.Accepted {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRejected, r.Reason)
}

// Verify recomputes the top-k of the verifier's own activations s and checks
// them against proof. The error is for input that cannot be checked (a
// malformed proof or sequence, bad options); a proof that does not match is a
// Result with Accepted false.
func Verify(ctx context.Context, proof *Proof, s Sequence, opts ...Option) (Result, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Result{}, err
	}
	if proof == nil {
		return Result{}, fmt.Errorf("%w: nil proof", ErrInvalidProof)
	}
	if err := proof.Validate(); err != nil {
		return Result{}, err
	}
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	params := proof.Params
	th := DefaultThresholds(params.TopK)
	if cfg.thresholds != nil {
		th = *cfg.thresholds
	}
	res := Result{Params: params, Thresholds: th, ProofChunks: len(proof.Chunks)}
	if cfg.paramsSet && cfg.params != params {
		res.Reason = fmt.Sprintf("proof parameters %+v, required %+v", params, cfg.params)
		return res, nil
	}
	spans, err := Chunks(params, s.Rows(), s.PromptLen)
	if err != nil {
		return Result{}, err
	}
	res.ExpectedChunks = len(spans)
	if len(spans) != len(proof.Chunks) {
		res.Reason = fmt.Sprintf("proof has %d chunks, the activations give %d (generation length differs)", len(proof.Chunks), len(spans))
		return res, nil
	}
	k := params.TopK
	for _, sp := range spans {
		if _, err := chunkValues(s, sp, k); err != nil {
			return Result{}, err
		}
	}
	res.Chunks = make([]ChunkResult, len(spans))
	err = forEachChunk(ctx, len(spans), cfg.parallelism, func() func(int) error {
		var v verifier
		return func(i int) error {
			vals, _ := chunkValues(s, spans[i], k)
			cr := v.verify(vals, k, proof.Chunks[i])
			cr.Span = spans[i]
			cr.decide(th)
			res.Chunks[i] = cr
			return nil
		}
	})
	if err != nil {
		return Result{}, err
	}
	res.Accepted = true
	res.MinTopKOverlap = 1
	for i, c := range res.Chunks {
		res.MaxExpMismatches = max(res.MaxExpMismatches, c.ExpMismatches)
		res.MaxMantErrMean = max(res.MaxMantErrMean, c.MantErrMean)
		res.MaxMantErrMedian = max(res.MaxMantErrMedian, c.MantErrMedian)
		res.MinTopKOverlap = min(res.MinTopKOverlap, c.TopKOverlap)
		res.VerifiedValuesTotal += k
		if !c.Accepted {
			res.RejectedChunks++
			if res.Accepted {
				res.Accepted = false
				res.Reason = fmt.Sprintf("chunk %d (rows %d..%d): %s", i, c.Start, c.End, c.Reason)
			}
		}
	}
	return res, nil
}

// decide applies the thresholds.
func (c *ChunkResult) decide(t Thresholds) {
	switch {
	case c.Null:
		c.Reason = "null proof"
	case c.ExpMismatches > t.MaxExpMismatches:
		c.Reason = fmt.Sprintf("%d exponent mismatches (limit %d)", c.ExpMismatches, t.MaxExpMismatches)
	case c.MantErrMean > t.MaxMantErrMean:
		c.Reason = fmt.Sprintf("mean mantissa error %.3g (limit %g)", c.MantErrMean, t.MaxMantErrMean)
	case c.MantErrMedian > t.MaxMantErrMedian:
		c.Reason = fmt.Sprintf("median mantissa error %.3g (limit %g)", c.MantErrMedian, t.MaxMantErrMedian)
	default:
		c.Accepted = true
	}
}

// verifier holds the scratch space of one goroutine's verifications.
type verifier struct {
	sel    selector
	x, got []uint32
}

var noMatch = math.Ldexp(1, 64)

// verify computes the reference's statistics of one chunk.
func (v *verifier) verify(vals []uint16, k int, cp ChunkProof) ChunkResult {
	if cp.IsNull() {
		return ChunkResult{Null: true, ExpMismatches: k, MantErrMean: noMatch, MantErrMedian: noMatch, MantErrMedianMid: noMatch}
	}
	if cap(v.x) < k {
		v.x, v.got = make([]uint32, k), make([]uint32, k)
	}
	x, got := v.x[:k], v.got[:k]
	idx := v.sel.topK(vals, k)
	m := uint32(cp.Modulus)
	for i, ix := range idx {
		x[i] = ix % m
	}
	evaluate(cp.Coeffs, x, got)
	var hist [128]int
	mismatches, sum := 0, 0
	for i, ix := range idx {
		mine, theirs := uint32(vals[ix]), got[i]
		if (mine>>7)&0xff != (theirs>>7)&0xff {
			mismatches++
			continue
		}
		d := int(mine&0x7f) - int(theirs&0x7f)
		if d < 0 {
			d = -d
		}
		hist[d]++
		sum += d
	}
	r := ChunkResult{ExpMismatches: mismatches, TopKOverlap: float64(k-mismatches) / float64(k)}
	n := k - mismatches
	if n == 0 {
		r.MantErrMean, r.MantErrMedian, r.MantErrMedianMid = noMatch, noMatch, noMatch
		return r
	}
	r.MantErrMean = float64(sum) / float64(n)
	lo, hi := nth(&hist, (n-1)/2), nth(&hist, n/2)
	r.MantErrMedian = float64(hi)
	r.MantErrMedianMid = float64(lo+hi) / 2
	return r
}

// nth returns the i-th smallest (0-based) value counted in hist.
func nth(hist *[128]int, i int) int {
	for d, c := range hist {
		if i < c {
			return d
		}
		i -= c
	}
	return len(hist) - 1
}
