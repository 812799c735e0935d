// Package toy is a pure-Go model for DiLoCo tests and examples: logistic
// regression (a linear layer and a sigmoid) trained with minibatch SGD on a
// synthetic, linearly separable-with-noise dataset that can be split across
// workers. It implements diloco.Trainer.
package toy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
)

// Dataset is n rows of d features with 0/1 labels.
type Dataset struct {
	X []float32 // n*d, row-major
	Y []float32
	D int
}

// Len is the number of rows.
func (ds Dataset) Len() int { return len(ds.Y) }

// Synthetic draws n rows of d Gaussian features; the label is 1 with
// probability sigmoid(x·w* + b*) for a fixed random w*, so the best possible
// loss is well above zero and every worker sees noisy labels.
func Synthetic(seed uint64, n, d int) Dataset {
	r := rand.New(rand.NewPCG(seed, 0x70f))
	wStar := make([]float64, d)
	for i := range wStar {
		wStar[i] = r.NormFloat64() * 2 / math.Sqrt(float64(d))
	}
	ds := Dataset{X: make([]float32, n*d), Y: make([]float32, n), D: d}
	for i := range n {
		z := 0.3
		for j := range d {
			x := r.NormFloat64()
			ds.X[i*d+j] = float32(x)
			z += x * wStar[j]
		}
		if r.Float64() < 1/(1+math.Exp(-3*z)) {
			ds.Y[i] = 1
		}
	}
	return ds
}

// Split deals the rows round-robin into k shards.
func (ds Dataset) Split(k int) []Dataset {
	out := make([]Dataset, k)
	for i := range out {
		out[i].D = ds.D
	}
	for i := range ds.Len() {
		s := &out[i%k]
		s.X = append(s.X, ds.X[i*ds.D:(i+1)*ds.D]...)
		s.Y = append(s.Y, ds.Y[i])
	}
	return out
}

// Tensor names of the model.
const (
	WeightName = "linear.weight"
	BiasName   = "linear.bias"
	// BallastName is the tensor of extra parameters (WithParams).
	BallastName = "ballast"
)

// InitialWeights is the model at zero (equal on every worker).
func InitialWeights(d int) *tensor.Set {
	s, _ := tensor.NewSet(
		tensor.Tensor{Name: WeightName, Shape: []int{1, d}, Data: make([]float32, d)},
		tensor.Tensor{Name: BiasName, Shape: []int{1}, Data: make([]float32, 1)},
	)
	return s
}

// Loss is the mean binary cross-entropy of the model on ds.
func Loss(w *tensor.Set, ds Dataset) float64 {
	wt, _ := w.Get(WeightName)
	bt, _ := w.Get(BiasName)
	var sum float64
	for i := range ds.Len() {
		z := float64(bt.Data[0])
		for j := range ds.D {
			z += float64(wt.Data[j]) * float64(ds.X[i*ds.D+j])
		}
		// log(1+e^-z) for y=1, log(1+e^z) for y=0, computed stably
		if ds.Y[i] == 0 {
			z = -z
		}
		if z > 0 {
			sum += math.Log1p(math.Exp(-z))
		} else {
			sum += -z + math.Log1p(math.Exp(z))
		}
	}
	return sum / float64(ds.Len())
}

// Trainer trains the model on one worker's shard. It is not safe for
// concurrent use (the DiLoCo worker calls it from one goroutine).
type Trainer struct {
	data  Dataset
	lr    float32
	batch int
	rng   *rand.Rand
	cfg   config
	last  time.Duration // wall time of the last Train call
}

type config struct {
	stepTime time.Duration
	params   int
}

// Option configures a Trainer.
type Option func(*config) error

// WithStepTime makes every inner step last at least d, as if a model of
// realistic size were computing on an accelerator: after its own (tiny)
// computation a step sleeps until d after the previous one, on a fixed
// schedule so that sleep overshoot does not add up. Sleeping leaves the CPU
// to the network stack, as an accelerator would. Benchmarks use it to
// measure DiLoCo's compute utilization.
func WithStepTime(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("toy: step time %v: must not be negative", d)
		}
		c.stepTime = d
		return nil
	}
}

