//go:build lab

package netlab

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioLateJoin: three workers train (20 inner steps of 50 ms per
// outer step); a fourth starts after their third outer step. It must start from the pool's outer state (it prints
// that it caught up), join their rounds, and end on the same weights.
func TestScenarioLateJoin(t *testing.T) {
	bin := openpoolBinary(t)
	const workers, outer = 4, 10
	l := ForTest(t, WithNodes(workers+1), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6}))
	addr := startBootstrap(t, l, bin)
	flags := workerFlags(outer, 3, "--heartbeat", "500ms")
	start := time.Now()
	var procs []*Process
	for _, n := range l.Nodes()[1:workers] {
		procs = append(procs, startJoin(t, l, n, bin, addr, flags...))
	}
	if _, err := procs[0].WaitOutput(testCtx(t, 3*time.Minute), "outer step   2"); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(procs[0].Output(), 30))
	}
	late := startJoin(t, l, l.Node(workers), bin, addr, flags...)
	fmt.Printf("SCENARIO %s: started node %d after %v\n", t.Name(), workers, time.Since(start).Round(10*time.Millisecond))
	finishInGroup(t, append(procs, late), start, -1, workers)
	if n := len(stepLines(late)); n >= outer || !strings.Contains(string(late.Output()), "caught up with the pool") {
		t.Errorf("the late worker ran %d of %d steps and did not report catching up:\n%s", n, outer, lastLines(late.Output(), 30))
	}
}

// TestScenarioPartitionHeals: four workers train; after the second outer
// step nodes {0,1,2} (with the bootstrap node) and {3,4} are partitioned.
// Both halves go on as groups of two on diverging weights. When the
// partition heals, the halves find each other again, one half adopts the
// other's outer state, and all four end on the same weights in one group.
func TestScenarioPartitionHeals(t *testing.T) {
	bin := openpoolBinary(t)
	const workers, outer = 4, 24
	l := ForTest(t, WithNodes(workers+1), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6}))
	procs := startSwarm(t, l, bin, workerFlags(outer, 2, "--heartbeat", "500ms")...)
	start := time.Now()
	ctx := testCtx(t, 4*time.Minute)
	if _, err := procs[0].WaitOutput(ctx, "outer step   2"); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(procs[0].Output(), 30))
	}
	nodes := l.Nodes()
	l.Partition(nodes[:3], nodes[3:])
	fmt.Printf("SCENARIO %s: partitioned {0,1,2} | {3,4} after %v\n", t.Name(), time.Since(start).Round(10*time.Millisecond))
	// Both halves must train on their own (groups of 2) before the heal.
	for _, p := range []*Process{procs[0], procs[2]} {
		if _, err := p.WaitOutput(ctx, "group 2"); err != nil {
			t.Fatalf("node %d did not train in a group of 2 during the partition: %v\n%s", p.Node.Index, err, lastLines(p.Output(), 30))
		}
	}
	time.Sleep(3 * time.Second)
	l.HealPartitions()
	healed := time.Now()
	fmt.Printf("SCENARIO %s: healed after %v\n", t.Name(), time.Since(start).Round(10*time.Millisecond))
	finishInGroup(t, procs, start, -1, workers)
	fmt.Printf("SCENARIO %s: finished %v after the heal\n", t.Name(), time.Since(healed).Round(10*time.Millisecond))
	caught := 0
	for _, p := range procs {
		if strings.Contains(string(p.Output()), "caught up with the pool") {
			caught++
		}
	}
	if caught == 0 {
		t.Errorf("no worker adopted the other half's state after the heal")
	}
}

