package diloco

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/openpool/openpool/diloco/tensor"
)

// Trainer runs the inner steps of DiLoCo. In-process trainers (the toy
// model) implement it directly; trainerapi.Server implements it for an
// external process (PyTorch) behind a local HTTP API.
type Trainer interface {
	// InitialWeights returns the weights every worker starts from (equal on
	// all workers: the same seed or checkpoint).
	InitialWeights(ctx context.Context) (*tensor.Set, error)
	// Train sets the model to start, runs h inner steps for outer step
	// step, and returns the weights after them or the pseudo-gradient.
	Train(ctx context.Context, step uint64, start *tensor.Set, h int) (TrainResult, error)
}

// TrainResult is what a trainer hands back after its inner steps: either
// Weights (the node computes start - Weights) or PseudoGradient.
type TrainResult struct {
	Weights        *tensor.Set
	PseudoGradient *tensor.Set
	Loss           float64 // mean training loss of the inner steps; NaN if unknown
}

// UpdateSink is implemented by trainers that want the averaged
// pseudo-gradient and the next start weights after each successful step.
type UpdateSink interface {
	Averaged(step uint64, avg, next *tensor.Set)
}

// Progress is reported after every outer step.
type Progress struct {
	Step       uint64 // the outer step just finished
	Loss       float64
	Applied    bool // false when the round failed and nothing was applied
	Group      int  // peers in the round
	Attempt    int
	BytesSent  int64 // all-reduce bytes this step
	TotalBytes int64 // all-reduce bytes since Run started
	Round      time.Duration
	Err        error // why the step was not applied
	// Adopted is set when the worker fetched the pool's outer state
	// (StateSync) before this step because its own was behind or
	// different; AdoptedHead names that state.
	Adopted     bool
	AdoptedHead Head
}

// Worker is the DiLoCo outer loop of one node: train H inner steps, average
// the pseudo-gradient with the pool through Rounds, apply the Nesterov outer
// step, repeat. Its optimizer state and start weights are saved after every
// applied step when a state file is set, and loaded on start.
type Worker struct {
	rounds  *Rounds
	trainer Trainer
	cfg     workerConfig
}

type workerConfig struct {
	h         int
	lr, mom   float64
	stateFile string
	maxSteps  uint64
	progress  func(Progress)
	log       *slog.Logger
	sync      *StateSync
	syncWait  time.Duration
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerConfig) error

// WithInnerSteps sets H, the inner steps per outer step (default 500).
func WithInnerSteps(h int) WorkerOption {
	return func(c *workerConfig) error {
		if h < 1 {
			return fmt.Errorf("diloco: inner steps %d < 1", h)
		}
		c.h = h
		return nil
	}
}

// WithOuterOptimizer sets the Nesterov learning rate and momentum
// (defaults DefaultOuterLR, DefaultOuterMomentum).
func WithOuterOptimizer(lr, momentum float64) WorkerOption {
	return func(c *workerConfig) error {
		if lr <= 0 || momentum < 0 || momentum >= 1 {
			return fmt.Errorf("diloco: outer lr %v momentum %v out of range", lr, momentum)
		}
		c.lr, c.mom = lr, momentum
		return nil
	}
}

// WithStateFile keeps the outer state (start weights, momentum, step) in
// path, so that a restarted worker resumes where it stopped.
func WithStateFile(path string) WorkerOption {
	return func(c *workerConfig) error { c.stateFile = path; return nil }
}

// WithMaxSteps stops Run after this outer step count (0: run until ctx ends).
func WithMaxSteps(n uint64) WorkerOption {
	return func(c *workerConfig) error { c.maxSteps = n; return nil }
}

// WithStateSync lets the worker serve its outer state to the pool and
// adopt the pool's when its own falls behind or differs: before every step,
// and after a step it could not apply it waits up to wait (default 15 s,
// 0 keeps the default) for the peers still finishing that round.
// NewPoolWorker sets it up.
func WithStateSync(s *StateSync, wait time.Duration) WorkerOption {
	return func(c *workerConfig) error {
		if wait < 0 {
			return fmt.Errorf("diloco: state sync wait %v < 0", wait)
		}
		c.sync = s
		if wait > 0 {
			c.syncWait = wait
		}
		return nil
	}
}

// WithProgress is called after every outer step (from Run's goroutine).
func WithProgress(f func(Progress)) WorkerOption {
	return func(c *workerConfig) error { c.progress = f; return nil }
}

// WithWorkerLogger sets the logger.
func WithWorkerLogger(l *slog.Logger) WorkerOption {
	return func(c *workerConfig) error { c.log = l; return nil }
}

