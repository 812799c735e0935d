//go:build lab

package node_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// TestMembershipBenchmark measures, for swarms of 10, 50 and 100 real nodes
// on loopback, the failure detection time of a crashed node and the
// deathrattle propagation time as multiples of the heartbeat interval, and
// the membership bytes per node per second (gossipsub plus, in ModeSWIM, the
// probe protocol), for each membership mode in OPENPOOL_BENCH_MODES
// (default "heartbeat,swim"). Run it with scripts/bench-membership.sh.
func TestMembershipBenchmark(t *testing.T) {
	modes := []p2p.MembershipMode{p2p.ModeHeartbeat, p2p.ModeSWIM}
	if s := os.Getenv("OPENPOOL_BENCH_MODES"); s != "" {
		modes = nil
		for _, f := range strings.Split(s, ",") {
			md, err := p2p.ParseMembershipMode(strings.TrimSpace(f))
			if err != nil {
				t.Fatal(err)
			}
			modes = append(modes, md)
		}
	}
	interval := time.Second
	if s := os.Getenv("OPENPOOL_BENCH_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		interval = d
	}
	parseSizes := func(name string) []int {
		s := os.Getenv(name)
		if s == "" {
			return nil
		}
		var sizes []int
		for _, f := range strings.Split(s, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err != nil || n < 8 {
				t.Fatalf("%s: %q (sizes >= 8)", name, f)
			}
			sizes = append(sizes, n)
		}
		return sizes
	}
	sizes := []int{10, 50, 100}
	if s := parseSizes("OPENPOOL_BENCH_SIZES"); s != nil {
		sizes = s
	}
	// OPENPOOL_BENCH_SIZES_HEARTBEAT / _SWIM override the sizes of one mode.
	sizesOf := func(mode p2p.MembershipMode) []int {
		if s := parseSizes("OPENPOOL_BENCH_SIZES_" + strings.ToUpper(mode.String())); s != nil {
			return s
		}
		return sizes
	}
	rows := map[p2p.MembershipMode][]membershipRow{}
	for _, mode := range modes {
		for _, n := range sizesOf(mode) {
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				r := membershipRow{n: n}
				pool := fmt.Sprintf("bench-%s-%d", mode, n)
				_, nodes := nodetest.Swarm(t, n, pool, node.WithMembershipConfig(p2p.MembershipConfig{Mode: mode, Interval: interval}))
				lastLog := time.Now()
				if !nodetest.WaitFor(5*time.Minute, func() bool {
					lo, hi, states := n, 0, map[string]int{}
					for _, nd := range nodes {
						c := nodetest.AliveCount(nd, pool)
						lo, hi = min(lo, c), max(hi, c)
						for _, m := range nd.Members(pool) {
							states[m.State.String()]++
						}
					}
					if time.Since(lastLog) > 10*time.Second {
						worst := nodes[0]
						for _, nd := range nodes {
							if nodetest.AliveCount(nd, pool) < nodetest.AliveCount(worst, pool) {
								worst = nd
							}
						}
						m, _ := worst.Membership(pool)
						t.Logf("worst node: %d conns, topic peers %d, stats %+v, pubsub rejects %v", len(worst.Host().Network().Peers()),
							len(worst.PubSub().ListPeers(m.Topic())), m.Stats(), worst.Stack().Rejects.Snapshot())
						t.Logf("N=%d converging: alive seen per node min %d max %d; states %v; peers of node 0: %d", n, lo, hi, states, len(nodes[0].Host().Network().Peers()))
						lastLog = time.Now()
					}
					return lo == n
				}) {
					t.Fatalf("N=%d did not converge", n)
				}
				t.Logf("N=%d converged", n)
				// Let meshes settle and, in ModeSWIM, the join announcements
				// (repeated up to 7 intervals after joining) end.
				time.Sleep(10 * interval)

				// Steady-state membership traffic over 10 intervals.
				before := make([][2]int64, n)
				for i, nd := range nodes {
					before[i] = membershipBytes(nd, pool)
				}
				window := 10 * interval
				time.Sleep(window)
				var in, out float64
				for i, nd := range nodes {
					after := membershipBytes(nd, pool)
					in += float64(after[0] - before[i][0])
					out += float64(after[1] - before[i][1])
				}
				r.inPerN = in / float64(n) / window.Seconds()
				r.outPerNode = out / float64(n) / window.Seconds()
				useful := float64(n) * float64(heartbeatWireSize(t, nodes[0], pool)) / interval.Seconds()
				r.amplification = r.inPerN / useful

				// Three crashes, then three clean exits, each observed by the
				// nodes that are still up.
				victims := nodes[n-6:]
				observers := nodes[:n-6]
				for k := 0; k < 3; k++ {
					v := victims[k]
					r.detect = append(r.detect, observe(t, observers, pool, v.ID(), p2p.EventDead, 10*interval, func() {
						m, err := v.Membership(pool)
						if err != nil {
							t.Fatal(err)
						}
						m.Close()            // heartbeats stop, no deathrattle
						_ = v.Host().Close() // connections drop as in kill -9
					})...)
					time.Sleep(interval / 3) // do not crash in phase with the heartbeat
				}
				for k := 3; k < 6; k++ {
					v := victims[k]
					r.rattle = append(r.rattle, observe(t, observers, pool, v.ID(), p2p.EventLeave, 10*interval, func() {
						m, err := v.Membership(pool)
						if err != nil {
							t.Fatal(err)
						}
						go func() { _ = m.Leave(context.Background()) }()
					})...)
				}
				rows[mode] = append(rows[mode], r)
			})
		}
	}
	var b strings.Builder
	for _, mode := range modes {
		rs := rows[mode]
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nmembership benchmark, mode %s, heartbeat interval %v, real hosts on loopback, one process\n", mode, interval)
		fmt.Fprintf(&b, "%5s  %-28s  %-28s  %12s  %12s  %-12s  %-8s  %12s\n", "N", "crash->dead / interval", "deathrattle / interval", "in B/node/s", "out B/node/s", "in vs first", "growth", "amplif.")
		fmt.Fprintf(&b, "%5s  %-28s  %-28s  %12s  %12s  %-12s  %-8s  %12s\n", "", "median  p95  max (<=3.5)", "median  p95  max (<0.5)", "", "", "/ log N ratio", "<=log N", "(in / N*hb)")
		for _, r := range rs {
			dm, dp, dx := stats(r.detect, interval)
			rm, rp, rx := stats(r.rattle, interval)
			growth := r.inPerN / rs[0].inPerN
			logGrowth := math.Log(float64(r.n)) / math.Log(float64(rs[0].n))
			fmt.Fprintf(&b, "%5d  %6.2f %5.2f %5.2f %-9s  %6.3f %5.3f %5.3f %-9s  %12.0f  %12.0f  %5.2f/%-6.2f  %-8s  %12.2f\n",
				r.n, dm, dp, dx, verdict(dx <= 3.5), rm, rp, rx, verdict(rx < 0.5), r.inPerN, r.outPerNode, growth, logGrowth,
				verdict(growth <= logGrowth*1.1), r.amplification)
		}
	}
	if hb, sw := rows[p2p.ModeHeartbeat], rows[p2p.ModeSWIM]; len(hb) > 0 && len(sw) > 0 {
		fmt.Fprintf(&b, "\nswim / heartbeat, membership bytes in per node per second:\n")
		for i := range min(len(hb), len(sw)) {
			fmt.Fprintf(&b, "%5d  %6.3f\n", hb[i].n, sw[i].inPerN/hb[i].inPerN)
		}
	}
	t.Log(b.String())
	fmt.Print(b.String())
	for _, mode := range modes {
		for _, r := range rows[mode] {
			benchLines(mode, r, rows[mode][0], interval)
		}
	}
}

