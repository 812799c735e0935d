package toploc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// The toy model's promise: honest reruns (another summation order, bf16
// jitter) pass verification; another model, input or precision does not.
func TestToyModelSeparatesHonestFromDishonest(t *testing.T) {
	ctx := context.Background()
	const promptLen, n = 16, 80
	cfg := DefaultToyConfig
	m, err := NewToyModel(cfg, []byte("checkpoint 1"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := ToyTokens([]byte("task 1"), n, cfg.Vocab)
	run := func(m *ToyModel, tokens []int, p ToyPrecision, splitK int) Sequence {
		t.Helper()
		s, err := m.Forward(ctx, tokens, promptLen, p, splitK)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jittered := func(m *ToyModel, splitK int, frac float64, seed uint64) Sequence {
		t.Helper()
		s, err := m.ForwardJitter(ctx, tokens, promptLen, ToyBF16, splitK, frac, seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	honest := run(m, tokens, ToyBF16, 1)
	if again := run(m, tokens, ToyBF16, 1); !slices.Equal(again.States, honest.States) {
		t.Fatal("the toy model is not deterministic")
	}
	if honest.Rows() != n || honest.Hidden != cfg.Hidden || honest.DType != BF16 {
		t.Fatalf("shape %d×%d %v", honest.Rows(), honest.Hidden, honest.DType)
	}
	proof, err := Prove(ctx, honest)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(s Sequence) Result {
		t.Helper()
		res, err := Verify(ctx, proof, s, WithParams(DefaultParams))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("accepted=%v exp_mismatches<=%d mant_err_mean<=%.2f median<=%.1f overlap>=%.2f %s",
			res.Accepted, res.MaxExpMismatches, res.MaxMantErrMean, res.MaxMantErrMedian, res.MinTopKOverlap, res.Reason)
		return res
	}
	other, err := NewToyModel(cfg, []byte("checkpoint 2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		seq    Sequence
		accept bool
	}{
		{"same run", honest, true},
		{"split-K 8 rerun with jitter on every value", Jitter(run(m, tokens, ToyBF16, 8), 1, 1), true},
		{"jitter on 30%", Jitter(honest, 2, 0.3), true},
		// Non-determinism inside the model, amplified by the later layers.
		{"split-K 4 rerun, 1% of every op's outputs one unit off", jittered(m, 4, 0.01, 4), true},
		{"weights +20% noise", run(m.Perturbed(3, 0.2), tokens, ToyBF16, 1), false},
		{"other checkpoint", run(other, tokens, ToyBF16, 1), false},
		{"other input", run(m, ToyTokens([]byte("task 2"), n, cfg.Vocab), ToyBF16, 1), false},
		{"fp16 run", run(m, tokens, ToyFP16, 1), false},
		{"fp32 run rounded to bf16", run(m, tokens, ToyFP32, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := verify(tc.seq); res.Accepted != tc.accept {
				t.Fatalf("accepted %v, want %v: %s", res.Accepted, tc.accept, res.Reason)
			}
		})
	}
}

func TestToyOutputHash(t *testing.T) {
	a := ToyOutputHash([]int{1, 2, 3})
	if a != ToyOutputHash([]int{1, 2, 3}) {
		t.Fatal("not deterministic")
	}
	for _, other := range [][]int{{1, 2}, {1, 2, 4}, {3, 2, 1}, {1 << 16, 2, 3}} {
		if ToyOutputHash(other) == a {
			t.Fatalf("%v hashes like [1 2 3]", other)
		}
	}
	if slices.Equal(ToyTokens([]byte("a"), 8, 100), ToyTokens([]byte("b"), 8, 100)) {
		t.Fatal("different inputs give the same tokens")
	}
}

func TestToyTask(t *testing.T) {
	ctx := context.Background()
	m, err := NewToyModel(ToyConfig{Vocab: 256, Hidden: 64, FF: 64, Layers: 2}, []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	task := DefaultToyTask(m)
	seq, hash, err := task.Run(ctx, []byte("job"), ToyBF16, 4)
	if err != nil {
		t.Fatal(err)
	}
	if seq.Rows() != 80 || seq.PromptLen != 16 {
		t.Fatalf("%d rows, prompt %d", seq.Rows(), seq.PromptLen)
	}
	proof, err := Prove(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	again, err := task.Recompute(ctx, []byte("job"), hash)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Verify(ctx, proof, again, WithParams(DefaultParams)); err != nil || !res.Accepted {
		t.Fatalf("recomputed task rejected: %v %s", err, res.Reason)
	}
	if _, err := task.Recompute(ctx, []byte("other job"), hash); !errors.Is(err, ErrToyOutput) {
		t.Fatalf("output hash of another task: %v", err)
	}
	if _, _, err := (ToyTask{Model: m, PromptLen: 4, Tokens: 4}).Run(ctx, nil, ToyBF16, 1); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("task without a completion: %v", err)
	}
}

func TestToyModelRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := NewToyModel(ToyConfig{Vocab: 1, Hidden: 0, FF: 1, Layers: 1}, nil); err == nil {
		t.Fatal("zero hidden size accepted")
	}
	m, err := NewToyModel(ToyConfig{Vocab: 8, Hidden: 16, FF: 16, Layers: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(ctx, []int{1, 8}, 1, ToyBF16, 1); err == nil {
		t.Fatal("token outside the vocabulary accepted")
	}
	if _, err := m.Forward(ctx, []int{1, 2}, 3, ToyBF16, 1); err == nil {
		t.Fatal("prompt longer than the tokens accepted")
	}
	if _, err := m.Forward(ctx, []int{1, 2}, 1, ToyFP32+1, 1); err == nil {
		t.Fatal("unknown precision accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Forward(cancelled, []int{1, 2}, 1, ToyBF16, 1); err == nil {
		t.Fatal("cancelled context ignored")
	}
}

// The precision check on several tasks, with the paper's thresholds
// unchanged: honest bf16 work (another split-K, bf16 jitter on the final
// states, a unit of non-determinism on 1% of every op's outputs) is
// accepted; the same model run in fp32 and rounded to bf16 at the end is
// rejected. The statistics are logged (go test -v) for the notes.
func TestToyModelPrecision(t *testing.T) {
	ctx := context.Background()
	m, err := NewToyModel(DefaultToyConfig, []byte("checkpoint 1"))
	if err != nil {
		t.Fatal(err)
	}
	task := DefaultToyTask(m)
	var honestMax, fp32Min Result
	fp32Min.MaxMantErrMean = math.Inf(1)
	for i := range 4 {
		input := fmt.Appendf(nil, "precision task %d", i)
		seq, _, err := task.Run(ctx, input, ToyBF16, 1)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := Prove(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		toks, err := task.tokens(input)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, s Sequence, err error, accept bool) Result {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(ctx, proof, s, WithParams(DefaultParams))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("task %d %-28s accepted=%v exp_mismatches<=%d mant_err_mean<=%.2f median<=%.0f",
				i, name, res.Accepted, res.MaxExpMismatches, res.MaxMantErrMean, res.MaxMantErrMedian)
			if res.Accepted != accept {
				t.Errorf("task %d, %s: accepted %v, want %v (%s)", i, name, res.Accepted, accept, res.Reason)
			}
			return res
		}
		for _, h := range []struct {
			name   string
			splitK int
			frac   float64
			final  float64
		}{
			{"split-K 8, final jitter 100%", 8, 0, 1},
			{"split-K 2, op jitter 1%", 2, 0.01, 0.3},
		} {
			s, err := m.ForwardJitter(ctx, toks, task.PromptLen, ToyBF16, h.splitK, h.frac, uint64(i))
			res := check(h.name, Jitter(s, uint64(i), h.final), err, true)
			if res.MaxMantErrMean > honestMax.MaxMantErrMean {
				honestMax = res
			}
		}
		s, err := m.Forward(ctx, toks, task.PromptLen, ToyFP32, 1)
		res := check("fp32 rounded to bf16", s, err, false)
		if res.MaxMantErrMean < fp32Min.MaxMantErrMean {
			fp32Min = res
		}
	}
	t.Logf("worst honest: mean %.2f median %.0f exp %d; mildest fp32: mean %.2f median %.0f exp %d (limits %+v)",
		honestMax.MaxMantErrMean, honestMax.MaxMantErrMedian, honestMax.MaxExpMismatches,
		fp32Min.MaxMantErrMean, fp32Min.MaxMantErrMedian, fp32Min.MaxExpMismatches, DefaultThresholds(DefaultParams.TopK))
}
