package toploc

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// The simulated inference every acceptance test below uses: 16 prompt
// tokens and 64 generated ones through an 8-layer model of width 128, so the
// proof has a prefill chunk and two decode chunks of 32 tokens.
const (
	simD, simFF, simLayers = 128, 256, 8
	simPrompt, simTokens   = 16, 80
	simVocab               = 1000
)

type simulation struct {
	model  *tinyModel
	tokens []int
	honest Sequence // the prover's bf16 run
	proof  *Proof
}

// sharedSimulation is built once per test binary; tests only read it.
var sharedSimulation = sync.OnceValues(func() (*simulation, error) {
	s := &simulation{model: newTinyModel(1, simVocab, simD, simFF, simLayers, 1), tokens: randomTokens(2, simTokens, simVocab)}
	s.honest = bf16Sequence(s.model.forward(s.tokens, precBF16, 1), simD, simPrompt)
	var err error
	s.proof, err = Prove(context.Background(), s.honest)
	return s, err
})

func newSimulation(t *testing.T) *simulation {
	t.Helper()
	s, err := sharedSimulation()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.proof.Chunks) != 3 {
		t.Fatalf("%d chunks, want 3 (prefill + 2 × 32 tokens)", len(s.proof.Chunks))
	}
	return s
}

func (s *simulation) verify(t *testing.T, seq Sequence, opts ...Option) Result {
	t.Helper()
	res, err := Verify(context.Background(), s.proof, seq, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("accepted=%v exp_mismatches<=%d mant_err_mean<=%.2f median<=%.1f overlap>=%.2f %s",
		res.Accepted, res.MaxExpMismatches, res.MaxMantErrMean, res.MaxMantErrMedian, res.MinTopKOverlap, res.Reason)
	return res
}

func TestHonestWorkAccepted(t *testing.T) {
	s := newSimulation(t)
	for name, seq := range map[string]Sequence{
		"same activations": s.honest,
		// GPU kernels that split the inner product differently.
		"split-K 4 rerun":  bf16Sequence(s.model.forward(s.tokens, precBF16, 4), simD, simPrompt),
		"split-K 16 rerun": bf16Sequence(s.model.forward(s.tokens, precBF16, 16), simD, simPrompt),
		// Bit-level jitter on 30% and on every value.
		"1-2 ulp noise on 30%":  Jitter(s.honest, 1, 0.3),
		"1-2 ulp noise on 100%": Jitter(s.honest, 2, 1),
		"rerun plus noise":      Jitter(bf16Sequence(s.model.forward(s.tokens, precBF16, 16), simD, simPrompt), 3, 1),
	} {
		t.Run(name, func(t *testing.T) {
			res := s.verify(t, seq)
			if !res.Accepted || res.Err() != nil {
				t.Fatalf("honest work rejected: %s", res.Reason)
			}
			if len(res.Chunks) != 3 || res.MaxMantErrMean > 2 {
				t.Fatalf("statistics out of the honest range: %+v", res)
			}
		})
	}
}

func TestDishonestWorkRejected(t *testing.T) {
	s := newSimulation(t)
	otherPrompt := append(randomTokens(3, simPrompt, simVocab), s.tokens[simPrompt:]...)
	otherCompletion := append(slices.Clone(s.tokens[:simPrompt]), randomTokens(4, simTokens-simPrompt, simVocab)...)
	for name, seq := range map[string]Sequence{
		"fine-tuned model (weights +20% noise)": bf16Sequence(s.model.perturbed(9, 0.2).forward(s.tokens, precBF16, 1), simD, simPrompt),
		"different model":                       bf16Sequence(newTinyModel(5, simVocab, simD, simFF, simLayers, 1).forward(s.tokens, precBF16, 1), simD, simPrompt),
		"different prompt":                      bf16Sequence(s.model.forward(otherPrompt, precBF16, 1), simD, simPrompt),
		"different completion":                  bf16Sequence(s.model.forward(otherCompletion, precBF16, 1), simD, simPrompt),
		// The verifier runs fp16 while the prover committed bf16.
		"different precision (fp16)": fp16Sequence(s.model.forward(s.tokens, precFP16, 1), simD, simPrompt),
	} {
		t.Run(name, func(t *testing.T) {
			res := s.verify(t, seq)
			if res.Accepted {
				t.Fatal("dishonest work accepted")
			}
			if !errors.Is(res.Err(), ErrRejected) || res.RejectedChunks == 0 {
				t.Fatalf("Err() = %v, rejected chunks %d", res.Err(), res.RejectedChunks)
			}
		})
	}
	// The other way round: the prover committed fp16, the verifier runs bf16.
	t.Run("prover in fp16", func(t *testing.T) {
		p, err := Prove(context.Background(), fp16Sequence(s.model.forward(s.tokens, precFP16, 1), simD, simPrompt))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Verify(context.Background(), p, s.honest)
		if err != nil || res.Accepted {
			t.Fatalf("fp16 proof against bf16 activations: accepted=%v err=%v", res.Accepted, err)
		}
	})
}

// A model with fp8 weights stays within the paper's thresholds in this
// shallow simulation (they were set on 30+-layer LLMs, where the error
// compounds), yet its statistics are clearly apart from honest reruns: a
// validator that tightens the thresholds separates them.
func TestTightThresholdsCatchQuantizedWeights(t *testing.T) {
	s := newSimulation(t)
	tight := WithThresholds(Thresholds{MaxExpMismatches: 6, MaxMantErrMean: 2, MaxMantErrMedian: 2})
	quant := s.verify(t, bf16Sequence(s.model.quantized().forward(s.tokens, precBF16, 1), simD, simPrompt), tight)
	if quant.Accepted {
		t.Fatal("fp8-weight model accepted under tight thresholds")
	}
	honest := s.verify(t, Jitter(bf16Sequence(s.model.forward(s.tokens, precBF16, 16), simD, simPrompt), 3, 1), tight)
	if !honest.Accepted {
		t.Fatalf("honest rerun rejected under tight thresholds: %s", honest.Reason)
	}
}

func TestVerifyRejectsWrongShape(t *testing.T) {
	s := newSimulation(t)
	ctx := context.Background()
	// One generated token fewer: the proof's chunk count no longer matches.
	short := s.honest
	short.States = short.States[:len(short.States)-33*simD]
	res, err := Verify(ctx, s.proof, short)
	if err != nil || res.Accepted || res.ProofChunks != 3 || res.ExpectedChunks != 2 {
		t.Fatalf("short generation: %+v %v", res, err)
	}
	// A validator that requires the reference parameters refuses others.
	p, err := Prove(ctx, s.honest, WithParams(Params{ChunkSize: 16, TopK: 64}))
	if err != nil {
		t.Fatal(err)
	}
	res, err = Verify(ctx, p, s.honest, WithParams(DefaultParams))
	if err != nil || res.Accepted {
		t.Fatalf("parameters not enforced: %+v %v", res, err)
	}
	if res, err = Verify(ctx, p, s.honest); err != nil || !res.Accepted {
		t.Fatalf("own parameters: %+v %v", res, err)
	}
	// A null proof is rejected, not a crash (the reference divides by zero).
	null := &Proof{Params: s.proof.Params, Chunks: slices.Clone(s.proof.Chunks)}
	null.Chunks[1] = NullChunkProof(128)
	res, err = Verify(ctx, null, s.honest)
	if err != nil || res.Accepted || !res.Chunks[1].Null || res.Chunks[1].MantErrMean != math.Ldexp(1, 64) {
		t.Fatalf("null proof: %+v %v", res, err)
	}
	// Malformed input is an error.
	if _, err := Verify(ctx, s.proof, Sequence{DType: BF16, Hidden: 7, States: make([]uint16, 10)}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("ragged rows: %v", err)
	}
	bad := &Proof{Params: s.proof.Params, Chunks: []ChunkProof{{Modulus: 1, Coeffs: []uint16{1}}}}
	if _, err := Verify(ctx, bad, s.honest); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("short coefficients: %v", err)
	}
	if _, err := Prove(ctx, Sequence{DType: BF16, Hidden: 8, PromptLen: 1, States: make([]uint16, 80)}); !errors.Is(err, ErrTooFewValues) {
		t.Fatalf("tiny chunk: %v", err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Prove(ctx2, s.honest); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		p          Params
		rows, plen int
		want       []Span
		wantErr    bool
	}{
		{Params{3, 4, false}, 15, 5, []Span{{0, 5}, {5, 8}, {8, 11}, {11, 14}, {14, 15}}, false},
		{Params{32, 128, true}, 70, 0, []Span{{0, 32}, {32, 64}, {64, 70}}, false},
		{Params{32, 128, false}, 10, 10, []Span{{0, 10}}, false},
		{Params{32, 128, false}, 10, 0, nil, true},
		{Params{32, 128, true}, 0, 0, nil, true},
		{Params{0, 128, true}, 10, 0, nil, true},
	} {
		got, err := Chunks(tc.p, tc.rows, tc.plen)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("Chunks(%+v, %d, %d) = %v, %v; want %v", tc.p, tc.rows, tc.plen, got, err, tc.want)
		}
	}
}

