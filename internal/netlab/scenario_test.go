//go:build lab

package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScenarioJoin runs the real openpool binary in the lab: a bootstrap
// node in node 0 and four `openpool join` trainers in nodes 1-4, every link
// with 20 ms one-way delay (40 ms one-way, 80 ms RTT between any two
// nodes) and 50 Mbit/s, and checks that every trainer finishes its outer
// steps. The "nat" case puts node 4 behind its own NAT: it can dial out
// but nobody can dial it, so the others reach it only through the
// connections it opens (or a relay). The "lossy" case adds 1% loss on
// every link.
func TestScenarioJoin(t *testing.T) {
	// Built before any lab exists: a build starves the emulator of CPU.
	// NETLAB_OPENPOOL names a binary built beforehand instead.
	bin := os.Getenv("NETLAB_OPENPOOL")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "openpool")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/openpool/openpool/cmd/openpool").CombinedOutput(); err != nil {
			t.Fatalf("build openpool: %v\n%s", err, out)
		}
	}
	for _, tc := range []struct {
		name string
		nat  []int
		loss float64
	}{{"direct", nil, 0}, {"nat", []int{4}, 0}, {"lossy", nil, 0.01}} {
		t.Run(tc.name, func(t *testing.T) { scenarioJoin(t, bin, tc.nat, tc.loss) })
	}
}

func scenarioJoin(t *testing.T, bin string, nat []int, loss float64) {
	const workers, outer = 4, 5
	l := newTestLab(t, WithNodes(workers+1), WithNAT(nat...), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6, Loss: loss}))
	ctx := testCtx(t, 5*time.Minute)
	listen := "/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1"
	boot := l.Node(0)
	bp, err := l.Start(ctx, boot, bin, "--home", t.TempDir(), "bootstrap", "--listen", listen, "--status-addr", "")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bp.WaitOutput(ctx, "/ip4/"+boot.Addr.String()+"/tcp/4001/p2p/")
	if err != nil {
		t.Fatalf("%v\n%s", err, bp.Output())
	}
	addr := strings.TrimSpace(line)
	t.Logf("bootstrap: %s", addr)

	start := time.Now()
	procs := make([]*Process, workers)
	for i := range procs {
		procs[i], err = l.Start(ctx, l.Node(i+1), bin, "--home", t.TempDir(), "join", "demo",
			"--bootstrap", addr, "--listen", listen, "--status-addr", "",
			"--trainer", "toy", "--inner-steps", "20", "--outer-steps", fmt.Sprint(outer), "--min-workers", fmt.Sprint(workers))
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		err := p.Wait(ctx)
		took := time.Since(start).Round(10 * time.Millisecond)
		out := string(p.Output())
		var steps []string
		for _, s := range strings.Split(out, "\n") {
			if strings.HasPrefix(s, "outer step") {
				steps = append(steps, strings.Join(strings.Fields(s), " "))
			}
		}
		fmt.Printf("SCENARIO %s: join node %d (%v nat %v): exit %v after %v, %d outer steps\n", t.Name(), i+1, p.Node.Addr, p.Node.NAT != "", err, took, len(steps))
		for _, s := range steps {
			fmt.Printf("SCENARIO %s:   node %d: %s\n", t.Name(), i+1, s)
		}
		if err != nil || len(steps) != outer || !strings.Contains(out, "training finished") {
			t.Errorf("join on node %d: exit %v, %d of %d outer steps; output:\n%s", i+1, err, len(steps), outer, lastLines(p.Output(), 40))
		}
	}
}
