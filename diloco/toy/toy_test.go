package toy_test

import (
	"context"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/internal/swarmtest"
)

const (
	workers   = 4
	features  = 16
	rows      = 4000
	innerH    = 50
	outer     = 12
	batch     = 16
	innerLR   = 0.05
	tolerance = 0.03 // DiLoCo loss may exceed the single-node loss by at most 3 %
)

// singleNode trains on all the data with as many SGD steps as the four
// DiLoCo workers take together (the same total compute and samples).
func singleNode(t *testing.T, all toy.Dataset) float64 {
	tr, err := toy.NewTrainer(all, innerLR, batch, 99)
	if err != nil {
		t.Fatal(err)
	}
	w := toy.InitialWeights(features)
	if _, err := tr.Train(context.Background(), 0, w, workers*innerH*outer); err != nil {
		t.Fatal(err)
	}
	return toy.Loss(w, all)
}

// TestDiLoCoMatchesSingleNode: 4 workers on real loopback hosts, each with a
// quarter of the data, int8 all-reduce, Nesterov outer steps: the final
// loss on all the data is within 3 % of single-node SGD on all of it with the same total compute, every
// worker holds the same bits, and the outer state on disk resumes.
func TestDiLoCoMatchesSingleNode(t *testing.T) {
	all := toy.Synthetic(1, rows, features)
	shards := all.Split(workers)
	ref := singleNode(t, all)

	hs := swarmtest.Hosts(t, workers)
	swarmtest.ConnectAll(t, hs)
	ps := swarmtest.GossipSubs(t, hs)
	ids := make([]peer.ID, workers)
	for i, h := range hs {
		ids[i] = h.ID()
	}
	ws := make([]*diloco.Worker, workers)
	dir := t.TempDir()
	var mu sync.Mutex
	var lastLoss []float64
	var rs []*diloco.Rounds
	for i, h := range hs {
		ring, err := diloco.NewRing(h, diloco.WithReadTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ring.Close() })
		rounds, err := diloco.NewRounds(h, ps[i], "toy", ring,
			diloco.WithReadyWindow(3*time.Second), diloco.WithMembers(func() []peer.ID { return ids }),
			diloco.WithConfirmTimeout(5*time.Second), diloco.WithCommitTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rounds.Close() })
		rs = append(rs, rounds)
		tr, err := toy.NewTrainer(shards[i], innerLR, batch, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		ws[i], err = diloco.NewWorker(rounds, tr, diloco.WithInnerSteps(innerH), diloco.WithMaxSteps(outer),
			diloco.WithStateFile(filepath.Join(dir, h.ID().String()+".safetensors")),
			diloco.WithProgress(func(p diloco.Progress) {
				if !p.Applied {
					t.Errorf("worker %d: step %d not applied: %v", i, p.Step, p.Err)
				}
				if i == 0 {
					mu.Lock()
					lastLoss = append(lastLoss, p.Loss)
					mu.Unlock()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
	}
	var topics []*pubsub.Topic
	for _, w := range rs {
		topics = append(topics, w.Topic())
	}
	swarmtest.WaitTopicPeers(t, topics, workers-1, 15*time.Second)
	time.Sleep(2 * time.Second) // let gossipsub build its mesh (first heartbeats)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	finals := make([]*tensor.Set, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			finals[i], errs[i] = ws[i].Run(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	f0 := finals[0].Flatten(nil)
	for i := range finals {
		for k, x := range finals[i].Flatten(nil) {
			if math.Float32bits(x) != math.Float32bits(f0[k]) {
				t.Fatalf("worker %d differs at %d", i, k)
			}
		}
	}
	got := toy.Loss(finals[0], all)
	t.Logf("loss on all data: DiLoCo %d workers x H=%d x %d outer steps = %.5f, single node %d steps = %.5f (ratio %.4f); worker 0 inner losses %.4v",
		workers, innerH, outer, got, workers*innerH*outer, ref, got/ref, lastLoss)
	if got > ref*(1+tolerance) {
		t.Fatalf("DiLoCo loss %.5f exceeds single-node loss %.5f by more than %.0f%%", got, ref, tolerance*100)
	}
	// The state file resumes: a fresh optimizer loaded from disk holds the final weights.
	opt, w, err := diloco.LoadNesterov(filepath.Join(dir, hs[0].ID().String()+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if opt.Step != outer {
		t.Fatalf("saved step %d, want %d", opt.Step, outer)
	}
	for k := range w {
		if w[k] != f0[k] {
			t.Fatalf("saved weights differ at %d", k)
		}
	}
}
