//go:build lab

package node_test

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// TestSwarmScale starts N real nodes in one process on loopback (one
// bootstrap node and N members that join one pool) for N = 50, 100, 200
// and prints, once every member sees all N alive, the time that took and
// the cost per node: live heap (after GC), resident memory and goroutines,
// each the growth over the process before the swarm divided by N+1 nodes.
// Run it with scripts/bench-report.sh --only scale, or:
//
//	OPENPOOL_SCALE_SIZES=50,100 go test -tags lab -p 1 -run TestSwarmScale -v ./node/
//
// OPENPOOL_SCALE_MODE picks the membership protocol (heartbeat, swim;
// default: the node default). OPENPOOL_SCALE_TIMEOUT bounds each size's
// convergence (default 5m). A
// size that does not converge fails the test and the larger ones are not
// tried.
func TestSwarmScale(t *testing.T) {
	sizes := []int{50, 100, 200}
	if s := os.Getenv("OPENPOOL_SCALE_SIZES"); s != "" {
		sizes = nil
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				t.Fatalf("OPENPOOL_SCALE_SIZES=%q: want sizes >= 2 separated by commas", s)
			}
			sizes = append(sizes, n)
		}
	}
	timeout := envDuration(t, "OPENPOOL_SCALE_TIMEOUT", 5*time.Minute)
	mode := p2p.ModeDefault
	if s := os.Getenv("OPENPOOL_SCALE_MODE"); s != "" {
		md, err := p2p.ParseMembershipMode(s)
		if err != nil {
			t.Fatalf("OPENPOOL_SCALE_MODE: %v", err)
		}
		mode = md
	}
	for _, n := range sizes {
		ok := t.Run(fmt.Sprint(n), func(t *testing.T) {
			base := processUsage(t)
			pool := fmt.Sprintf("scale-%d", n)
			start := time.Now()
			_, nodes := nodetest.Swarm(t, n, pool, node.WithMembershipMode(mode))
			started := time.Since(start)
			lastLog := time.Now()
			converged := nodetest.WaitFor(timeout, func() bool {
				lo, hi := n, 0
				for _, nd := range nodes {
					c := nodetest.AliveCount(nd, pool)
					lo, hi = min(lo, c), max(hi, c)
				}
				if time.Since(lastLog) >= 30*time.Second {
					t.Logf("N=%d after %v: members see %d to %d alive", n, time.Since(start).Round(time.Second), lo, hi)
					lastLog = time.Now()
				}
				return lo == n
			})
			took := time.Since(start)
			cond := fmt.Sprintf("N=%d cores=%d mode=%s", n, runtime.NumCPU(), mode)
			if !converged {
				lo, behind := n, 0
				for _, nd := range nodes {
					c := nodetest.AliveCount(nd, pool)
					lo = min(lo, c)
					if c < n {
						behind++
					}
				}
				fmt.Printf("BENCH issue=9 name=swarm_converge_time %s value=NaN unit=s target=<=%.0f # not converged: %d of %d members see fewer than %d alive, the worst %d\n",
					cond, timeout.Seconds(), behind, n, n, lo)
				t.Fatalf("N=%d: not converged after %v (the worst member sees %d alive)", n, took.Round(time.Second), lo)
			}
			u := processUsage(t)
			per := float64(n + 1)
			heap := float64(u.heap-base.heap) / per / (1 << 20)
			rss := float64(u.rss-base.rss) / per / (1 << 20)
			gor := float64(u.goroutines-base.goroutines) / per
			t.Logf("N=%d: started in %v, converged after %v; per node heap %.2f MiB, RSS %.2f MiB, %.0f goroutines", n, started, took, heap, rss, gor)
			fmt.Printf("BENCH issue=9 name=swarm_converge_time %s value=%.1f unit=s target=<=%.0f # from the first node start until every member sees all %d alive (nodes started in %.1f s)\n", cond, took.Seconds(), timeout.Seconds(), n, started.Seconds())
			fmt.Printf("BENCH issue=9 name=swarm_heap_per_node %s value=%.2f unit=MiB # live heap after GC, growth / %d nodes\n", cond, heap, n+1)
			fmt.Printf("BENCH issue=9 name=swarm_rss_per_node %s value=%.2f unit=MiB # resident memory growth / %d nodes\n", cond, rss, n+1)
			fmt.Printf("BENCH issue=9 name=swarm_goroutines_per_node %s value=%.0f unit=goroutines # growth / %d nodes\n", cond, gor, n+1)
		})
		if !ok {
			break
		}
	}
}

type usage struct {
	heap, rss  uint64
	goroutines int
}

// processUsage returns the live heap after a full GC, the resident set
// size (VmRSS) and the goroutine count of this process.
func processUsage(t *testing.T) usage {
	t.Helper()
	debug.FreeOSMemory() // GC and return freed pages, so RSS is comparable
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usage{heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatalf("RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			u.rss = kb << 10
		}
	}
	if u.rss == 0 {
		t.Fatal("no VmRSS in /proc/self/status")
	}
	return u
}
