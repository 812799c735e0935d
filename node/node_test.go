package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

func TestJoinLeaveErrors(t *testing.T) {
	boot := nodetest.Bootstrap(t)
	n := nodetest.Node(t, boot)
	ctx := context.Background()
	if err := n.Join(ctx, "bad/pool"); !errors.Is(err, p2p.ErrBadPoolID) {
		t.Fatalf("join bad pool: %v", err)
	}
	if err := n.Join(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := n.Join(ctx, "p"); !errors.Is(err, node.ErrAlreadyInPool) {
		t.Fatalf("second join: %v", err)
	}
	if err := n.Leave(ctx, "q"); !errors.Is(err, node.ErrNotMember) {
		t.Fatalf("leave of unknown pool: %v", err)
	}
	if err := n.Leave(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := n.Pools(); len(got) != 0 {
		t.Fatalf("pools after leave: %v", got)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Join(ctx, "p"); !errors.Is(err, node.ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestDataDirKeepsPeerID(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	opts := []node.Option{node.WithDataDir(dir), node.WithListenAddrs(nodetest.Loopback), node.WithNAT(false), node.WithHardware(p2p.Hardware{})}
	a, err := node.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	id := a.ID()
	_ = a.Close()
	b, err := node.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ID() != id {
		t.Fatalf("peer ID changed across restart: %s -> %s", id, b.ID())
	}
}

// TestCloseStopsGoroutines: after a swarm is closed, the goroutines it
// started are gone (libp2p's own background workers settle within seconds).
func TestCloseStopsGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		ctx := context.Background()
		tb := &cleanupT{TB: t}
		defer tb.run()
		_, nodes := nodetest.Swarm(tb, 5, "leak", node.WithHeartbeatInterval(100*time.Millisecond), node.WithStatusAddr("127.0.0.1:0"))
		nodetest.WaitFor(20*time.Second, func() bool { return nodetest.AliveCount(nodes[0], "leak") == 5 })
		if _, err := nodes[0].Subscribe("leak", 0); err != nil {
			t.Fatal(err)
		}
		_ = ctx
	}()
	ok := nodetest.WaitFor(15*time.Second, func() bool { return runtime.NumGoroutine() <= base+5 })
	if !ok {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after closing the swarm:\n%s", base, runtime.NumGoroutine(), buf[:n])
	}
}

// cleanupT runs Cleanup functions when run is called instead of at the end
// of the test, so the test can check what is left afterwards.
type cleanupT struct {
	testing.TB
	fns []func()
}

func (c *cleanupT) Cleanup(f func()) { c.fns = append(c.fns, f) }

func (c *cleanupT) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}

func TestStatusAPI(t *testing.T) {
	boot := nodetest.Bootstrap(t)
	n := nodetest.Node(t, boot, node.WithStatusAddr("127.0.0.1:0"))
	if err := n.Join(context.Background(), "status-pool"); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitFor(10*time.Second, func() bool { return nodetest.AliveCount(n, "status-pool") == 1 })
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get("http://" + n.StatusAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var st node.Status
	if err := json.Unmarshal(get("/status"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Peer != n.ID().String() {
		t.Errorf("status peer %s, want %s", st.Peer, n.ID())
	}
	ps, ok := st.Pools["status-pool"]
	if !ok || len(ps.Members) != 1 || ps.Members[0].State != p2p.StateAlive || !ps.Members[0].Self {
		t.Errorf("status pools: %+v", st.Pools)
	}
	metrics := string(get("/metrics"))
	for _, want := range []string{`openpool_pool_members{pool="status-pool",state="alive"} 1`, "openpool_connected_peers", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestMaxConnsRaisesResourceLimits: Limits.MaxConns replaces the resource
// manager's memory-scaled connection limits (what capped a bootstrap node
// at about 250 inbound connections), and a limit below the connection
// manager's high watermark is refused.
func TestMaxConnsRaisesResourceLimits(t *testing.T) {
	ctx := context.Background()
	opts := []node.Option{node.WithDataDir(t.TempDir()), node.WithListenAddrs(nodetest.Loopback), node.WithNAT(false), node.WithHardware(p2p.Hardware{})}
	def, err := node.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	scaled := def.Status().Resources.Limits
	_ = def.Close()
	if scaled == nil {
		t.Fatal("no resource limits reported")
	}
	const want = 20000
	if scaled.ConnsInbound >= want {
		t.Skipf("this machine's scaled inbound limit %d is already above %d", scaled.ConnsInbound, want)
	}
	n, err := node.New(ctx, append(opts, node.WithDataDir(t.TempDir()), node.WithLimits(node.Limits{ConnLow: 100, ConnHigh: 200, MaxConns: want}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	got := n.Status().Resources.Limits
	if got == nil || got.Conns != want || got.ConnsInbound != want || got.Streams != 16*want {
		t.Fatalf("limits with MaxConns %d: %+v (scaled defaults %+v)", want, got, scaled)
	}
	if got.ConnsOutbound != scaled.ConnsOutbound || got.FDs != scaled.FDs {
		t.Fatalf("MaxConns changed more than the connection limits: %+v vs %+v", got, scaled)
	}
	if _, err := node.New(ctx, append(opts, node.WithLimits(node.Limits{ConnLow: 100, ConnHigh: 200, MaxConns: 150}))...); err == nil {
		t.Fatal("MaxConns below the high watermark was accepted")
	}
}

// TestHeartbeatIntervalKeepsMode: WithHeartbeatInterval after
// WithMembershipConfig changes the interval but keeps the membership mode
// and table bound that were set.
func TestHeartbeatIntervalKeepsMode(t *testing.T) {
	ctx := context.Background()
	n, err := node.New(ctx, node.WithDataDir(t.TempDir()), node.WithListenAddrs(nodetest.Loopback), node.WithNAT(false), node.WithHardware(p2p.Hardware{}),
		node.WithMembershipConfig(p2p.MembershipConfig{Mode: p2p.ModeSWIM, MaxMembers: 77}), node.WithHeartbeatInterval(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Join(ctx, "mode-pool"); err != nil {
		t.Fatal(err)
	}
	m, err := n.Membership("mode-pool")
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Config(); c.Mode != p2p.ModeSWIM || c.MaxMembers != 77 || c.Interval != 300*time.Millisecond {
		t.Fatalf("membership config %+v: want SWIM, 77 members, 300ms", c)
	}
}
