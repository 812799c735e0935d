package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/diloco/trainerapi"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// Toy model settings shared by `openpool join --trainer toy` and `openpool dev`:
// every worker draws the same synthetic dataset (seeded by the pool ID) and
// trains on one of toyShards shards of it.
const (
	toyFeatures = 16
	toyRows     = 4000
	toyShards   = 16
	toyLR       = 0.05
	toyBatch    = 16
)

// trainFlags select the trainer that `openpool join` runs the outer loop with.
type trainFlags struct {
	trainer    string
	trainerAPI string
	innerSteps int
	outerSteps uint64
	minWorkers int
	// toy trainer knobs for benchmarks (docs/BENCHMARKS.md)
	toyStepTime time.Duration
	toyParams   int
}

func (f *trainFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.trainer, "trainer", "", `in-process trainer: "toy" (pure-Go logistic regression); empty for membership only`)
	fl.StringVar(&f.trainerAPI, "trainer-api", "", `serve the trainer API for an external trainer on "unix:/path" or "127.0.0.1:port"`)
	fl.IntVar(&f.innerSteps, "inner-steps", 50, "DiLoCo inner steps H per outer step")
	fl.Uint64Var(&f.outerSteps, "outer-steps", 0, "stop after this many outer steps (0: run until stopped)")
	fl.IntVar(&f.minWorkers, "min-workers", 2, "wait until this many pool members (this node included) are alive before the first outer step")
	fl.DurationVar(&f.toyStepTime, "toy-step-time", 0, "with --trainer toy: make every inner step last this long, as a larger model would (benchmarks)")
	fl.IntVar(&f.toyParams, "toy-params", 0, "with --trainer toy: add this many parameters to the model, so the all-reduce moves as much (benchmarks)")
}

func (f *trainFlags) enabled() bool { return f.trainer != "" || f.trainerAPI != "" }

func (f *trainFlags) validate() error {
	if f.trainer != "" && f.trainer != "toy" {
		return usagef("--trainer %q: the only in-process trainer is \"toy\"", f.trainer)
	}
	if f.trainer != "" && f.trainerAPI != "" {
		return usagef("use --trainer or --trainer-api, not both")
	}
	if f.minWorkers < 1 {
		return usagef("--min-workers %d: must be at least 1", f.minWorkers)
	}
	if f.innerSteps < 1 {
		return usagef("--inner-steps %d: must be at least 1", f.innerSteps)
	}
	return nil
}

// toyTrainer returns the toy trainer of the worker with this peer ID.
func toyTrainer(pool string, id peer.ID, opts ...toy.Option) (*toy.Trainer, error) {
	h := fnv.New64a()
	h.Write([]byte(pool))
	data := toy.Synthetic(h.Sum64(), toyRows, toyFeatures)
	h.Write([]byte(id))
	shard := int(h.Sum64() % toyShards)
	return toy.NewTrainer(data.Split(toyShards)[shard], toyLR, toyBatch, h.Sum64(), opts...)
}

// stepReport is one outer step as join reports it: the worker's progress
// and the time the trainer spent in the step's inner steps (0: unknown).
type stepReport struct {
	diloco.Progress
	Train time.Duration
}

// runTraining runs the DiLoCo outer loop of n in pool until ctx ends or the
// step limit is reached, reporting each outer step to progress.
func runTraining(ctx context.Context, g *globals, n *node.Node, pool string, f *trainFlags, progress func(stepReport)) (*tensor.Set, error) {
	var tr diloco.Trainer
	trainTime := func() time.Duration { return 0 }
	log := g.logger()
	switch {
	case f.trainer == "toy":
		t, err := toyTrainer(pool, n.ID(), toy.WithStepTime(f.toyStepTime), toy.WithParams(f.toyParams))
		if err != nil {
			return nil, usageError{err}
		}
		tr, trainTime = t, t.LastTrainTime
	case f.trainerAPI != "":
		srv, err := trainerapi.NewServer(f.innerSteps, trainerapi.WithLogger(log))
		if err != nil {
			return nil, err
		}
		ln, err := trainerapi.Listen(f.trainerAPI)
		if err != nil {
			return nil, usageError{err}
		}
		done := make(chan error, 1)
		sctx, stop := context.WithCancel(ctx)
		go func() { done <- srv.Serve(sctx, ln) }()
		defer func() {
			stop()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("trainer API", "err", err)
			}
		}()
		log.Info("trainer API listening", "addr", f.trainerAPI)
		tr = srv
	default:
		return nil, nil
	}
	dir, err := g.dataDir()
	if err != nil {
		return nil, err
	}
	stateDir := filepath.Join(dir, "diloco")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("diloco state directory: %w", err)
	}
	m, err := n.Membership(pool)
	if err != nil {
		return nil, err
	}
	for len(m.Alive()) < f.minWorkers {
		log.Info("waiting for workers", "alive", len(m.Alive()), "want", f.minWorkers)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	// progress runs on the worker's goroutine, after Train: trainTime is the step's.
	report := func(p diloco.Progress) { progress(stepReport{p, trainTime()}) }
	return runPoolWorker(ctx, n, pool, tr, log, f.innerSteps, f.outerSteps, filepath.Join(stateDir, pool+".state"), report)
}

