package toy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openpool/openpool/diloco/toy"
)

func TestStepTimePacesTraining(t *testing.T) {
	data := toy.Synthetic(1, 200, 4)
	const h, step = 20, 5 * time.Millisecond
	tr, err := toy.NewTrainer(data, 0.05, 4, 1, toy.WithStepTime(step))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := tr.InitialWeights(context.Background())
	if _, err := tr.Train(context.Background(), 0, w, h); err != nil {
		t.Fatal(err)
	}
	if got := tr.LastTrainTime(); got < h*step {
		t.Fatalf("Train took %v, want at least %d steps of %v", got, h, step)
	}

	// A cancelled context stops the sleeping steps.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long, err := toy.NewTrainer(data, 0.05, 4, 1, toy.WithStepTime(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.Train(ctx, 0, w, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Train with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestParamsAddDenseBallast(t *testing.T) {
	data := toy.Synthetic(1, 200, 4)
	const n = 1000
	tr, err := toy.NewTrainer(data, 0.05, 4, 1, toy.WithParams(n))
	if err != nil {
		t.Fatal(err)
	}
	w, err := tr.InitialWeights(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(w.Flatten(nil)); got != 4+1+n {
		t.Fatalf("model has %d values, want %d", got, 4+1+n)
	}
	res, err := tr.Train(context.Background(), 0, w, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := res.Weights.Get(toy.BallastName)
	if !ok {
		t.Fatal("no ballast tensor after Train")
	}
	moved := 0
	for _, x := range b.Data {
		if x != 0 {
			moved++
		}
	}
	if moved < n*9/10 {
		t.Fatalf("%d of %d ballast values moved; want a dense update", moved, n)
	}
	// A model without the ballast does not fit a trainer that has it.
	if _, err := tr.Train(context.Background(), 0, toy.InitialWeights(4), 1); err == nil {
		t.Fatal("Train accepted weights without the ballast tensor")
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	data := toy.Synthetic(1, 10, 2)
	for name, o := range map[string]toy.Option{
		"negative step time": toy.WithStepTime(-time.Millisecond),
		"negative params":    toy.WithParams(-1),
		"huge params":        toy.WithParams(1<<30 + 1),
	} {
		if _, err := toy.NewTrainer(data, 0.05, 4, 1, o); err == nil {
			t.Errorf("%s: NewTrainer accepted it", name)
		}
	}
}
