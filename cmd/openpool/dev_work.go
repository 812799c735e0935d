package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/toploc"
)

// The inference work of `openpool dev`: each worker runs the TOPLOC toy
// model (toploc.ToyModel, whose weights derive from the bytes of the pool's
// checkpoint) over a task determined by its input, proves the last hidden
// states and submits the work; the validator recomputes the sampled ones
// from its own copy of the checkpoint, with split-K kernels (another
// summation order, the non-determinism TOPLOC tolerates).
const (
	devWorkTokens    = 48 // prompt plus completion
	devWorkPromptLen = 16
)

// devInference holds, per checkpoint version, the toy inference model a
// node derived from the checkpoint it holds.
type devInference struct {
	n    *node.Node
	pool string
	dir  string // where checkpoints are assembled

	// cheat makes the worker run another model than the checkpoint's (one
	// it had at hand) and claim the work all the same; the validator
	// should reject it.
	cheat bool

	mu     sync.Mutex
	models map[uint64]*toploc.ToyModel
}

func newDevInference(n *node.Node, pool, dir string) *devInference {
	return &devInference{n: n, pool: pool, dir: dir, models: map[uint64]*toploc.ToyModel{}}
}

// model returns the toy model of checkpoint version v, which the node must
// hold complete.
func (d *devInference) model(ctx context.Context, v uint64) (*toploc.ToyModel, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := d.models[v]; m != nil {
		return m, nil
	}
	for _, cp := range d.n.Checkpoints(d.pool) {
		if cp.Version != v || !cp.Complete() {
			continue
		}
		out := filepath.Join(d.dir, fmt.Sprintf("v%d", v))
		if err := d.n.AssembleCheckpoint(ctx, d.pool, cp.CID, out); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(out, devCheckpointFile))
		if err != nil {
			return nil, fmt.Errorf("checkpoint version %d: %w", v, err)
		}
		m, err := toploc.NewToyModel(toploc.DefaultToyConfig, b)
		if err != nil {
			return nil, err
		}
		d.models[v] = m
		return m, nil
	}
	return nil, fmt.Errorf("checkpoint version %d not held", v)
}

func devTaskTokens(input []byte) []int {
	return toploc.ToyTokens(input, devWorkTokens, toploc.DefaultToyConfig.Vocab)
}

// work runs the task of input on checkpoint version v and returns the
// TOPLOC-proved work to submit.
func (d *devInference) work(ctx context.Context, v, outerStep uint64, input []byte) (node.Work, error) {
	m, err := d.model(ctx, v)
	if err != nil {
		return node.Work{}, err
	}
	if d.cheat {
		if m, err = toploc.NewToyModel(toploc.DefaultToyConfig, []byte("some other model")); err != nil {
			return node.Work{}, err
		}
	}
	toks := devTaskTokens(input)
	seq, err := m.Forward(ctx, toks, devWorkPromptLen, toploc.ToyBF16, 1)
	if err != nil {
		return node.Work{}, err
	}
	proof, err := toploc.Prove(ctx, seq, toploc.WithParallelism(1))
	if err != nil {
		return node.Work{}, err
	}
	return node.Work{
		OuterStep: outerStep, CheckpointVersion: v, Input: input,
		OutputHash: toploc.ToyOutputHash(toks[devWorkPromptLen:]), Proof: proof,
	}, nil
}

// recompute is the validator's node.RecomputeFunc.
func (d *devInference) recompute(ctx context.Context, sub *node.WorkSubmission) (toploc.Sequence, error) {
	toks := devTaskTokens(sub.Input)
	if toploc.ToyOutputHash(toks[devWorkPromptLen:]) != sub.OutputHash {
		return toploc.Sequence{}, fmt.Errorf("%w: output hash is not the task's", node.ErrWorkInvalid)
	}
	m, err := d.model(ctx, sub.CheckpointVersion)
	if err != nil {
		return toploc.Sequence{}, err
	}
	return m.Forward(ctx, toks, devWorkPromptLen, toploc.ToyBF16, 2)
}
