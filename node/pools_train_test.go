package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// recordingTrainer is a toy trainer that records the digest of the start
// weights of every outer step: workers that stay together start every step
// from bit-identical weights.
type recordingTrainer struct {
	*toy.Trainer
	mu     sync.Mutex
	starts map[uint64]string
}

func (r *recordingTrainer) Train(ctx context.Context, step uint64, start *tensor.Set, h int) (diloco.TrainResult, error) {
	d := weightsDigest(start)
	r.mu.Lock()
	r.starts[step] = d
	r.mu.Unlock()
	return r.Trainer.Train(ctx, step, start, h)
}

func (r *recordingTrainer) start(step uint64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.starts[step]
	return d, ok
}

// weightsDigest is the SHA-256 of the weights' float32 bit patterns.
func weightsDigest(w *tensor.Set) string {
	h := sha256.New()
	var b [4]byte
	for _, x := range w.Flatten(nil) {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		h.Write(b[:])
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// TestPoolOwnerRestartWhileTraining: the issue's "the owner's node
// restarts: the pool is still discoverable and its members keep training".
// Three members train with DiLoCo (toy trainer, wired as `openpool join
// --trainer toy` wires it: the round group is the pool's live membership,
// the descriptor fixes the parameters) while the owner's node goes down and
// comes back from its data directory. The members complete outer steps
// before, during and after the owner's absence; the pool is found by a
// fresh node both while the owner is down and after it is back; and every
// member starts every outer step, and ends, on bit-identical weights.
func TestPoolOwnerRestartWhileTraining(t *testing.T) {
	const (
		members  = 3
		maxSteps = 20
		inner    = 4
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	boot := nodetest.Bootstrap(t, fastPools)
	dir := t.TempDir()
	owner, err := node.New(ctx, ownerOpts(boot, dir)...)
	if err != nil {
		t.Fatal(err)
	}
	ownerUp := true
	defer func() {
		if ownerUp {
			_ = owner.Close()
		}
	}()
	tmpl := poolTemplate(p2p.AdmitOpen)
	tmpl.Params.InnerSteps = inner
	d, err := owner.CreatePool(ctx, "trainers", tmpl)
	if err != nil {
		t.Fatal(err)
	}

	fast := node.WithHeartbeatInterval(500 * time.Millisecond)
	var nodes []*node.Node
	for range members {
		n := nodetest.Node(t, boot, fastPools, fast)
		joinWhenFound(t, n, d.ID)
		nodes = append(nodes, n)
	}
	if !nodetest.WaitFor(30*time.Second, func() bool {
		for _, n := range nodes {
			if nodetest.AliveCount(n, d.ID) != members {
				return false
			}
		}
		return true
	}) {
		t.Fatal("members do not see each other alive")
	}

	// One PoolWorker per member, as cmd/openpool's runPoolWorker builds it.
	data := toy.Synthetic(7, 2000, 16).Split(members)
	var (
		trainers [members]*recordingTrainer
		applied  [members]atomic.Uint64
		failed   [members]atomic.Uint64
		pws      []*diloco.PoolWorker
	)
	log := slog.New(slog.DiscardHandler)
	for i, n := range nodes {
		tr, err := toy.NewTrainer(data[i], 0.05, 16, uint64(i+1), toy.WithStepTime(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		trainers[i] = &recordingTrainer{Trainer: tr, starts: map[uint64]string{}}
		m, err := n.Membership(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		desc, ok := n.PoolRegistry().Get(d.ID)
		if !ok {
			t.Fatalf("member %d has no descriptor", i)
		}
		mode := diloco.Int8
		if desc.Params.Quantization == p2p.QuantFloat32 {
			mode = diloco.Float32
		}
		ropts := []diloco.RoundsOption{diloco.WithRoundsLogger(log), diloco.WithMembers(m.Alive), diloco.WithMode(mode)}
		if admit := n.AdmitFunc(d.ID); admit != nil {
			ropts = append(ropts, diloco.WithAdmit(admit))
		}
		report := func(p diloco.Progress) {
			if p.Applied {
				_ = n.SetProgress(d.ID, p.Step+1, 0)
				applied[i].Add(1)
			} else {
				failed[i].Add(1)
			}
		}
		pw, err := diloco.NewPoolWorker(n.Host(), n.PubSub(), d.ID, trainers[i], diloco.PoolOptions{
			Ring:   []diloco.RingOption{diloco.WithLogger(log)},
			Rounds: ropts,
			Worker: []diloco.WorkerOption{
				diloco.WithWorkerLogger(log), diloco.WithInnerSteps(int(desc.Params.InnerSteps)),
				diloco.WithOuterOptimizer(desc.Params.OuterLR, desc.Params.OuterMomentum),
				diloco.WithMaxSteps(maxSteps), diloco.WithProgress(report),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pw.Close() })
		pws = append(pws, pw)
	}
	// Round messages need the members connected to each other and on the
	// rounds topic before the first ready announcement.
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, pw := range pws {
		if !nodetest.WaitFor(20*time.Second, func() bool { return len(pw.Rounds.Topic().ListPeers()) >= members-1 }) {
			t.Fatalf("member %d sees %d peers on the rounds topic", i, len(pw.Rounds.Topic().ListPeers()))
		}
	}
	finals := make([]*tensor.Set, members)
	errs := make([]error, members)
	var wg sync.WaitGroup
	for i, pw := range pws {
		wg.Go(func() { finals[i], errs[i] = pw.Run(ctx) })
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	steps := func() []uint64 {
		out := make([]uint64, members)
		for i := range applied {
			out[i] = applied[i].Load()
		}
		return out
	}
	// waitSteps waits until every member applied at least want outer steps
	// (leaving some for the next phase unless last).
	waitSteps := func(phase string, want uint64, last bool) []uint64 {
		t.Helper()
		if !nodetest.WaitFor(40*time.Second, func() bool {
			for _, s := range steps() {
				if s < want {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("%s: members applied %v outer steps, want %d each (failed rounds %d %d %d)",
				phase, steps(), want, failed[0].Load(), failed[1].Load(), failed[2].Load())
		}
		s := steps()
		if !last && max(s[0], s[1], s[2]) >= maxSteps {
			t.Fatalf("%s: the members ran out of outer steps (%v); the test needs more", phase, s)
		}
		return s
	}
	minOf := func(s []uint64) uint64 { return min(s[0], s[1], s[2]) }
	start := time.Now()
	found := func(phase string) {
		t.Helper()
		fresh := nodetest.Node(t, boot, fastPools)
		var (
			got  *p2p.PoolDescriptor
			ferr error
		)
		if !nodetest.WaitFor(30*time.Second, func() bool {
			fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
			defer fcancel()
			got, ferr = fresh.FindPool(fctx, d.ID)
			return ferr == nil
		}) {
			t.Fatalf("%s: a fresh node cannot find the pool: %v", phase, ferr)
		}
		if got.ID != d.ID || got.Closed {
			t.Fatalf("%s: found %+v", phase, got)
		}
		t.Logf("%v: %s: a fresh node found the pool", time.Since(start).Round(time.Millisecond), phase)
	}

	before := waitSteps("owner up", 2, false)
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	ownerUp = false
	t.Logf("%v: owner down after %v outer steps", time.Since(start).Round(time.Millisecond), before)
	found("owner down")
	// Down long enough for the registries' gossip (300 ms) and DHT (2 s)
	// rounds to pass without the owner, and for at least two outer steps.
	time.Sleep(3 * time.Second)
	during := waitSteps("owner down", minOf(before)+2, false)
	t.Logf("%v: owner restarting after %v outer steps", time.Since(start).Round(time.Millisecond), during)

	restartOwner(ctx, t, boot, dir, owner.ID(), d)
	t.Logf("%v: owner restarted, members at %v outer steps", time.Since(start).Round(time.Millisecond), steps())
	found("owner back")
	after := waitSteps("owner back", minOf(during)+2, true)
	t.Logf("%v: owner back and pool found; members at %v outer steps", time.Since(start).Round(time.Millisecond), after)

	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	t.Logf("%v: done: applied %v of %d outer steps, failed rounds %d %d %d", time.Since(start).Round(time.Millisecond),
		steps(), maxSteps, failed[0].Load(), failed[1].Load(), failed[2].Load())
	want := weightsDigest(finals[0])
	for i := 1; i < members; i++ {
		if got := weightsDigest(finals[i]); got != want {
			t.Errorf("member %d ends on weights %s, member 0 on %s", i, got, want)
		}
	}
	// Where they parted, if they did.
	for s := range uint64(maxSteps) {
		d0, ok := trainers[0].start(s)
		for i := 1; ok && i < members; i++ {
			if di, ok := trainers[i].start(s); ok && di != d0 {
				t.Errorf("outer step %d: member %d starts from %s, member 0 from %s", s, i, di, d0)
				break
			}
		}
	}
}
