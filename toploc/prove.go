package toploc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Errors callers branch on.
var (
	// ErrRejected: the proof does not match the activations (Result.Err).
	ErrRejected = errors.New("toploc: proof rejected")
	// ErrInvalidProof: a proof that cannot be decoded or is out of limits.
	ErrInvalidProof = errors.New("toploc: invalid proof")
	// ErrInvalidInput: activations or options that cannot be proved or verified.
	ErrInvalidInput = errors.New("toploc: invalid input")
	// ErrTooFewValues: a chunk holds fewer values than TopK (the reference
	// emits null proofs for the whole inference in that case).
	ErrTooFewValues = errors.New("toploc: chunk has fewer values than topk")
)

// DType is the floating-point format of the proved bit patterns.
type DType uint8

const (
	// BF16 is bfloat16, the format the reference proves.
	BF16 DType = iota + 1
	// FP16 is IEEE half precision; proved the same way (its bit patterns are
	// committed and compared with the bf16 exponent/mantissa split).
	FP16
)

func (d DType) String() string {
	switch d {
	case BF16:
		return "bf16"
	case FP16:
		return "fp16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Sequence is the last hidden states of one inference (output of the final
// norm, input of the LM head), one row of Hidden values per token: the
// prompt's PromptLen rows first, then one row per generated token. States
// holds the 16-bit patterns row-major. Convert fp32 to bf16 first
// (tensorfile.F32ToBF16), as the reference requires.
type Sequence struct {
	DType     DType
	Hidden    int
	PromptLen int
	States    []uint16
}

// Rows is the number of tokens in s.
func (s Sequence) Rows() int {
	if s.Hidden <= 0 {
		return 0
	}
	return len(s.States) / s.Hidden
}

func (s Sequence) validate() error {
	if s.DType != BF16 && s.DType != FP16 {
		return fmt.Errorf("%w: dtype %v (want bf16 or fp16)", ErrInvalidInput, s.DType)
	}
	if s.Hidden <= 0 || len(s.States)%s.Hidden != 0 {
		return fmt.Errorf("%w: %d values are not rows of hidden size %d", ErrInvalidInput, len(s.States), s.Hidden)
	}
	if s.PromptLen < 0 || s.PromptLen > s.Rows() {
		return fmt.Errorf("%w: prompt length %d with %d rows", ErrInvalidInput, s.PromptLen, s.Rows())
	}
	return nil
}

// Span is a half-open range of rows [Start, End) proved as one chunk.
type Span struct{ Start, End int }

// Chunks returns the rows each proof covers, following the reference: with
// SkipPrefill false, chunk 0 is the whole prompt (promptLen rows, at least
// one), then one chunk per ChunkSize generated tokens; with SkipPrefill true,
// every row is in chunks of ChunkSize from row 0. The last chunk may be
// shorter.
func Chunks(p Params, rows, promptLen int) ([]Span, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	start := 0
	var spans []Span
	if !p.SkipPrefill {
		if promptLen < 1 || promptLen > rows {
			return nil, fmt.Errorf("%w: prompt length %d with %d rows (a prefill proof needs the prompt; or skip the prefill)", ErrInvalidInput, promptLen, rows)
		}
		spans = append(spans, Span{0, promptLen})
		start = promptLen
	}
	for r := start; r < rows; r += p.ChunkSize {
		spans = append(spans, Span{r, min(r+p.ChunkSize, rows)})
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("%w: no activations", ErrInvalidInput)
	}
	if len(spans) > MaxChunks {
		return nil, fmt.Errorf("%w: %d chunks (limit %d)", ErrInvalidInput, len(spans), MaxChunks)
	}
	return spans, nil
}

// config collects the options of Prove and Verify.
type config struct {
	params      Params
	paramsSet   bool
	thresholds  *Thresholds
	parallelism int
}

// Option configures Prove or Verify.
type Option func(*config) error

// WithParams sets the proof parameters (Prove; default DefaultParams). Given
// to Verify, it makes the verifier require exactly these parameters instead
// of trusting the ones the proof carries: a validator should always set it.
func WithParams(p Params) Option {
	return func(c *config) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.params, c.paramsSet = p, true
		return nil
	}
}

// WithThresholds sets Verify's acceptance thresholds (default
// DefaultThresholds of the proof's TopK).
func WithThresholds(t Thresholds) Option {
	return func(c *config) error {
		if t.MaxExpMismatches < 0 || t.MaxMantErrMean < 0 || t.MaxMantErrMedian < 0 {
			return fmt.Errorf("negative threshold %+v", t)
		}
		c.thresholds = &t
		return nil
	}
}

// WithParallelism sets how many goroutines work on chunks (default
// GOMAXPROCS). Chunks are independent, so the work splits evenly.
func WithParallelism(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("parallelism %d < 1", n)
		}
		c.parallelism = n
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{params: DefaultParams, parallelism: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
	}
	return c, nil
}