// benchLines prints the machine-readable BENCH lines of one row; first is
// the row of the smallest N in the same mode.
func benchLines(mode p2p.MembershipMode, r, first membershipRow, interval time.Duration) {
	dm, _, dx := stats(r.detect, interval)
	rm, _, rx := stats(r.rattle, interval)
	c := fmt.Sprintf("mode=%s N=%d interval=%v", mode, r.n, interval)
	fmt.Printf("BENCH issue=3 name=crash_to_dead/interval %s value=%.2f unit=x target=<=3.5 # max over observers and crashes; median %.2f\n", c, dx, dm)
	fmt.Printf("BENCH issue=3 name=deathrattle/interval %s value=%.3f unit=x target=<0.5 # max; median %.3f\n", c, rx, rm)
	fmt.Printf("BENCH issue=3 name=gossip_in_bytes_per_node_s %s value=%.0f unit=B/s # out %.0f B/s; amplification %.2f\n", c, r.inPerN, r.outPerNode, r.amplification)
	if r.n != first.n {
		growth := (r.inPerN / first.inPerN) / (math.Log(float64(r.n)) / math.Log(float64(first.n)))
		fmt.Printf("BENCH issue=3 name=gossip_growth/logN_growth %s value=%.2f unit=ratio target=<=1 # bytes per node vs N=%d, over log N vs log %d\n", c, growth, first.n, first.n)
	}
}

