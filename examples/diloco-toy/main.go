// Command diloco-toy shows DiLoCo end to end on one machine: N workers, each
// a real libp2p host on loopback TCP with gossipsub, train the pure-Go toy
// model (logistic regression) on their own shard of a synthetic dataset,
// average int8 pseudo-gradients with the ring all-reduce every H inner
// steps, and apply Nesterov outer steps. It then trains one model on all
// the data with the same total number of SGD steps and compares the losses.
//
//	go run ./examples/diloco-toy -workers 4 -h 50 -steps 12
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
)

func main() {
	workers := flag.Int("workers", 4, "DiLoCo workers")
	h := flag.Int("h", 50, "inner steps per outer step")
	steps := flag.Uint64("steps", 12, "outer steps")
	features := flag.Int("features", 16, "features of the toy model")
	rows := flag.Int("rows", 4000, "rows of synthetic data")
	fp32 := flag.Bool("fp32", false, "all-reduce float32 instead of int8")
	tol := flag.Float64("tolerance", 0.03, "allowed relative excess of the DiLoCo loss over single-node")
	flag.Parse()
	if err := run(*workers, *h, *steps, *features, *rows, *fp32, *tol); err != nil {
		fmt.Fprintln(os.Stderr, "diloco-toy:", err)
		os.Exit(1)
	}
}

func run(workers, h int, steps uint64, features, rows int, fp32 bool, tol float64) error {
	if workers < 1 || h < 1 || steps < 1 {
		return fmt.Errorf("workers, h and steps must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	all := toy.Synthetic(1, rows, features)
	shards := all.Split(workers)

	hosts := make([]host.Host, workers)
	ids := make([]peer.ID, workers)
	for i := range hosts {
		hh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
		if err != nil {
			return err
		}
		defer hh.Close()
		hosts[i], ids[i] = hh, hh.ID()
	}
	for i := range hosts {
		for j := i + 1; j < len(hosts); j++ {
			if err := hosts[i].Connect(ctx, peer.AddrInfo{ID: hosts[j].ID(), Addrs: hosts[j].Addrs()}); err != nil {
				return err
			}
		}
	}
	mode := diloco.Int8
	if fp32 {
		mode = diloco.Float32
	}
	pws := make([]*diloco.PoolWorker, workers)
	var mu sync.Mutex
	for i, hh := range hosts {
		ps, err := pubsub.NewGossipSub(ctx, hh, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
		if err != nil {
			return err
		}
		tr, err := toy.NewTrainer(shards[i], 0.05, 16, uint64(i))
		if err != nil {
			return err
		}
		pws[i], err = diloco.NewPoolWorker(hh, ps, "toy", tr, diloco.PoolOptions{
			Ring: []diloco.RingOption{diloco.WithLogger(log)},
			Rounds: []diloco.RoundsOption{diloco.WithRoundsLogger(log), diloco.WithMode(mode),
				diloco.WithReadyWindow(3 * time.Second), diloco.WithMembers(func() []peer.ID { return ids })},
			Worker: []diloco.WorkerOption{diloco.WithWorkerLogger(log), diloco.WithInnerSteps(h), diloco.WithMaxSteps(steps),
				diloco.WithProgress(func(p diloco.Progress) {
					if i != 0 {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					status := "applied"
					if !p.Applied {
						status = "NOT applied: " + p.Err.Error()
					}
					fmt.Printf("outer step %3d  inner loss %.4f  group %d  sent %8d B (total %9d B)  round %v  %s\n",
						p.Step, p.Loss, p.Group, p.BytesSent, p.TotalBytes, p.Round.Round(time.Millisecond), status)
				})},
		})
		if err != nil {
			return err
		}
		defer pws[i].Close()
	}
	// Let gossipsub see the subscriptions and build its mesh.
	for _, pw := range pws {
		for len(pw.Rounds.Topic().ListPeers()) < workers-1 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)

	finals := make([]*tensor.Set, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i, pw := range pws {
		wg.Add(1)
		go func() { defer wg.Done(); finals[i], errs[i] = pw.Run(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	f0 := finals[0].Flatten(nil)
	for i := range finals {
		for k, x := range finals[i].Flatten(nil) {
			if math.Float32bits(x) != math.Float32bits(f0[k]) {
				return fmt.Errorf("worker %d disagrees with worker 0 at value %d", i, k)
			}
		}
	}
	single, err := toy.NewTrainer(all, 0.05, 16, 99)
	if err != nil {
		return err
	}
	w := toy.InitialWeights(features)
	if _, err := single.Train(ctx, 0, w, workers*h*int(steps)); err != nil {
		return err
	}
	got, ref := toy.Loss(finals[0], all), toy.Loss(w, all)
	fmt.Printf("\nloss on all data: DiLoCo (%d workers, H=%d, %d outer steps, %v) %.5f; single node (%d SGD steps) %.5f; ratio %.4f (tolerance %.2f)\n",
		workers, h, steps, mode, got, workers*h*int(steps), ref, got/ref, 1+tol)
	if got > ref*(1+tol) {
		return fmt.Errorf("DiLoCo loss %.5f is more than %.0f%% above single-node %.5f", got, tol*100, ref)
	}
	fmt.Println("all workers hold identical weights; DiLoCo matches single-node training within tolerance")
	return nil
}