// WithParams adds n ballast parameters to the model (the tensor
// BallastName) so that every outer step's all-reduce carries n more values,
// as a model of that size would. The trainer moves them by a small seeded
// random step once per Train call, so the pseudo-gradient is dense; they do
// not enter the loss.
func WithParams(n int) Option {
	return func(c *config) error {
		if n < 0 || n > 1<<30 {
			return fmt.Errorf("toy: %d ballast parameters: want 0..2^30", n)
		}
		c.params = n
		return nil
	}
}

// NewTrainer returns a trainer over data with SGD learning rate lr and the
// given minibatch size; seed fixes the minibatch order.
func NewTrainer(data Dataset, lr float64, batch int, seed uint64, opts ...Option) (*Trainer, error) {
	if data.Len() == 0 || batch < 1 || lr <= 0 {
		return nil, fmt.Errorf("toy: need data, batch >= 1 and lr > 0")
	}
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Trainer{data: data, lr: float32(lr), batch: batch, rng: rand.New(rand.NewPCG(seed, 1)), cfg: cfg}, nil
}

// LastTrainTime is the wall time of the last Train call: the time the
// worker spent computing (or, with WithStepTime, pretending to).
func (t *Trainer) LastTrainTime() time.Duration { return t.last }

// InitialWeights implements diloco.Trainer.
func (t *Trainer) InitialWeights(context.Context) (*tensor.Set, error) {
	if t.cfg.params == 0 {
		return InitialWeights(t.data.D), nil
	}
	d := t.data.D
	return tensor.NewSet(
		tensor.Tensor{Name: WeightName, Shape: []int{1, d}, Data: make([]float32, d)},
		tensor.Tensor{Name: BiasName, Shape: []int{1}, Data: make([]float32, 1)},
		tensor.Tensor{Name: BallastName, Shape: []int{t.cfg.params}, Data: make([]float32, t.cfg.params)},
	)
}

// Train implements diloco.Trainer: h SGD steps from start, in place.
func (t *Trainer) Train(ctx context.Context, _ uint64, start *tensor.Set, h int) (diloco.TrainResult, error) {
	began := time.Now()
	defer func() { t.last = time.Since(began) }()
	wt, ok1 := start.Get(WeightName)
	bt, ok2 := start.Get(BiasName)
	if !ok1 || !ok2 || len(wt.Data) != t.data.D {
		return diloco.TrainResult{}, fmt.Errorf("toy: weights do not fit a %d-feature model", t.data.D)
	}
	if t.cfg.params > 0 {
		ballast, ok := start.Get(BallastName)
		if !ok || len(ballast.Data) != t.cfg.params {
			return diloco.TrainResult{}, fmt.Errorf("toy: weights have no %d-value %s tensor", t.cfg.params, BallastName)
		}
		step := t.lr * 1e-3
		for i := range ballast.Data {
			ballast.Data[i] += step * float32(t.rng.NormFloat64())
		}
	}
	w, b := wt.Data, bt.Data
	d := t.data.D
	grad := make([]float32, d)
	var lossSum float64
	for s := range h {
		if s%64 == 0 && ctx.Err() != nil {
			return diloco.TrainResult{}, ctx.Err()
		}
		clear(grad)
		var gb float32
		for range t.batch {
			i := t.rng.IntN(t.data.Len())
			x := t.data.X[i*d : (i+1)*d]
			z := b[0]
			for j := range d {
				z += w[j] * x[j]
			}
			p := float32(1 / (1 + math.Exp(-float64(z))))
			e := p - t.data.Y[i]
			for j := range d {
				grad[j] += e * x[j]
			}
			gb += e
			pc := math.Min(math.Max(float64(p), 1e-7), 1-1e-7)
			if t.data.Y[i] == 1 {
				lossSum -= math.Log(pc)
			} else {
				lossSum -= math.Log(1 - pc)
			}
		}
		scale := t.lr / float32(t.batch)
		for j := range d {
			w[j] -= scale * grad[j]
		}
		b[0] -= scale * gb
		if t.cfg.stepTime > 0 {
			if err := sleepUntil(ctx, began.Add(time.Duration(s+1)*t.cfg.stepTime)); err != nil {
				return diloco.TrainResult{}, err
			}
		}
	}
	return diloco.TrainResult{Weights: start, Loss: lossSum / float64(h*t.batch)}, nil
}

// sleepUntil sleeps until deadline or ctx ends.
func sleepUntil(ctx context.Context, deadline time.Time) error {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