// runPoolWorker wires DiLoCo to a node's pool: the round group is the pool's
// live membership.
func runPoolWorker(ctx context.Context, n *node.Node, pool string, tr diloco.Trainer, log *slog.Logger, h int, steps uint64, stateFile string, progress func(diloco.Progress)) (*tensor.Set, error) {
	m, err := n.Membership(pool)
	if err != nil {
		return nil, err
	}
	var status trainingStatus
	report := func(p diloco.Progress) {
		if p.Applied {
			_ = n.SetProgress(pool, p.Step+1, 0) // heartbeats carry the outer step
		}
		status.record(p)
		progress(p)
	}
	wopts := []diloco.WorkerOption{diloco.WithWorkerLogger(log), diloco.WithInnerSteps(h), diloco.WithMaxSteps(steps), diloco.WithProgress(report)}
	ropts := []diloco.RoundsOption{diloco.WithRoundsLogger(log), diloco.WithMembers(m.Alive)}
	// A pool with a descriptor fixes the DiLoCo parameters, and an
	// invite-only pool takes round messages from admitted members only.
	if d, ok := n.PoolRegistry().Get(pool); ok {
		p := d.Params
		wopts = append(wopts, diloco.WithInnerSteps(int(p.InnerSteps)), diloco.WithOuterOptimizer(p.OuterLR, p.OuterMomentum))
		mode := diloco.Int8
		if p.Quantization == p2p.QuantFloat32 {
			mode = diloco.Float32
		}
		ropts = append(ropts, diloco.WithMode(mode))
		if admit := n.AdmitFunc(pool); admit != nil {
			ropts = append(ropts, diloco.WithAdmit(admit))
		}
	}
	if stateFile != "" {
		wopts = append(wopts, diloco.WithStateFile(stateFile))
	}
	pw, err := diloco.NewPoolWorker(n.Host(), n.PubSub(), pool, tr, diloco.PoolOptions{
		Ring:   []diloco.RingOption{diloco.WithLogger(log)},
		Rounds: ropts,
		Worker: wopts,
	})
	if err != nil {
		return nil, err
	}
	defer pw.Close()
	section := "training " + pool
	n.SetStatusSection(section, func() any { return status.snapshot(pool, pw.Sync) })
	defer n.SetStatusSection(section, nil)
	// Give gossipsub a moment to build the rounds topic's mesh.
	deadline := time.Now().Add(10 * time.Second)
	for len(pw.Rounds.Topic().ListPeers()) < len(m.Alive())-1 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	w, err := pw.Run(ctx)
	if err == nil && steps > 0 {
		// Peers still finishing the last step may need our state.
		if !pw.Sync.Settle(ctx, 15*time.Second) {
			log.Info("diloco: some members did not reach our final outer state")
		}
	}
	return w, err
}

// trainingStatus is what the status page shows of a pool's outer loop.
type trainingStatus struct {
	mu               sync.Mutex
	last             diloco.Progress
	applied, skipped int
}

func (t *trainingStatus) record(p diloco.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = p
	if p.Applied {
		t.applied++
	} else {
		t.skipped++
	}
}

func (t *trainingStatus) snapshot(pool string, ss *diloco.StateSync) map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, st := ss.Head(), ss.Stats()
	out := map[string]any{
		"pool": pool, "outer_state": h.String(), "steps_applied": t.applied, "steps_skipped": t.skipped,
		"last_step": t.last.Step, "last_group": t.last.Group, "last_round_ms": t.last.Round.Milliseconds(),
		"allreduce_bytes_sent": t.last.TotalBytes, "states_adopted": st.Adopted, "states_served": st.Served,
	}
	if t.last.Err != nil {
		out["last_error"] = t.last.Err.Error()
	}
	return out
}

// formatProgress is the one-line report of an outer step.
func formatProgress(p diloco.Progress) string {
	status := "applied"
	if !p.Applied {
		status = "NOT applied"
		if p.Err != nil {
			status += ": " + p.Err.Error()
		}
	}
	if p.Adopted {
		status = "caught up with the pool (" + p.AdoptedHead.String() + "), " + status
	}
	return fmt.Sprintf("outer step %3d  loss %.4f  group %d  sent %s (total %s)  round %v  %s",
		p.Step, p.Loss, p.Group, byteSize(p.BytesSent), byteSize(p.TotalBytes), p.Round.Round(time.Millisecond), status)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
