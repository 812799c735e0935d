package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessTraining: three `openpool join --trainer toy` processes on
// loopback train the toy model through DiLoCo outer steps over real libp2p
// streams, each exits 0 after the last step, and all end on bit-identical
// weights.
func TestProcessTraining(t *testing.T) {
	const (
		pool    = "train-pool"
		workers = 3
		steps   = 3
	)
	root := t.TempDir()
	boot := startProc(t, "bootstrap", "--home", filepath.Join(root, "boot"), "bootstrap", "--listen", "/ip4/127.0.0.1/tcp/0", "--nat=false")
	bootAddr := boot.waitLine(30*time.Second, "bootstrap multiaddr", func(l string) bool { return strings.Contains(l, "/p2p/") })
	procs := make([]*proc, workers)
	for i := range procs {
		procs[i] = startProc(t, "worker"+string(rune('a'+i)), "--home", filepath.Join(root, string(rune('a'+i))),
			"join", pool, "--bootstrap", bootAddr, "--listen", "/ip4/127.0.0.1/tcp/0", "--nat=false", "--heartbeat", "300ms",
			"--json", "--trainer", "toy", "--inner-steps", "10", "--outer-steps", "3", "--min-workers", "3")
	}
	digests := map[string]int{}
	for _, p := range procs {
		if err := p.wait(4 * time.Minute); err != nil {
			t.Fatalf("%s exited with %v", p.name, err)
		}
		p.mu.Lock()
		lines := append([]string(nil), p.lines...)
		p.mu.Unlock()
		applied, digest := 0, ""
		var lastLoss float64
		for _, l := range lines {
			var ev struct {
				Event         string   `json:"event"`
				Applied       bool     `json:"applied"`
				Group         int      `json:"group"`
				Loss          *float64 `json:"loss"`
				TotalBytes    int64    `json:"total_bytes"`
				WeightsSHA256 string   `json:"weights_sha256"`
			}
			if json.Unmarshal([]byte(l), &ev) != nil {
				continue
			}
			switch ev.Event {
			case "outer_step":
				if ev.Applied {
					applied++
					if ev.Group < 2 || ev.TotalBytes <= 0 {
						t.Errorf("%s: outer step with group %d and %d bytes", p.name, ev.Group, ev.TotalBytes)
					}
				}
				if ev.Loss != nil {
					lastLoss = *ev.Loss
				}
			case "trained":
				digest = ev.WeightsSHA256
			}
		}
		if applied != steps || digest == "" {
			t.Fatalf("%s: %d applied outer steps (want %d), weights digest %q; output:\n%s", p.name, applied, steps, digest, strings.Join(lines, "\n"))
		}
		t.Logf("%s: %d outer steps, last loss %.4f, weights %s", p.name, applied, lastLoss, digest[:16])
		digests[digest]++
	}
	if len(digests) != 1 {
		t.Fatalf("workers ended on different weights: %v", digests)
	}
}
