package diloco

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/openpool/openpool/diloco/tensor"
)

// Outer optimizer defaults, from DiLoCo and INTELLECT-1.
const (
	DefaultOuterLR       = 0.7
	DefaultOuterMomentum = 0.9
)

// PseudoGradient writes start - end into dst (all the same length): the
// direction the inner steps moved the weights, with the sign of a gradient.
func PseudoGradient(dst, start, end []float32) {
	if len(dst) != len(start) || len(dst) != len(end) {
		panic("diloco: PseudoGradient: length mismatch")
	}
	for i := range dst {
		dst[i] = start[i] - end[i]
	}
}

// Nesterov is SGD with Nesterov momentum applied to flat weights, as
// torch.optim.SGD(nesterov=True): buf = m*buf + g; w -= lr*(g + m*buf).
// Its state is the step count and the momentum buffer, which SaveState and
// LoadState keep on disk so that a restarted worker continues exactly.
type Nesterov struct {
	LR, Momentum float64
	Step         uint64    // outer steps taken (applied or skipped)
	Applied      uint64    // outer steps applied
	Buf          []float32 // momentum buffer, nil until the first step
}

// NewNesterov returns an optimizer with the given hyper-parameters.
func NewNesterov(lr, momentum float64) *Nesterov {
	return &Nesterov{LR: lr, Momentum: momentum}
}

// Apply updates w in place with the averaged pseudo-gradient g.
func (o *Nesterov) Apply(w, g []float32) error {
	if len(w) != len(g) {
		return fmt.Errorf("diloco: outer step: %d weights, %d gradient values: %w", len(w), len(g), tensor.ErrShape)
	}
	if o.Buf == nil {
		o.Buf = make([]float32, len(w))
	}
	if len(o.Buf) != len(w) {
		return fmt.Errorf("diloco: outer step: momentum has %d values, weights %d: %w", len(o.Buf), len(w), tensor.ErrShape)
	}
	lr, m := float32(o.LR), float32(o.Momentum)
	for i, gi := range g {
		// float32(...) around each product forbids fused multiply-adds
		// (the Go spec lets arm64 fuse), so every platform computes the
		// same bits and peers stay bit-identical.
		b := float32(m*o.Buf[i]) + gi
		o.Buf[i] = b
		w[i] -= float32(lr * (gi + float32(m*b)))
	}
	o.Step++
	o.Applied++
	return nil
}

// SaveState writes the optimizer state and the weights it applies to (the
// start weights of the next outer step) to path atomically (write to a
// temporary file, fsync, rename), as safetensors: tensors "weights" and
// "momentum", metadata step, lr and momentum.
func (o *Nesterov) SaveState(path string, weights []float32) error {
	buf := o.Buf
	if buf == nil {
		buf = make([]float32, len(weights))
	}
	s, err := tensor.NewSet(
		tensor.Tensor{Name: "weights", Shape: []int{len(weights)}, Data: weights},
		tensor.Tensor{Name: "momentum", Shape: []int{len(buf)}, Data: buf},
	)
	if err != nil {
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".outer-*.tmp")
	if err != nil {
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	defer os.Remove(tmp.Name())
	meta := map[string]string{
		"step":     strconv.FormatUint(o.Step, 10),
		"applied":  strconv.FormatUint(o.Applied, 10),
		"lr":       strconv.FormatFloat(o.LR, 'g', -1, 64),
		"momentum": strconv.FormatFloat(o.Momentum, 'g', -1, 64),
		"format":   "openpool-diloco-outer/1",
	}
	if err := tensor.Write(tmp, s, meta); err != nil {
		tmp.Close()
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("diloco: save outer state: %w", err)
	}
	return nil
}

// LoadNesterov reads a state written by SaveState and returns the optimizer
// and the saved weights. A missing file is reported with an error wrapping
// os.ErrNotExist.
func LoadNesterov(path string) (*Nesterov, []float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("diloco: load outer state: %w", err)
	}
	defer f.Close()
	s, meta, err := tensor.Read(f, tensor.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("diloco: load outer state %s: %w", path, err)
	}
	w, ok1 := s.Get("weights")
	m, ok2 := s.Get("momentum")
	if !ok1 || !ok2 || len(w.Data) != len(m.Data) || meta["format"] != "openpool-diloco-outer/1" {
		return nil, nil, fmt.Errorf("diloco: load outer state %s: not an outer optimizer state: %w", path, tensor.ErrFormat)
	}
	step, err1 := strconv.ParseUint(meta["step"], 10, 64)
	lr, err2 := strconv.ParseFloat(meta["lr"], 64)
	mom, err3 := strconv.ParseFloat(meta["momentum"], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, fmt.Errorf("diloco: load outer state %s: bad metadata %v: %w", path, meta, tensor.ErrFormat)
	}
	applied := step // states written before the applied count was kept
	if a, ok := meta["applied"]; ok {
		if applied, err = strconv.ParseUint(a, 10, 64); err != nil || applied > step {
			return nil, nil, fmt.Errorf("diloco: load outer state %s: bad applied count %q: %w", path, a, tensor.ErrFormat)
		}
	}
	return &Nesterov{LR: lr, Momentum: mom, Step: step, Applied: applied, Buf: m.Data}, w.Data, nil
}
