package diloco_test

import (
	"context"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/internal/swarmtest"
)

// gatedTrainer wraps a trainer: before step gateStep it waits for gate.
type gatedTrainer struct {
	diloco.Trainer
	gateStep uint64
	gate     <-chan struct{}
}

func (g gatedTrainer) Train(ctx context.Context, step uint64, start *tensor.Set, h int) (diloco.TrainResult, error) {
	if g.gate != nil && step == g.gateStep {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return diloco.TrainResult{}, ctx.Err()
		}
	}
	return g.Trainer.Train(ctx, step, start, h)
}

type syncPool struct {
	hs       []host.Host
	pws      []*diloco.PoolWorker
	mu       sync.Mutex
	progress [][]diloco.Progress
}

// newSyncPool starts n toy workers as `openpool join` does (NewPoolWorker,
// so with StateSync), each with its own data shard; trainers[i] wraps
// worker i's trainer when set.
func newSyncPool(t *testing.T, n int, steps uint64, wrap func(i int, tr diloco.Trainer) diloco.Trainer) *syncPool {
	t.Helper()
	data := toy.Synthetic(5, 1200, 8).Split(n)
	hs := swarmtest.Hosts(t, n)
	swarmtest.ConnectAll(t, hs)
	ps := swarmtest.GossipSubs(t, hs)
	ids := make([]peer.ID, n)
	for i, h := range hs {
		ids[i] = h.ID()
	}
	sp := &syncPool{hs: hs, progress: make([][]diloco.Progress, n)}
	for i, h := range hs {
		tr, err := toy.NewTrainer(data[i], 0.05, 8, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		var trainer diloco.Trainer = tr
		if wrap != nil {
			trainer = wrap(i, tr)
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("worker", i)
		pw, err := diloco.NewPoolWorker(h, ps[i], "catchup", trainer, diloco.PoolOptions{
			Ring: []diloco.RingOption{diloco.WithReadTimeout(3 * time.Second), diloco.WithLogger(log)},
			Rounds: []diloco.RoundsOption{diloco.WithReadyWindow(time.Second), diloco.WithConfirmTimeout(3 * time.Second),
				diloco.WithCommitTimeout(3 * time.Second), diloco.WithMembers(func() []peer.ID { return ids }), diloco.WithRoundsLogger(log)},
			Worker: []diloco.WorkerOption{diloco.WithInnerSteps(20), diloco.WithMaxSteps(steps), diloco.WithWorkerLogger(log),
				diloco.WithProgress(func(p diloco.Progress) {
					sp.mu.Lock()
					sp.progress[i] = append(sp.progress[i], p)
					sp.mu.Unlock()
				})},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pw.Close() })
		sp.pws = append(sp.pws, pw)
	}
	for _, pw := range sp.pws {
		for deadline := time.Now().Add(15 * time.Second); len(pw.Rounds.Topic().ListPeers()) < n-1; {
			if time.Now().After(deadline) {
				t.Fatal("rounds topic mesh did not form")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(1500 * time.Millisecond) // first gossipsub heartbeats build the mesh
	return sp
}

func (sp *syncPool) steps(i int) []diloco.Progress {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]diloco.Progress(nil), sp.progress[i]...)
}

func sameBits(t *testing.T, finals []*tensor.Set) {
	t.Helper()
	f0 := finals[0].Flatten(nil)
	for i, f := range finals[1:] {
		for k, x := range f.Flatten(nil) {
			if math.Float32bits(x) != math.Float32bits(f0[k]) {
				t.Fatalf("worker %d's final weights differ from worker 0's at %d: %v vs %v", i+1, k, x, f0[k])
			}
		}
	}
}

// TestMissedRoundCatchUp: worker 2 is late for step 2 (its inner steps take
// longer than the others wait), so workers 0 and 1 average without it. It
// must not go on from weights the pool no longer has: it fetches the
// pool's outer state and every worker ends with the same bits.
func TestMissedRoundCatchUp(t *testing.T) {
	const steps = 5
	gate := make(chan struct{})
	sp := newSyncPool(t, 3, steps, func(i int, tr diloco.Trainer) diloco.Trainer {
		if i == 2 {
			return gatedTrainer{tr, 2, gate}
		}
		return tr
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	finals := make([]*tensor.Set, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, pw := range sp.pws {
		wg.Go(func() { finals[i], errs[i] = pw.Run(ctx) })
	}
	// Open the gate once workers 0 and 1 have applied step 2 without 2.
	for deadline := time.Now().Add(60 * time.Second); ; {
		if p := sp.steps(0); len(p) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("workers 0 and 1 did not finish step 2 without worker 2")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	sameBits(t, finals)
	// Rounds race on a loaded machine (a 1 s ready window), so which
	// groups formed varies; what must hold: worker 2 never applied the
	// step it missed, it adopted the pool's state whenever the others
	// applied that step, and it trained with them again afterwards.
	p0, p2 := sp.steps(0), sp.steps(2)
	dump := func() {
		for i := range sp.pws {
			for _, p := range sp.steps(i) {
				t.Logf("worker %d: step %d applied %v group %d adopted %v err %v", i, p.Step, p.Applied, p.Group, p.Adopted, p.Err)
			}
			t.Logf("worker %d: sync %+v", i, sp.pws[i].Sync.Stats())
		}
	}
	rejoined := false
	for _, p := range p2 {
		if p.Step == 2 && p.Applied {
			dump()
			t.Fatalf("worker 2 applied step 2 although it missed the round: %+v", p)
		}
		rejoined = rejoined || (p.Step > 2 && p.Applied && p.Group >= 2)
	}
	if len(p0) > 2 && p0[2].Applied && sp.pws[2].Sync.Stats().Adopted == 0 {
		dump()
		t.Fatal("worker 2 never adopted the pool's state although the others applied step 2")
	}
	if !rejoined {
		dump()
		t.Fatal("worker 2 never trained with the others again after step 2")
	}
}

// TestLateJoinerAdoptsPoolState: a worker that starts after the others
// finished two outer steps begins from their state, not from step 0, and
// joins their rounds.
func TestLateJoinerAdoptsPoolState(t *testing.T) {
	const steps = 5
	sp := newSyncPool(t, 3, steps, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	finals := make([]*tensor.Set, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, pw := range sp.pws[:2] {
		wg.Go(func() { finals[i], errs[i] = pw.Run(ctx) })
	}
	for deadline := time.Now().Add(60 * time.Second); len(sp.steps(0)) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("workers 0 and 1 did not finish two steps")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Go(func() { finals[2], errs[2] = sp.pws[2].Run(ctx) })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	sameBits(t, finals)
	p2 := sp.steps(2)
	if len(p2) == 0 || !p2[0].Adopted || p2[0].Step < 2 {
		t.Fatalf("the late worker's first step %+v: want it to start from the pool's state at step >= 2", p2)
	}
	joined := false
	for _, p := range p2 {
		joined = joined || (p.Applied && p.Group >= 2)
	}
	if !joined {
		t.Fatalf("the late worker never averaged with the others: %+v", p2)
	}
}