// NewWorker builds the outer loop.
func NewWorker(rounds *Rounds, tr Trainer, opts ...WorkerOption) (*Worker, error) {
	cfg := workerConfig{h: 500, lr: DefaultOuterLR, mom: DefaultOuterMomentum, log: slog.Default(), syncWait: 15 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Worker{rounds: rounds, trainer: tr, cfg: cfg}, nil
}

// Run executes outer steps until ctx ends or WithMaxSteps is reached and
// returns the final start weights. A failed round is not fatal: the step is
// skipped (nothing applied) and the next one starts from the same weights,
// unless the pool applied it: with WithStateSync the worker then adopts the
// pool's state, so that it never averages on top of different weights.
func (w *Worker) Run(ctx context.Context) (*tensor.Set, error) {
	start, opt, err := w.load(ctx)
	if err != nil {
		return nil, err
	}
	flat := start.Flatten(nil)
	layout := start.LayoutHash()
	if opt.Buf == nil {
		opt.Buf = make([]float32, len(flat))
	}
	pg := make([]float32, len(flat))
	avg := make([]float32, len(flat))
	ss := w.cfg.sync
	var head Head
	if ss != nil {
		head = ss.bind(layout, opt.Step, opt.Applied, flat, opt.Buf)
		defer ss.detach()
	}
	// change runs f on the outer state with serving locked out.
	change := func(f func()) {
		if ss == nil {
			f()
			return
		}
		head = ss.update(func() (uint64, uint64) { f(); return opt.Step, opt.Applied })
	}
	install := func(h Head, nw, nm []float32) {
		copy(flat, nw)
		copy(opt.Buf, nm)
		opt.Step, opt.Applied = h.Step, h.Applied
	}
	var total int64
	var wait time.Duration // how long to wait for peers finishing the last round
	check := true          // ask the pool for its state before the next step
	for {
		var p Progress
		if ss != nil && check {
			h, changed, err := ss.catchUp(ctx, w.cfg.maxSteps, wait, install)
			if ctx.Err() != nil {
				out, _ := start.Unflatten(flat)
				return out, ctx.Err()
			}
			if err != nil {
				w.cfg.log.Warn("diloco: could not adopt the pool's outer state; going on with ours", "err", err)
			}
			head = h
			if changed {
				p.Adopted, p.AdoptedHead = true, h
				if w.cfg.stateFile != "" {
					if err := opt.SaveState(w.cfg.stateFile, flat); err != nil {
						out, _ := start.Unflatten(flat)
						return out, err
					}
				}
			}
		}
		step := opt.Step
		if w.cfg.maxSteps != 0 && step >= w.cfg.maxSteps {
			break
		}
		cur, _ := start.Unflatten(flat)
		res, err := w.trainer.Train(ctx, step, cur.Clone(), w.cfg.h)
		if err != nil {
			return cur, fmt.Errorf("diloco: step %d: train: %w", step, err)
		}
		switch {
		case res.PseudoGradient != nil:
			if !res.PseudoGradient.SameLayout(start) {
				return cur, fmt.Errorf("diloco: step %d: trainer's pseudo-gradient has another layout: %w", step, tensor.ErrShape)
			}
			res.PseudoGradient.Flatten(pg)
		case res.Weights != nil:
			if !res.Weights.SameLayout(start) {
				return cur, fmt.Errorf("diloco: step %d: trainer's weights have another layout: %w", step, tensor.ErrShape)
			}
			PseudoGradient(pg, flat, res.Weights.Flatten(nil))
		default:
			return cur, fmt.Errorf("diloco: step %d: trainer returned neither weights nor pseudo-gradient", step)
		}
		for i, x := range pg {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return cur, fmt.Errorf("diloco: step %d: pseudo-gradient value %d is %v; not sharing it", step, i, x)
			}
		}
		p.Step, p.Loss = step, res.Loss
		var state [32]byte
		if ss != nil {
			state = head.Hash
		}
		rr, err := w.rounds.AverageFrom(ctx, step, layout, state, pg, avg)
		if err != nil {
			if ctx.Err() != nil {
				return cur, ctx.Err()
			}
			change(func() { opt.Step++ })
			wait, check = w.cfg.syncWait, true
			p.Err = err
			w.cfg.log.Warn("diloco: outer step not applied", "step", step, "err", err)
		} else {
			var aerr error
			change(func() { aerr = opt.Apply(flat, avg) })
			if aerr != nil {
				return cur, fmt.Errorf("diloco: step %d: %w", step, aerr)
			}
			wait = 0
			// A round with every live member proves the pool shares our
			// state: no need to ask before the next step.
			check = ss != nil && len(rr.Group) < ss.liveMembers()
			p.Applied, p.Group, p.Attempt, p.BytesSent, p.Round = true, len(rr.Group), rr.Attempt, rr.Stats.BytesSent, rr.Stats.Duration
			total += rr.Stats.BytesSent
			if w.cfg.stateFile != "" {
				if err := opt.SaveState(w.cfg.stateFile, flat); err != nil {
					return cur, err
				}
			}
			if sink, ok := w.trainer.(UpdateSink); ok {
				a, _ := start.Unflatten(avg)
				next, _ := start.Unflatten(flat)
				sink.Averaged(step, a.Clone(), next.Clone())
			}
		}
		p.TotalBytes = total
		if w.cfg.progress != nil {
			w.cfg.progress(p)
		}
	}
	out, _ := start.Unflatten(flat)
	return out, nil
}

func (w *Worker) load(ctx context.Context) (*tensor.Set, *Nesterov, error) {
	init, err := w.trainer.InitialWeights(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("diloco: initial weights: %w", err)
	}
	if w.cfg.stateFile == "" {
		return init, NewNesterov(w.cfg.lr, w.cfg.mom), nil
	}
	opt, flat, err := LoadNesterov(w.cfg.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return init, NewNesterov(w.cfg.lr, w.cfg.mom), nil
	}
	if err != nil {
		return nil, nil, err
	}
	s, err := init.Unflatten(flat)
	if err != nil {
		return nil, nil, fmt.Errorf("diloco: state %s does not fit the trainer's model: %w", w.cfg.stateFile, err)
	}
	opt.LR, opt.Momentum = w.cfg.lr, w.cfg.mom
	w.cfg.log.Info("diloco: resumed outer state", "file", w.cfg.stateFile, "step", opt.Step)
	return s, opt, nil
}
