package diloco

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestNesterovMatchesTorch checks two steps against torch.optim.SGD(lr=0.7,
// momentum=0.9, nesterov=True), computed by hand:
// step 1: buf=g1, w -= 0.7*(g1+0.9*g1); step 2: buf=0.9*g1+g2, w -= 0.7*(g2+0.9*buf).
func TestNesterovMatchesTorch(t *testing.T) {
	o := NewNesterov(DefaultOuterLR, DefaultOuterMomentum)
	w := []float32{1, -2}
	if err := o.Apply(w, []float32{0.1, 0.2}); err != nil {
		t.Fatal(err)
	}
	if err := o.Apply(w, []float32{-0.3, 0}); err != nil {
		t.Fatal(err)
	}
	want := func(w0, g1, g2 float64) float64 {
		w0 -= 0.7 * (g1 + 0.9*g1)
		b := 0.9*g1 + g2
		return w0 - 0.7*(g2+0.9*b)
	}
	for i, exp := range []float64{want(1, 0.1, -0.3), want(-2, 0.2, 0)} {
		if math.Abs(float64(w[i])-exp) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, w[i], exp)
		}
	}
	if o.Step != 2 {
		t.Errorf("step %d", o.Step)
	}
}

// TestNesterovStateSurvivesRestart saves mid-run, reloads into a fresh
// optimizer and checks the continued run equals an uninterrupted one bit for bit.
func TestNesterovStateSurvivesRestart(t *testing.T) {
	grads := [][]float32{{0.1, -0.2, 0.3}, {0.05, 0.1, -0.1}, {-0.2, 0.3, 0.01}, {0.4, 0, -0.4}}
	ref := NewNesterov(0.7, 0.9)
	wRef := []float32{1, 2, 3}
	for _, g := range grads {
		if err := ref.Apply(wRef, g); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "outer.safetensors")
	o := NewNesterov(0.7, 0.9)
	w := []float32{1, 2, 3}
	for _, g := range grads[:2] {
		_ = o.Apply(w, g)
	}
	if err := o.SaveState(path, w); err != nil {
		t.Fatal(err)
	}
	o2, w2, err := LoadNesterov(path)
	if err != nil {
		t.Fatal(err)
	}
	if o2.Step != 2 || o2.LR != 0.7 || o2.Momentum != 0.9 {
		t.Fatalf("loaded %+v", o2)
	}
	for _, g := range grads[2:] {
		_ = o2.Apply(w2, g)
	}
	for i := range w2 {
		if math.Float32bits(w2[i]) != math.Float32bits(wRef[i]) {
			t.Fatalf("w[%d] = %v after restart, %v without", i, w2[i], wRef[i])
		}
	}
	if _, _, err := LoadNesterov(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadNesterov(path); err == nil {
		t.Errorf("garbage state accepted")
	}
}