// chunkValues returns the flattened values of one span, checking that the
// chunk can be proved.
func chunkValues(s Sequence, sp Span, k int) ([]uint16, error) {
	v := s.States[sp.Start*s.Hidden : sp.End*s.Hidden]
	if len(v) < k {
		return nil, fmt.Errorf("%w: rows %d..%d hold %d values, topk is %d", ErrTooFewValues, sp.Start, sp.End, len(v), k)
	}
	if len(v) >= 1<<31 {
		return nil, fmt.Errorf("%w: rows %d..%d hold %d values (limit 2^31, as the reference)", ErrInvalidInput, sp.Start, sp.End, len(v))
	}
	return v, nil
}

// Prove computes the proof of s: one ChunkProof per span of Chunks.
func Prove(ctx context.Context, s Sequence, opts ...Option) (*Proof, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	spans, err := Chunks(cfg.params, s.Rows(), s.PromptLen)
	if err != nil {
		return nil, err
	}
	k := cfg.params.TopK
	for _, sp := range spans {
		if _, err := chunkValues(s, sp, k); err != nil {
			return nil, err
		}
	}
	proof := &Proof{Params: cfg.params, Chunks: make([]ChunkProof, len(spans))}
	coeffs := make([]uint16, len(spans)*k)
	err = forEachChunk(ctx, len(spans), cfg.parallelism, func() func(int) error {
		var pr prover
		return func(i int) error {
			v, _ := chunkValues(s, spans[i], k)
			c := coeffs[i*k : (i+1)*k : (i+1)*k]
			m, err := pr.prove(v, k, c)
			if err != nil {
				return fmt.Errorf("toploc: chunk %d (rows %d..%d): %w", i, spans[i].Start, spans[i].End, err)
			}
			proof.Chunks[i] = ChunkProof{Modulus: m, Coeffs: c}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return proof, nil
}

// forEachChunk runs the function made by newWorker for chunks 0..n-1 on up
// to par goroutines (each with its own worker state) and returns the first
// error. It stops early when ctx is done or a chunk fails.
func forEachChunk(ctx context.Context, n, par int, newWorker func() func(int) error) error {
	par = max(1, min(par, n))
	if par == 1 {
		// On the caller's goroutine: no hand-off for the common small case.
		work := newWorker()
		for i := range n {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("toploc: %w", err)
			}
			if err := work(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		failed.Store(true)
	}
	for range par {
		wg.Go(func() {
			work := newWorker()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(fmt.Errorf("toploc: %w", err))
					return
				}
				if err := work(i); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// prover holds the scratch space of one goroutine's proofs.
type prover struct {
	sel      selector
	x, y, dd []uint32
	c        []uint32
	pairs    []uint64
	seen     [65536 / 64]uint64
}

// ErrNoModulus: no modulus maps the top-k indices injectively (the
// reference raises too). Practically unreachable for k <= MaxTopK.
var ErrNoModulus = errors.New("no injective modulus")

func (p *prover) grow(k int) {
	if cap(p.x) < k {
		p.x, p.y, p.dd, p.c = make([]uint32, k), make([]uint32, k), make([]uint32, k), make([]uint32, k)
		p.pairs = make([]uint64, 2*k) // sortPoints' radix sort
	}
	p.x, p.y, p.dd, p.c = p.x[:k], p.y[:k], p.dd[:k], p.c[:k]
}

// prove commits to the top-k of v: it writes the coefficients into out and
// returns the modulus.
func (p *prover) prove(v []uint16, k int, out []uint16) (uint16, error) {
	p.grow(k)
	idx := p.sel.topK(v, k)
	m, ok := p.injectiveModulus(idx)
	if !ok {
		return 0, ErrNoModulus
	}
	for i, ix := range idx {
		p.x[i] = ix % m
		p.y[i] = uint32(v[ix])
	}
	sortPoints(p.x, p.y, p.pairs)
	interpolate(p.x, p.y, p.c, p.dd)
	for i, c := range p.c {
		out[i] = uint16(c)
	}
	return uint16(m), nil
}

// injectiveModulus finds, like the reference, the first m counting down
// from Prime such that all idx mod m are distinct.
func (p *prover) injectiveModulus(idx []uint32) (uint32, bool) {
	for m := uint32(Prime); m > 0; m-- {
		ok := true
		n := 0
		for _, ix := range idx {
			r := ix % m
			w, b := r/64, uint64(1)<<(r%64)
			if p.seen[w]&b != 0 {
				ok = false
				break
			}
			p.seen[w] |= b
			n++
		}
		for _, ix := range idx[:n] {
			r := ix % m
			p.seen[r/64] = 0
		}
		if ok {
			return m, true
		}
	}
	return 0, false
}
