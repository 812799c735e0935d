//go:build lab

package netlab

import (
	"context"
	"errors"
	"testing"
	"time"
)

// newTestLab builds a lab closed at the end of the test (also when it
// fails), or skips the test where a lab cannot be built.
func newTestLab(t *testing.T, opts ...Option) *Lab {
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
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

func TestNetlabSmoke(t *testing.T) {
	l := newTestLab(t, WithNodes(2), WithLink(LinkConfig{Delay: 20 * time.Millisecond}))
	ctx := context.Background()
	Ping(ctx, l.Node(0), l.Node(1), 2, 10*time.Millisecond, 300*time.Millisecond)
	r, err := Ping(ctx, l.Node(0), l.Node(1), 500, 2*time.Millisecond, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", r.RTTs[:20])
	t.Logf("sent %d received %d mean %v sd %v", r.Sent, r.Received, r.Mean(), r.StdDev())
	t.Logf("emulator: %+v", l.EmulatorStats())
	for i := range 2 {
		t.Logf("link %d: %+v", i, l.Stats(l.Node(i)))
	}
}
