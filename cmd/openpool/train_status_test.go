package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// TestTrainingStatusSection: while a pool's outer loop runs, the node's
// status (the status page) has a "training <pool>" section with the outer
// state and the step counts; it goes away when training ends.
func TestTrainingStatusSection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := node.New(ctx, node.WithDataDir(t.TempDir()), node.WithListenAddrs(ma.StringCast("/ip4/127.0.0.1/tcp/0")),
		node.WithNAT(false), node.WithHardware(p2p.Hardware{}))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Join(ctx, "status-pool"); err != nil {
		t.Fatal(err)
	}
	tr, err := toyTrainer("status-pool", n.ID())
	if err != nil {
		t.Fatal(err)
	}
	var seen []map[string]any
	_, err = runPoolWorker(ctx, n, "status-pool", tr, slog.New(slog.DiscardHandler), 5, 3, "", func(p diloco.Progress) {
		if sec, ok := n.Status().Sections["training status-pool"].(map[string]any); ok {
			seen = append(seen, sec)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("training section seen at %d of 3 steps: %v", len(seen), seen)
	}
	last := seen[2]
	if last["steps_applied"] != 3 || last["steps_skipped"] != 0 || last["last_step"] != uint64(2) || last["pool"] != "status-pool" {
		t.Fatalf("training section after the third step: %v", last)
	}
	if s, _ := last["outer_state"].(string); len(s) < len("step 3 applied 3 ") || s[:len("step 3 applied 3 ")] != "step 3 applied 3 " {
		t.Fatalf("outer state %q: want step 3 applied 3", s)
	}
	if _, ok := n.Status().Sections["training status-pool"]; ok {
		t.Fatal("the training section outlived the training")
	}
}
