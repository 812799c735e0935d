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

// The scenarios run the real openpool binary in the lab: a bootstrap node
// in node 0 and `openpool join --trainer toy` workers in nodes 1..N, every
// link with 20 ms one-way delay (40 ms one-way, 80 ms RTT between any two
// nodes) and 50 Mbit/s.

// scenarioListen is where every openpool process listens (its namespace
// is its own, so the same port everywhere).
const scenarioListen = "/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1"

// openpoolBinary builds cmd/openpool before any lab exists (a build
// starves the emulator of CPU), or takes NETLAB_OPENPOOL.
func openpoolBinary(t *testing.T) string {
	if bin := os.Getenv("NETLAB_OPENPOOL"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "openpool")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/openpool/openpool/cmd/openpool").CombinedOutput(); err != nil {
		t.Fatalf("build openpool: %v\n%s", err, out)
	}
	return bin
}

// startSwarm starts the bootstrap node in node 0 and a worker in every
// other node with the given join flags.
func startSwarm(t *testing.T, l *Lab, bin string, joinFlags ...string) []*Process {
	addr := startBootstrap(t, l, bin)
	var procs []*Process
	for _, n := range l.Nodes()[1:] {
		procs = append(procs, startJoin(t, l, n, bin, addr, joinFlags...))
	}
	return procs
}

// startBootstrap starts `openpool bootstrap` in node 0 and returns its
// TCP multiaddr.
func startBootstrap(t *testing.T, l *Lab, bin string) string {
	ctx := testCtx(t, 5*time.Minute)
	boot := l.Node(0)
	bp, err := l.Start(ctx, boot, bin, "--home", t.TempDir(), "bootstrap", "--listen", scenarioListen, "--status-addr", "")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bp.WaitOutput(ctx, "/ip4/"+boot.Addr.String()+"/tcp/4001/p2p/")
	if err != nil {
		t.Fatalf("%v\n%s", err, bp.Output())
	}
	addr := strings.TrimSpace(line)
	t.Logf("bootstrap: %s", addr)
	return addr
}

