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

// Trainer trains the model on one worker's shard.
type Trainer struct {
	data  Dataset
	lr    float32
	batch int
	rng   *rand.Rand
}

// NewTrainer returns a trainer over data with SGD learning rate lr and the
// given minibatch size; seed fixes the minibatch order.
func NewTrainer(data Dataset, lr float64, batch int, seed uint64) (*Trainer, error) {
	if data.Len() == 0 || batch < 1 || lr <= 0 {
		return nil, fmt.Errorf("toy: need data, batch >= 1 and lr > 0")
	}
	return &Trainer{data: data, lr: float32(lr), batch: batch, rng: rand.New(rand.NewPCG(seed, 1))}, nil
}

// InitialWeights implements diloco.Trainer.
func (t *Trainer) InitialWeights(context.Context) (*tensor.Set, error) {
	return InitialWeights(t.data.D), nil
}

// Train implements diloco.Trainer: h SGD steps from start, in place.
func (t *Trainer) Train(ctx context.Context, _ uint64, start *tensor.Set, h int) (diloco.TrainResult, error) {
	wt, ok1 := start.Get(WeightName)
	bt, ok2 := start.Get(BiasName)
	if !ok1 || !ok2 || len(wt.Data) != t.data.D {
		return diloco.TrainResult{}, fmt.Errorf("toy: weights do not fit a %d-feature model", t.data.D)
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
	}
	return diloco.TrainResult{Weights: start, Loss: lossSum / float64(h*t.batch)}, nil
}