// membershipRow is the result for one mode and swarm size.
type membershipRow struct {
	n                  int
	detect, rattle     []time.Duration
	outPerNode, inPerN float64
	amplification      float64
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// observe runs act and returns, for every observer, the time from act until
// the observer saw an event of type typ about id.
func observe(t *testing.T, observers []*node.Node, pool string, id peer.ID, typ p2p.EventType, timeout time.Duration, act func()) []time.Duration {
	t.Helper()
	subs := make([]*p2p.Subscription, len(observers))
	for i, o := range observers {
		s, err := o.Subscribe(pool, 4096)
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
		defer s.Close()
	}
	start := time.Now()
	act()
	var out []time.Duration
	for i, s := range subs {
		deadline := time.NewTimer(timeout)
	wait:
		for {
			select {
			case ev := <-s.C:
				if ev.Type == typ && ev.Member.ID == id {
					out = append(out, ev.Time.Sub(start))
					break wait
				}
			case <-deadline.C:
				t.Errorf("observer %d: no %s event for %s within %v", i, typ, id, timeout)
				break wait
			}
		}
		deadline.Stop()
	}
	return out
}

// stats returns median, 95th percentile and maximum as multiples of unit.
func stats(ds []time.Duration, unit time.Duration) (float64, float64, float64) {
	if len(ds) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	f := func(d time.Duration) float64 { return float64(d) / float64(unit) }
	return f(s[len(s)/2]), f(s[(len(s)*95)/100]), f(s[len(s)-1])
}

// membershipBytes returns the gossipsub and membership probe bytes (in,
// out) of a node so far.
func membershipBytes(n *node.Node, pool string) [2]int64 {
	var in, out int64
	for proto, st := range n.Stack().Bandwidth.GetBandwidthByProtocol() {
		if strings.HasPrefix(string(proto), "/meshsub/") || proto == p2p.SwimProtocol(pool) {
			in += st.TotalIn
			out += st.TotalOut
		}
	}
	return [2]int64{in, out}
}

// heartbeatWireSize is the size of one signed heartbeat as gossipsub carries it.
func heartbeatWireSize(t *testing.T, n *node.Node, pool string) int {
	hb := p2p.Heartbeat{Kind: p2p.KindHeartbeat, Pool: pool, Peer: n.ID(), Seq: uint64(time.Now().UnixMicro()), Time: time.Now(), Hardware: n.Hardware()}
	data, err := hb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	topic := p2p.TopicName(pool, "membership")
	msg := &pb.Message{From: []byte(n.ID()), Data: data, Seqno: make([]byte, 8), Topic: &topic, Signature: make([]byte, 64)}
	return proto.Size(msg) + 2
}
