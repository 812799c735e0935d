package netlab

import (
	"context"
	"errors"
	"testing"
	"time"
)

// ForTest builds a lab for a test and closes it when the test ends,
// whether it passed or failed, logging each link's counters first. It
// removes stale labs before, and skips the test where no lab can be built
// (not root, ip or tc or iptables missing).
func ForTest(t testing.TB, opts ...Option) *Lab {
	t.Helper()
	if gone, err := CleanStale(); err != nil || len(gone) > 0 {
		t.Logf("stale lab namespaces removed: %v (err %v)", gone, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := New(ctx, opts...)
	if errors.Is(err, ErrNotRoot) || errors.Is(err, ErrMissingTool) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range l.Nodes() {
			s := l.Stats(n)
			t.Logf("link %d: %+v", n.Index, s)
			if s.Oversize > 0 {
				t.Errorf("link %d passed %d frames over %d bytes: offloads are on", n.Index, s.Oversize, frameCap)
			}
		}
		t.Logf("emulator: %+v", l.EmulatorStats())
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}
