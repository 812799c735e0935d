package toploc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// vectorsPath is where CI keeps the shared test vectors: ../shared beside
// the clone.
var vectorsPath = filepath.Join("..", "..", "shared", "toploc", "vectors.json")

type vecTensor struct {
	Shape []int  `json:"shape"`
	Hex   string `json:"bf16_bits_hex"`
}

type vecStats struct {
	ExpMismatches int     `json:"exp_mismatches"`
	Mean          float64 `json:"mant_err_mean"`
	MedianCPP     float64 `json:"mant_err_median_cpp"`
	MedianPy      float64 `json:"mant_err_median_py"`
}

type vecProof struct {
	Hex     string   `json:"proof_hex"`
	B64     string   `json:"proof_b64"`
	Modulus int      `json:"modulus"`
	Indices []uint32 `json:"topk_indices"`
	Values  []uint16 `json:"topk_values_bf16_bits"`
	Tie     bool     `json:"boundary_tie"`
}

type vector struct {
	Name        string      `json:"name"`
	Chunk       int         `json:"decode_batching_size"`
	TopK        int         `json:"topk"`
	SkipPrefill bool        `json:"skip_prefill"`
	Activations []vecTensor `json:"activations"`
	Proofs      []vecProof  `json:"proofs"`
	ExpectedB64 []string    `json:"readme_expected_b64"`
	VerifySame  []vecStats  `json:"verify_same"`
	Jitter      *struct {
		Activations []vecTensor `json:"activations"`
		Results     []vecStats  `json:"results"`
	} `json:"verify_jitter_1_01"`
	Cases []struct {
		X       []uint32 `json:"x"`
		Y       []uint32 `json:"y"`
		Modulus uint32   `json:"modulus"`
		Coeffs  []uint16 `json:"coeffs"`
		Hex     string   `json:"proof_hex"`
	} `json:"cases"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("reference test vectors missing: %v\n(CI must check out the shared directory beside the clone so that %s exists)", err, vectorsPath)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", vectorsPath)
	}
	return f.Vectors
}

// sequenceFromList builds a Sequence from the reference's list of tensors:
// the first is the prompt, each later one a generated token (or, with
// skip_prefill, a single 2-D tensor whose rows are tokens).
func sequenceFromList(t *testing.T, ts []vecTensor, skip bool) Sequence {
	t.Helper()
	var states []uint16
	for _, tt := range ts {
		b, err := hex.DecodeString(tt.Hex)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(b); i += 2 {
			states = append(states, uint16(b[i])<<8|uint16(b[i+1]))
		}
	}
	last := ts[len(ts)-1].Shape
	hidden := last[len(last)-1]
	s := Sequence{DType: BF16, Hidden: hidden, States: states}
	if !skip {
		n := 1
		for _, d := range ts[0].Shape {
			n *= d
		}
		if n%hidden != 0 {
			t.Fatalf("prompt of %d values is not rows of %d", n, hidden)
		}
		s.PromptLen = n / hidden
	}
	return s
}

func TestReferenceVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			switch {
			case len(v.Cases) > 0:
				testInterpolationCases(t, v)
			case len(v.Activations) > 0 && len(v.Proofs) > 0:
				testProofVector(ctx, t, v)
			default:
				t.Fatalf("vector %q has a shape this test does not know; extend it", v.Name)
			}
		})
	}
}

func testInterpolationCases(t *testing.T, v vector) {
	for i, c := range v.Cases {
		var p prover
		p.grow(len(c.X))
		m, ok := p.injectiveModulus(c.X)
		if !ok || m != c.Modulus {
			t.Errorf("case %d: modulus %d (ok %v), want %d", i, m, ok, c.Modulus)
			continue
		}
		for j, x := range c.X {
			p.x[j] = x % m
			p.y[j] = c.Y[j]
		}
		sortPoints(p.x, p.y, p.pairs)
		interpolate(p.x, p.y, p.c, p.dd)
		got := ChunkProof{Modulus: uint16(m), Coeffs: make([]uint16, len(c.X))}
		for j, cc := range p.c {
			got.Coeffs[j] = uint16(cc)
		}
		if !slices.Equal(got.Coeffs, c.Coeffs) {
			t.Errorf("case %d: coefficients %v, want %v", i, got.Coeffs, c.Coeffs)
		}
		b, _ := got.MarshalBinary()
		if hex.EncodeToString(b) != c.Hex {
			t.Errorf("case %d: bytes %x, want %s", i, b, c.Hex)
		}
		// The polynomial passes through every point.
		ys := make([]uint32, len(c.X))
		evaluate(got.Coeffs, p.x, ys)
		for j := range ys {
			if ys[j] != p.y[j]%Prime {
				t.Errorf("case %d: p(%d) = %d, want %d", i, p.x[j], ys[j], p.y[j]%Prime)
			}
		}
	}
}

func testProofVector(ctx context.Context, t *testing.T, v vector) {
	params := Params{ChunkSize: v.Chunk, TopK: v.TopK, SkipPrefill: v.SkipPrefill}
	seq := sequenceFromList(t, v.Activations, v.SkipPrefill)
	proof, err := Prove(ctx, seq, WithParams(params))
	if err != nil {
		t.Fatal(err)
	}
	if len(proof.Chunks) != len(v.Proofs) {
		t.Fatalf("%d chunk proofs, want %d", len(proof.Chunks), len(v.Proofs))
	}
	spans, _ := Chunks(params, seq.Rows(), seq.PromptLen)
	for i, want := range v.Proofs {
		got := proof.Chunks[i]
		b, _ := got.MarshalBinary()
		if hex.EncodeToString(b) != want.Hex && !want.Tie {
			t.Errorf("chunk %d: proof %x, want %s", i, b, want.Hex)
		}
		if got.String() != want.B64 && !want.Tie {
			t.Errorf("chunk %d: base64 %s, want %s", i, got.String(), want.B64)
		}
		if i < len(v.ExpectedB64) && v.ExpectedB64[i] != want.B64 {
			t.Errorf("chunk %d: vector's README proof %s differs from its proof %s", i, v.ExpectedB64[i], want.B64)
		}
		if int(got.Modulus) != want.Modulus {
			t.Errorf("chunk %d: modulus %d, want %d", i, got.Modulus, want.Modulus)
		}
		// The same top-k set and values.
		var sel selector
		vals := seq.States[spans[i].Start*seq.Hidden : spans[i].End*seq.Hidden]
		idx := slices.Clone(sel.topK(vals, v.TopK))
		slices.Sort(idx)
		wantIdx := slices.Sorted(slices.Values(want.Indices))
		if !want.Tie && !slices.Equal(idx, wantIdx) {
			t.Errorf("chunk %d: top-k %v, want %v", i, idx, wantIdx)
		}
		for j, ix := range want.Indices {
			if vals[ix] != want.Values[j] {
				t.Errorf("chunk %d: value at %d is %#x, vector says %#x", i, ix, vals[ix], want.Values[j])
			}
		}
		// Decoding the reference's bytes and text gives the same proof.
		dec, err := ParseChunkProof(want.B64)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if dec.Modulus != got.Modulus || !slices.Equal(dec.Coeffs, got.Coeffs) {
			t.Errorf("chunk %d: decoded %+v, proved %+v", i, dec, got)
		}
	}

	// Verify the reference's proofs (decoded from its text), not ours.
	ref := &Proof{Params: params}
	for _, p := range v.Proofs {
		c, err := ParseChunkProof(p.B64)
		if err != nil {
			t.Fatal(err)
		}
		ref.Chunks = append(ref.Chunks, c)
	}
	check := func(name string, s Sequence, want []vecStats) {
		t.Helper()
		res, err := Verify(ctx, ref, s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Chunks) != len(want) {
			t.Fatalf("%s: %d results, want %d", name, len(res.Chunks), len(want))
		}
		for i, w := range want {
			c := res.Chunks[i]
			if c.ExpMismatches != w.ExpMismatches || c.MantErrMean != w.Mean || c.MantErrMedian != w.MedianCPP || c.MantErrMedianMid != w.MedianPy {
				t.Errorf("%s chunk %d: got (%d, %v, %v, %v), want (%d, %v, %v, %v)", name, i,
					c.ExpMismatches, c.MantErrMean, c.MantErrMedian, c.MantErrMedianMid,
					w.ExpMismatches, w.Mean, w.MedianCPP, w.MedianPy)
			}
		}
		if !res.Accepted {
			t.Errorf("%s: rejected: %s", name, res.Reason)
		}
	}
	if len(v.VerifySame) > 0 {
		check("same activations", seq, v.VerifySame)
	}
	if v.Jitter != nil {
		check("activations x1.01", sequenceFromList(t, v.Jitter.Activations, v.SkipPrefill), v.Jitter.Results)
	}
}