// TestScenarioPublisherOffline: node 1 publishes a 6 MiB checkpoint in
// 256 KiB shards (20 Mbit/s links) and fetchers in nodes 2 and 3 fetch it.
// As soon as one of them holds every shard the publisher is killed (kill
// -9), and fetchers start in nodes 4 and 5: the unfinished early fetcher
// and both late ones must complete from their peers alone, and every
// fetcher's files equal the published bytes.
func TestScenarioPublisherOffline(t *testing.T) {
	bin := openpoolBinary(t)
	const fetchers = 4
	l := ForTest(t, WithNodes(fetchers+2), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 20e6}))
	addr := startBootstrap(t, l, bin)
	ctx := testCtx(t, 4*time.Minute)
	src := filepath.Join(t.TempDir(), "ckpt")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 6<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(src, "model.safetensors"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := l.Start(ctx, l.Node(1), bin, "--home", t.TempDir(), "checkpoint", "publish", "demo", src,
		"--shard-kib", "256", "--bootstrap", addr, "--listen", scenarioListen, "--status-addr", "")
	if err != nil {
		t.Fatal(err)
	}
	line, err := pub.WaitOutput(ctx, "fetch with: ")
	if err != nil {
		t.Fatalf("%v\n%s", err, pub.Output())
	}
	f := strings.Fields(line[strings.Index(line, "fetch with: "):])
	// fetch with: openpool checkpoint fetch <cid> --pool demo --owner <id> ...
	manifest, owner := f[5], f[9]
	start := time.Now()
	fs := make([]*Process, fetchers)
	outs := make([]string, fetchers)
	fetch := func(i int) {
		outs[i] = filepath.Join(t.TempDir(), "out")
		p, err := l.Start(ctx, l.Node(2+i), bin, "--home", t.TempDir(), "checkpoint", "fetch", manifest, "--pool", "demo",
			"--owner", owner, "--out", outs[i], "--seed-for", "90s", "--quiet",
			"--bootstrap", addr, "--listen", scenarioListen, "--status-addr", "")
		if err != nil {
			t.Fatal(err)
		}
		fs[i] = p
	}
	// Two fetchers start while the publisher is online; the first to hold
	// everything is the only complete copy left when the publisher dies.
	fetch(0)
	fetch(1)
	first := -1
	for first < 0 {
		for i, p := range fs[:2] {
			if bytes.Contains(p.Output(), []byte("fetched ")) {
				first = i
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no fetcher completed while the publisher was online:\n%s", lastLines(fs[0].Output(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pub.Pid(), syscall.SIGKILL)
	fmt.Printf("SCENARIO %s: node %d fetched everything after %v; publisher killed (kill -9), the other early fetcher was mid-way\n",
		t.Name(), 2+first, time.Since(start).Round(10*time.Millisecond))
	// Two more start after the publisher is gone.
	fetch(2)
	fetch(3)
	want := sha256.Sum256(data)
	for i, p := range fs {
		if _, err := p.WaitOutput(ctx, "wrote 1 files"); err != nil {
			t.Errorf("fetcher on node %d did not complete without the publisher: %v\n%s", 2+i, err, lastLines(p.Output(), 20))
			continue
		}
		got, err := os.ReadFile(filepath.Join(outs[i], "model.safetensors"))
		if err != nil || sha256.Sum256(got) != want {
			t.Errorf("fetcher on node %d wrote other bytes (err %v)", 2+i, err)
			continue
		}
		fetched := ""
		for s := range strings.SplitSeq(string(p.Output()), "\n") {
			if strings.HasPrefix(s, "fetched ") {
				fetched = s
			}
		}
		fmt.Printf("SCENARIO %s:   node %d: %s (identical bytes)\n", t.Name(), 2+i, fetched)
	}
	for _, p := range fs {
		p.Stop(5 * time.Second)
	}
}

// TestScenarioCrash: four workers train (1 s of inner steps per outer
// step); worker 4 is killed with SIGKILL about when its fourth round
// starts. The other three finish every outer step, the last ones as a
// group of three, on the same weights.
func TestScenarioCrash(t *testing.T) {
	bin := openpoolBinary(t)
	const workers, outer = 4, 10
	l := ForTest(t, WithNodes(workers+1), WithLink(LinkConfig{Delay: 20 * time.Millisecond, Rate: 50e6}))
	procs := startSwarm(t, l, bin, workerFlags(outer, 3, "--heartbeat", "500ms")...)
	start := time.Now()
	victim := procs[workers-1]
	if _, err := victim.WaitOutput(testCtx(t, 3*time.Minute), "outer step   2"); err != nil {
		t.Fatalf("%v\n%s", err, lastLines(victim.Output(), 30))
	}
	time.Sleep(time.Second) // its inner steps of step 3, then the round
	_ = syscall.Kill(-victim.Pid(), syscall.SIGKILL)
	fmt.Printf("SCENARIO %s: killed node %d after %v\n", t.Name(), victim.Node.Index, time.Since(start).Round(10*time.Millisecond))
	finishInGroup(t, procs[:workers-1], start, outer, workers-1)
}