// The fast selection equals a full sort with the documented tie rule on
// random data full of ties, on every alignment, for every k.
func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s selector
	for range 3000 {
		n := 1 + r.IntN(3000)
		k := 1 + r.IntN(min(n, 300))
		off := r.IntN(4)
		buf := make([]uint16, n+off)
		for i := range buf {
			switch r.IntN(4) {
			case 0:
				buf[i] = uint16(r.IntN(8)) | uint16(r.IntN(2))<<15 // heavy ties
			case 1:
				buf[i] = uint16(i) // ascending: the worst case for the threshold
			default:
				buf[i] = uint16(r.IntN(1 << 16))
			}
		}
		v := buf[off:]
		got := slices.Clone(s.topK(v, k))
		slices.Sort(got)
		ranks := make([]uint64, n)
		for i, b := range v {
			ranks[i] = rank(b&0x7fff, i)
		}
		slices.Sort(ranks)
		slices.Reverse(ranks)
		want := make([]uint32, k)
		for i, rk := range ranks[:k] {
			want[i] = rankIndex(rk)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d k=%d off=%d: got %v, want %v", n, k, off, got, want)
		}
	}
}

// Interpolation through random points evaluates back to them, for sizes
// up to MaxTopK.
func TestInterpolateEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 17, 128, 500, MaxTopK} {
		perm := r.Perm(Prime)[:n]
		x, y := make([]uint32, n), make([]uint32, n)
		for i := range x {
			x[i], y[i] = uint32(perm[i]), uint32(r.IntN(1<<16))
		}
		c, dd := make([]uint32, n), make([]uint32, n)
		sortPoints(x, y, make([]uint64, n))
		interpolate(x, y, c, dd)
		coeffs := make([]uint16, n)
		for i, v := range c {
			coeffs[i] = uint16(v)
		}
		got := make([]uint32, n)
		evaluate(coeffs, x, got)
		for i := range got {
			if got[i] != y[i]%Prime {
				t.Fatalf("n=%d: p(%d) = %d, want %d", n, x[i], got[i], y[i]%Prime)
			}
		}
	}
}

