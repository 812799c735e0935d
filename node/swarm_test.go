package node_test

import (
	"testing"
	"time"

	"github.com/openpool/openpool/internal/nodetest"
	"github.com/openpool/openpool/node"
)

// TestSwarmConverges: 50 real nodes on loopback, one bootstrap node; every
// node must list every other as an alive member.
func TestSwarmConverges(t *testing.T) {
	const n, pool = 50, "converge"
	_, nodes := nodetest.Swarm(t, n, pool, node.WithHeartbeatInterval(time.Second))
	ok := nodetest.WaitFor(3*time.Minute, func() bool {
		for _, nd := range nodes {
			if nodetest.AliveCount(nd, pool) != n {
				return false
			}
		}
		return true
	})
	if !ok {
		for i, nd := range nodes {
			if c := nodetest.AliveCount(nd, pool); c != n {
				t.Errorf("node %d sees %d/%d alive members", i, c, n)
			}
		}
		t.FailNow()
	}
	// Every node sees exactly the same set of peers.
	want := map[string]bool{}
	for _, nd := range nodes {
		want[nd.ID().String()] = true
	}
	for i, nd := range nodes {
		for _, m := range nd.Members(pool) {
			if !want[m.ID.String()] {
				t.Errorf("node %d lists unknown member %s", i, m.ID)
			}
		}
	}
}