// startJoin starts `openpool join demo` in node n.
func startJoin(t *testing.T, l *Lab, n *Node, bin, bootstrap string, joinFlags ...string) *Process {
	argv := append([]string{bin, "--home", t.TempDir(), "join", "demo",
		"--bootstrap", bootstrap, "--listen", scenarioListen, "--status-addr", ""}, joinFlags...)
	p, err := l.Start(testCtx(t, 5*time.Minute), n, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// finish waits for a worker, prints its outer steps and checks that it
// ran all of them (outer < 0: at least one; a late joiner starts from the
// pool's step) and left cleanly; it returns the steps.
func finish(t *testing.T, p *Process, start time.Time, outer int) []string {
	t.Helper()
	err := p.Wait(testCtx(t, 5*time.Minute))
	took := time.Since(start).Round(10 * time.Millisecond)
	out := string(p.Output())
	steps := stepLines(p)
	fmt.Printf("SCENARIO %s: join node %d (%v nat %v): exit %v after %v, %d outer steps\n",
		t.Name(), p.Node.Index, p.Node.Addr, p.Node.NAT != "", err, took, len(steps))
	for _, s := range steps {
		fmt.Printf("SCENARIO %s:   node %d: %s\n", t.Name(), p.Node.Index, s)
	}
	if err != nil || (outer >= 0 && len(steps) != outer) || len(steps) == 0 || !strings.Contains(out, "training finished") {
		t.Errorf("join on node %d: exit %v, %d of %d outer steps; output:\n%s", p.Node.Index, err, len(steps), outer, lastLines(p.Output(), 40))
	}
	return steps
}

// stepLines returns the outer step lines a worker printed, with runs of
// spaces collapsed.
func stepLines(p *Process) []string {
	var steps []string
	for s := range strings.SplitSeq(string(p.Output()), "\n") {
		if strings.HasPrefix(s, "outer step") {
			steps = append(steps, strings.Join(strings.Fields(s), " "))
		}
	}
	return steps
}

// weights returns the SHA-256 of the final weights a finished worker
// printed ("training finished (weights sha256 …)").
func weights(p *Process) string {
	out := string(p.Output())
	const marker = "weights sha256 "
	i := strings.LastIndex(out, marker)
	if i < 0 {
		return ""
	}
	return strings.TrimRight(strings.Fields(out[i+len(marker):])[0], ");")
}

// sameWeights checks that every process ended on the same weights.
func sameWeights(t *testing.T, procs []*Process) {
	t.Helper()
	seen := map[string][]int{}
	for _, p := range procs {
		w := weights(p)
		seen[w] = append(seen[w], p.Node.Index)
	}
	fmt.Printf("SCENARIO %s: final weights %v\n", t.Name(), seen)
	if len(seen) != 1 || seen[""] != nil {
		t.Errorf("workers ended on different weights (sha256 -> nodes): %v", seen)
		for _, p := range procs {
			t.Logf("node %d's last output:\n%s", p.Node.Index, lastLines(p.Output(), 40))
		}
	}
}

// workerFlags are the join flags of the training scenarios: the toy
// trainer with 20 inner steps of 50 ms (1 s of compute per outer step).
func workerFlags(outer, minWorkers int, extra ...string) []string {
	return append([]string{"--trainer", "toy", "--inner-steps", "20", "--toy-step-time", "50ms",
		"--outer-steps", fmt.Sprint(outer), "--min-workers", fmt.Sprint(minWorkers)}, extra...)
}

// finishInGroup waits for every worker (outer < 0: any number of steps),
// checks that each one's last step was applied in a group of the given
// size and that all end on the same weights.
func finishInGroup(t *testing.T, procs []*Process, start time.Time, outer, group int) {
	t.Helper()
	want := fmt.Sprintf("group %d ", group)
	for _, p := range procs {
		steps := finish(t, p, start, outer)
		if len(steps) == 0 || !strings.Contains(steps[len(steps)-1], want) || !strings.HasSuffix(steps[len(steps)-1], "applied") {
			t.Errorf("node %d: last step %q, want it applied in a group of %d; its last output:\n%s", p.Node.Index, steps, group, lastLines(p.Output(), 20))
		}
	}
	sameWeights(t, procs)
}

// TestScenarioJoin: four workers (20 inner steps of 50 ms per outer step)
// train 12 outer steps together, all direct; with node 4 behind its own
// NAT (it can dial out, nobody can dial it); with nodes 3 and 4 each
// behind its own NAT, both at 192.168.1.2 like two home networks (they
// reach each other only through the bootstrap node's relay: the lab's
// addresses are all private, so AutoNAT and hole punching, which need
// public ones, stay idle, and the relay keeper of p2p reserves the slots;
// rounds before the circuit addresses spread fail and are skipped by
// everyone); and with 1% loss on every link. A NAT'd node that a public
// one reached through the relay dials it back directly (connection
// reversal), or gossip would wait for the relay to end the connection. A worker that starts late
// catches up with the pool's outer state, so it may run fewer steps; every
// worker must end with its last step applied in the group of four, on the
// same weights.
func TestScenarioJoin(t *testing.T) {
	bin := openpoolBinary(t)
	for _, tc := range []struct {
		name string
		nat  []int
		loss float64
	}{{"direct", nil, 0}, {"nat", []int{4}, 0}, {"nat2", []int{3, 4}, 0}, {"lossy", nil, 0.01}} {
		t.Run(tc.name, func(t *testing.T) {
			const workers, outer = 4, 12
			l := ForTest(t, WithNodes(workers+1), WithNAT(tc.nat...),
				WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6, Loss: tc.loss}))
			start := time.Now()
			procs := startSwarm(t, l, bin, workerFlags(outer, workers)...)
			finishInGroup(t, procs, start, -1, workers)
		})
	}
}

// TestScenarioCut: four workers train; after worker 4's third outer step
// its link is cut. The other three must see it dead, go on as a group of
// three and finish all their outer steps.
func TestScenarioCut(t *testing.T) {
	bin := openpoolBinary(t)
	const workers, outer = 4, 10
	l := ForTest(t, WithNodes(workers+1), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6}))
	procs := startSwarm(t, l, bin, "--trainer", "toy", "--inner-steps", "20", "--heartbeat", "500ms",
		"--outer-steps", fmt.Sprint(outer), "--min-workers", "3")
	start := time.Now()
	victim := procs[workers-1]
	if _, err := victim.WaitOutput(testCtx(t, 3*time.Minute), "outer step   2"); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(victim.Output(), 30))
	}
	l.Cut(victim.Node)
	fmt.Printf("SCENARIO %s: cut node %d after %v\n", t.Name(), victim.Node.Index, time.Since(start).Round(10*time.Millisecond))
	finishInGroup(t, procs[:workers-1], start, outer, workers-1)
}