// The radix sort (2n of scratch, x below 2^16) and the comparison sort
// order the points alike.
func TestSortPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 31, 128, 1024} {
		for _, limit := range []int{Prime, 1 << 16, 1 << 20} {
			perm := r.Perm(limit)[:n]
			x, y := make([]uint32, n), make([]uint32, n)
			for i := range x {
				x[i], y[i] = uint32(perm[i]), r.Uint32()
			}
			pairs := map[uint32]uint32{}
			for i := range x {
				pairs[x[i]] = y[i]
			}
			x2, y2 := slices.Clone(x), slices.Clone(y)
			sortPoints(x, y, make([]uint64, 2*n))
			sortPoints(x2, y2, make([]uint64, n))
			if !slices.Equal(x, x2) || !slices.Equal(y, y2) || !slices.IsSorted(x) {
				t.Fatalf("n=%d, x < %d: radix and comparison sorts differ", n, limit)
			}
			for i := range x {
				if pairs[x[i]] != y[i] {
					t.Fatalf("n=%d, x < %d: point %d lost its y", n, limit, x[i])
				}
			}
		}
	}
}

func TestProofEncodings(t *testing.T) {
	s := newSimulation(t)
	b, err := s.proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 14+3*258 {
		t.Fatalf("binary proof of %d bytes, want 14 + 3 × 258", len(b))
	}
	j, err := s.proof.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, enc := range map[string][]byte{"binary": b, "json": j} {
		p, err := ParseProof(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Params != s.proof.Params || len(p.Chunks) != 3 {
			t.Fatalf("%s: %+v", name, p.Params)
		}
		for i := range p.Chunks {
			if p.Chunks[i].Modulus != s.proof.Chunks[i].Modulus || !slices.Equal(p.Chunks[i].Coeffs, s.proof.Chunks[i].Coeffs) {
				t.Fatalf("%s: chunk %d differs", name, i)
			}
		}
	}
	// Every strict prefix fails cleanly, and so does a flipped header bit.
	for n := range len(b) {
		if _, err := ParseProof(b[:n]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
	for i := range 14 {
		c := slices.Clone(b)
		c[i] ^= 0x80
		// Only the chunk size may flip into another valid value.
		if p, err := ParseProof(c); err == nil && ((i != 6 && i != 7) || p.Params == s.proof.Params) {
			t.Fatalf("header byte %d flipped: decoded %+v", i, p.Params)
		}
	}
}

// When two top-k indices collide mod 65497 the prover picks a smaller
// modulus, and the verifier must reduce by that modulus (the reference's
// Python path does not, and would reject this honest proof).
func TestCollidingIndices(t *testing.T) {
	const hidden = 4096
	s := Sequence{DType: BF16, Hidden: hidden, States: make([]uint16, 32*hidden)}
	r := rand.New(rand.NewPCG(8, 8))
	for i := range s.States {
		s.States[i] = uint16(r.IntN(0x3f00))
	}
	s.States[5] = 0x4480           // 1024
	s.States[5+Prime] = 0xc4a0     // -1280
	s.States[5+2*Prime-1] = 0x4400 // 512
	p, err := Prove(context.Background(), s, WithParams(Params{ChunkSize: 32, TopK: 128, SkipPrefill: true}))
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Chunks[0].Modulus; m == Prime {
		t.Fatalf("modulus %d: indices 5 and 5+%d collide, want a smaller one", m, Prime)
	}
	res, err := Verify(context.Background(), p, Jitter(s, 1, 0.3))
	if err != nil || !res.Accepted || res.Chunks[0].ExpMismatches > 2 {
		t.Fatalf("%+v %v", res, err)
	}
}
