package toploc

import (
	"math"
	"math/rand/v2"

	"github.com/openpool/openpool/toploc/tensorfile"
)

// A tiny decoder-like model that produces "last hidden states" the way an
// LLM does, so the tests can compare honest and dishonest provers without a
// GPU: token embeddings, a causal running mean (standing in for attention,
// so the prompt influences every later token), residual MLP blocks with
// RMSNorm and GELU, a final RMSNorm. Matrix products accumulate in fp32 like
// GPU kernels; every stored activation is rounded to the model's precision.
type tinyModel struct {
	vocab, d, ff, layers int
	blockScale           float64   // scale of each block's output against the residual stream
	emb                  []float32 // vocab × d
	w1, w2               [][]float32
	gain                 []float32
}

type precision int

const (
	precBF16 precision = iota
	precFP16
	precFP32
)

func round(x float32, p precision) float32 {
	switch p {
	case precBF16:
		return tensorfile.BF16ToF32(tensorfile.F32ToBF16(math.Float32bits(x)))
	case precFP16:
		return tensorfile.F16ToF32(tensorfile.F32ToF16(x))
	}
	return x
}

func newTinyModel(seed uint64, vocab, d, ff, layers int, blockScale float64) *tinyModel {
	r := rand.New(rand.NewPCG(seed, 7))
	m := &tinyModel{vocab: vocab, d: d, ff: ff, layers: layers, blockScale: blockScale}
	gauss := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
		return v
	}
	m.emb = gauss(vocab*d, 1)
	for range layers {
		m.w1 = append(m.w1, gauss(ff*d, 1/math.Sqrt(float64(d))))
		m.w2 = append(m.w2, gauss(d*ff, blockScale/math.Sqrt(float64(ff))))
	}
	m.gain = gauss(d, 0.5)
	for i := range m.gain {
		m.gain[i] += 1
	}
	return m
}

// perturbed returns a copy whose weights carry extra Gaussian noise of rel
// times their scale: a fine-tuned or otherwise different model.
func (m *tinyModel) perturbed(seed uint64, rel float64) *tinyModel {
	r := rand.New(rand.NewPCG(seed, 11))
	c := *m
	noisy := func(w []float32, std float64) []float32 {
		out := make([]float32, len(w))
		for i, v := range w {
			out[i] = v + float32(r.NormFloat64()*std*rel)
		}
		return out
	}
	c.w1, c.w2 = nil, nil
	for l := range m.layers {
		c.w1 = append(c.w1, noisy(m.w1[l], 1/math.Sqrt(float64(m.d))))
		c.w2 = append(c.w2, noisy(m.w2[l], m.blockScale/math.Sqrt(float64(m.ff))))
	}
	return &c
}

// matvec computes out = W·x with fp32 accumulation. splitK > 1 sums the
// inner dimension in that many partial sums first, as split-K GPU kernels
// do: the same maths in a different order, which is where GPU
// non-determinism comes from.
func matvec(w, x, out []float32, splitK int) {
	n := len(x)
	for i := range out {
		row := w[i*n : (i+1)*n]
		if splitK <= 1 {
			var s float32
			for j, v := range row {
				s += v * x[j]
			}
			out[i] = s
			continue
		}
		var total float32
		step := (n + splitK - 1) / splitK
		for b := 0; b < n; b += step {
			var s float32
			for j := b; j < min(b+step, n); j++ {
				s += row[j] * x[j]
			}
			total += s
		}
		out[i] = total
	}
}

func rmsnorm(x, out, gain []float32, p precision) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	inv := float32(1 / math.Sqrt(float64(ss/float32(len(x)))+1e-6))
	for i, v := range x {
		g := float32(1)
		if gain != nil {
			g = gain[i]
		}
		out[i] = round(v*inv*g, p)
	}
}

func gelu(x float32) float32 {
	return float32(0.5 * float64(x) * (1 + math.Tanh(0.7978845608*(float64(x)+0.044715*math.Pow(float64(x), 3)))))
}

// forward runs the model over tokens and returns the last hidden states,
// row-major, in the model's precision.
func (m *tinyModel) forward(tokens []int, p precision, splitK int) []float32 {
	out := make([]float32, 0, len(tokens)*m.d)
	ctx := make([]float32, m.d)
	h := make([]float32, m.d)
	n := make([]float32, m.d)
	a := make([]float32, m.ff)
	o := make([]float32, m.d)
	for t, tok := range tokens {
		e := m.emb[tok*m.d : (tok+1)*m.d]
		for i := range ctx {
			ctx[i] += (e[i] - ctx[i]) / float32(t+1)
			h[i] = round(e[i]+ctx[i], p)
		}
		for l := range m.layers {
			rmsnorm(h, n, nil, p)
			matvec(m.w1[l], n, a, splitK)
			for i := range a {
				a[i] = round(gelu(round(a[i], p)), p)
			}
			matvec(m.w2[l], a, o, splitK)
			for i := range h {
				h[i] = round(h[i]+round(o[i], p), p)
			}
		}
		rmsnorm(h, n, m.gain, p)
		out = append(out, n...)
	}
	return out
}

// bf16Sequence converts model output to the bf16 sequence a prover commits
// to (fp32 and fp16 runs are rounded to bf16, as a cheater would present
// them).
func bf16Sequence(states []float32, d, promptLen int) Sequence {
	bits := make([]uint16, len(states))
	for i, v := range states {
		bits[i] = tensorfile.F32ToBF16(math.Float32bits(v))
	}
	return Sequence{DType: BF16, Hidden: d, PromptLen: promptLen, States: bits}
}

// fp16Sequence keeps fp16 bit patterns.
func fp16Sequence(states []float32, d, promptLen int) Sequence {
	bits := make([]uint16, len(states))
	for i, v := range states {
		bits[i] = tensorfile.F32ToF16(v)
	}
	return Sequence{DType: FP16, Hidden: d, PromptLen: promptLen, States: bits}
}

func randomTokens(seed uint64, n, vocab int) []int {
	r := rand.New(rand.NewPCG(seed, 5))
	t := make([]int, n)
	for i := range t {
		t[i] = r.IntN(vocab)
	}
	return t
}

// quantized returns a copy whose weights are rounded to fp8 e4m3 (three
// mantissa bits), the cheaper model a dishonest provider might serve.
func (m *tinyModel) quantized() *tinyModel {
	c := *m
	q := func(w []float32) []float32 {
		out := make([]float32, len(w))
		for i, v := range w {
			b := math.Float32bits(v)
			b = (b + 0x7ffff + (b>>20)&1) &^ 0xfffff // keep 3 mantissa bits, nearest even
			out[i] = math.Float32frombits(b)
		}
		return out
	}
	c.w1, c.w2 = nil, nil
	for l := range m.layers {
		c.w1 = append(c.w1, q(m.w1[l]))
		c.w2 = append(c.w2, q(m.w2[l]))
	}
	return &c
}
