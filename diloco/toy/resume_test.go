package toy_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/toy"
	"github.com/openpool/openpool/internal/swarmtest"
)

// TestWorkerResumesFromState: a worker stopped after 2 outer steps and
// started again with the same state file continues at step 2 (not 0) and
// saves step 4 with the weights it returns. (Bit-exact continuation of the
// optimizer itself is TestNesterovStateSurvivesRestart.)
func TestWorkerResumesFromState(t *testing.T) {
	data := toy.Synthetic(3, 500, 8)
	run := func(state string, from, to uint64) ([]float32, []uint64) {
		hs := swarmtest.Hosts(t, 1)
		ps := swarmtest.GossipSubs(t, hs)
		var steps []uint64
		tr, err := toy.NewTrainer(data, 0.05, 8, 7+from) // minibatch order is per run
		if err != nil {
			t.Fatal(err)
		}
		pw, err := diloco.NewPoolWorker(hs[0], ps[0], "resume", tr, diloco.PoolOptions{
			Rounds: []diloco.RoundsOption{diloco.WithMode(diloco.Float32), diloco.WithReadyWindow(50 * time.Millisecond)},
			Worker: []diloco.WorkerOption{diloco.WithInnerSteps(10), diloco.WithMaxSteps(to), diloco.WithStateFile(state),
				diloco.WithProgress(func(p diloco.Progress) { steps = append(steps, p.Step) })},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w, err := pw.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return w.Flatten(nil), steps
	}
	state := filepath.Join(t.TempDir(), "outer.safetensors")
	if _, steps := run(state, 0, 2); !slices.Equal(steps, []uint64{0, 1}) {
		t.Fatalf("first run steps %v", steps)
	}
	got, steps := run(state, 2, 4)
	if !slices.Equal(steps, []uint64{2, 3}) {
		t.Fatalf("resumed run did steps %v, want [2 3]", steps)
	}
	opt, saved, err := diloco.LoadNesterov(state)
	if err != nil || opt.Step != 4 || !slices.Equal(saved, got) {
		t.Fatalf("state after resume: step %v err %v", opt, err)
	}
}
