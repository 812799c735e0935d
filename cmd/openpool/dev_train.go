package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// devCheckpointFile is the file of the pool's checkpoint: the toy model's
// weights in safetensors.
const devCheckpointFile = "model.safetensors"

// maxDevCheckpoint bounds what a worker reads from a fetched checkpoint.
const maxDevCheckpoint = 1 << 20

// writeInitialCheckpoint writes the researcher's first checkpoint of pool
// into dir: the toy model with small random weights drawn from the pool ID,
// so that it differs from the trainer's all-zero default and training starts
// from what was published.
func writeInitialCheckpoint(dir, pool string) (*tensor.Set, error) {
	h := fnv.New64a()
	h.Write([]byte("init/" + pool))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	w := toy.InitialWeights(toyFeatures).Clone()
	flat := w.Flatten(nil)
	for i := range flat {
		flat[i] = float32(r.NormFloat64() * 0.5)
	}
	w, err := w.Unflatten(flat)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, devCheckpointFile))
	if err != nil {
		return nil, err
	}
	if err := tensor.Write(f, w, map[string]string{"pool": pool, "model": "toy logistic regression"}); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, f.Close()
}

// readCheckpointWeights assembles checkpoint c of pool from n's store under
// dir and reads the model's weights from it.
func readCheckpointWeights(ctx context.Context, n *node.Node, pool string, c node.Checkpoint, dir string) (*tensor.Set, error) {
	out := filepath.Join(dir, fmt.Sprintf("v%d", c.Version))
	if err := n.AssembleCheckpoint(ctx, pool, c.CID, out); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(out, devCheckpointFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.CID, err)
	}
	defer f.Close()
	w, _, err := tensor.Read(f, tensor.Limits{MaxData: maxDevCheckpoint})
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", c.CID, err)
	}
	if !w.SameLayout(toy.InitialWeights(toyFeatures)) {
		return nil, fmt.Errorf("checkpoint %s: not the toy model's layout", c.CID)
	}
	return w, nil
}

// checkpointTrainer is the toy trainer starting from a checkpoint's
// weights instead of its own.
type checkpointTrainer struct {
	*toy.Trainer
	start *tensor.Set
}

func (t checkpointTrainer) InitialWeights(context.Context) (*tensor.Set, error) {
	return t.start.Clone(), nil
}

// devReadyWindow is the rounds' ready window in dev (default 5 s).
const devReadyWindow = 20 * time.Second

// devTraining is what the DiLoCo phase produced.
type devTraining struct {
	Finals         []*tensor.Set
	StepLoss       []float64 // mean inner loss of the workers, per applied outer step
	AllReduceBytes int64     // sent by all workers
	Applied        int
}

// trainWorkers runs DiLoCo on every worker, each from the weights of the
// checkpoint it fetched (starts[i]). The round group is
// the pool's live members that are workers: the researcher and the
// validator are members of the pool too, but do not train.
func trainWorkers(ctx context.Context, g *globals, pool string, workers []*node.Node, starts []*tensor.Set, version uint64, h int, steps uint64, log *slog.Logger) (*devTraining, error) {
	var ids []peer.ID
	for _, n := range workers {
		ids = append(ids, n.ID())
	}
	slices.Sort(ids)
	var (
		mu     sync.Mutex
		losses = map[uint64][]float64{}
		sent   = make([]int64, len(workers))
	)
	res := &devTraining{Finals: make([]*tensor.Set, len(workers))}
	errs := make([]error, len(workers))
	var (
		wg  sync.WaitGroup
		pws []*diloco.PoolWorker
	)
	for i, n := range workers {
		tr, err := toyTrainer(pool, n.ID())
		if err != nil {
			return nil, err
		}
		m, err := n.Membership(pool)
		if err != nil {
			return nil, err
		}
		// The members a round waits for (up to its ready window) are the
		// workers the live view has not declared dead: a worker that a busy
		// machine made look dead for a moment is still waited for, so it is
		// not left behind with other weights.
		members := func() []peer.ID {
			dead := map[peer.ID]bool{}
			for _, mb := range m.Members() {
				dead[mb.ID] = mb.State != p2p.StateAlive && mb.State != p2p.StateSuspect
			}
			return slices.DeleteFunc(slices.Clone(ids), func(id peer.ID) bool { return dead[id] })
		}
		report := func(p diloco.Progress) {
			if p.Applied {
				_ = n.SetProgress(pool, p.Step+1, version)
			}
			mu.Lock()
			sent[i] = p.TotalBytes
			if p.Applied {
				losses[p.Step] = append(losses[p.Step], p.Loss)
			}
			mu.Unlock()
			if i == 0 {
				fmt.Fprintln(g.stdout, "  "+formatProgress(p))
			}
		}
		pw, err := diloco.NewPoolWorker(n.Host(), n.PubSub(), pool, checkpointTrainer{tr, starts[i]}, diloco.PoolOptions{
			Ring: []diloco.RingOption{diloco.WithLogger(log)},
			// Every expected worker's ready closes the window at once; the
			// long window only waits out a worker that a loaded machine
			// (tests share two cores) holds back, which would otherwise
			// miss the round and diverge.
			Rounds: []diloco.RoundsOption{diloco.WithRoundsLogger(log), diloco.WithMembers(members), diloco.WithReadyWindow(devReadyWindow)},
			Worker: []diloco.WorkerOption{diloco.WithWorkerLogger(log), diloco.WithInnerSteps(h), diloco.WithMaxSteps(steps), diloco.WithProgress(report)},
		})
		if err != nil {
			return nil, err
		}
		defer pw.Close()
		pws = append(pws, pw)
	}
	// Round messages travel on a topic only workers subscribe to, so the
	// workers need connections to each other (membership gossip may have
	// reached them through the researcher or the validator only). Then
	// every worker must see the others on the topic before the first ready
	// announcement, or one could form a round alone.
	for i, a := range workers {
		for _, b := range workers[i+1:] {
			if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
				return nil, fmt.Errorf("connect workers: %w", err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, pw := range pws {
		for len(pw.Rounds.Topic().ListPeers()) < len(workers)-1 {
			if time.Now().After(deadline) {
				return nil, errors.New("the workers do not see each other on the rounds topic")
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	for i, pw := range pws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Finals[i], errs[i] = pw.Run(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	for s := range steps {
		l := losses[s]
		if len(l) == 0 {
			continue
		}
		var sum float64
		for _, x := range l {
			sum += x
		}
		res.StepLoss = append(res.StepLoss, sum/float64(len(l)))
		res.Applied++
	}
	for _, b := range sent {
		res.AllReduceBytes += b
	}
	return res, nil
}

// weightsDigest is the SHA-256 of the weights' float32 bit patterns: equal
// digests mean bit-identical weights.
func weightsDigest(w *tensor.Set) string {
	h := sha256.New()
	var b [4]byte
	for _, x := range w.Flatten(nil) {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		h.Write(b[:])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// toyEvalLoss is the loss of w on the pool's whole toy dataset.
func toyEvalLoss(pool string, w *tensor.Set) float64 {
	h := fnv.New64a()
	h.Write([]byte(pool))
	return toy.Loss(w, toy.Synthetic(h.Sum64(), toyRows, toyFeatures))
}
