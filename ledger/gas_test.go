package ledger_test

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger"
)

// gasRow is the gas of one ledger operation.
type gasRow struct {
	op  string
	gas uint64
}

// measureGas runs every operation once on a fresh simulated chain and one
// outer step of a pool of nodes, and returns the gas table and the gas of
// each node's work submission in that step.
func measureGas(tb testing.TB, nodes int) ([]gasRow, []uint64) {
	rows, step, _ := measureGasFloor(tb, nodes)
	return rows, step
}

// storageFloor is the least gas any contract can spend to record a work
// submission: the transaction's intrinsic gas (21000 plus calldata at 4 gas
// per zero byte and 16 per other byte) plus writing two fresh storage slots
// (the submitter with its timestamp, and the proof hash; 20000 + 2100 cold
// access each).
func storageFloor(data []byte) uint64 {
	g := uint64(21000 + 2*(20000+2100))
	for _, b := range data {
		if b == 0 {
			g += 4
		} else {
			g += 16
		}
	}
	return g
}

func measureGasFloor(tb testing.TB, nodes int) ([]gasRow, []uint64, uint64) {
	e := newEnvN(tb, testParams(), nodes+2)
	var rows []gasRow
	rec := func(op string, r *types.Receipt, err error) {
		tb.Helper()
		must(tb, err)
		rows = append(rows, gasRow{op, r.GasUsed})
	}
	owner := e.deployer
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", big.NewInt(1e9))
	must(tb, err)
	must(tb, owner.FundPool(e.ctx, poolID, ledger.Tokens(100_000)))

	step := make([]uint64, 0, nodes)
	var floor uint64
	clients := make([]*ledger.Client, nodes)
	for i := range nodes {
		c := e.client(i+1, e.dep)
		clients[i] = c
		must(tb, owner.Mint(e.ctx, c.Address(), ledger.Tokens(1000)))
		r1, err := c.RegisterProvider(e.ctx)
		must(tb, err)
		r2, err := c.RegisterNode(e.ctx, c.Address(), 1, "1x H100 80GB")
		must(tb, err)
		ra, err := c.Approve(e.ctx, e.dep.Registry, e.params.MinStakePerNode)
		must(tb, err)
		r3, err := c.Stake(e.ctx, e.params.MinStakePerNode) // allowance suffices: no second approve
		must(tb, err)
		inv, err := owner.Invite(e.ctx, poolID, c.Address(), 1, time.Hour)
		must(tb, err)
		r4, err := c.JoinPool(e.ctx, inv)
		must(tb, err)
		if i == 0 {
			rows = append(rows, gasRow{"register provider", r1.GasUsed}, gasRow{"register node", r2.GasUsed},
				gasRow{"approve (ERC-20, before stake)", ra.GasUsed}, gasRow{"stake", r3.GasUsed}, gasRow{"join pool (EIP-712 invite)", r4.GasUsed})
		}
	}
	// One outer step: every node records its pseudo-gradient hash and TOPLOC proof hash.
	for i, c := range clients {
		wh := crypto.Keccak256Hash([]byte(fmt.Sprintf("step 1 node %d pseudo-gradient", i)))
		ph := crypto.Keccak256Hash([]byte(fmt.Sprintf("step 1 node %d toploc", i)))
		r, err := c.SubmitWork(e.ctx, poolID, wh, ph)
		must(tb, err)
		step = append(step, r.GasUsed)
		if i == 0 {
			tx, _, err := e.sim.Client().TransactionByHash(e.ctx, r.TxHash)
			must(tb, err)
			floor = storageFloor(tx.Data())
		}
	}
	rows = append(rows, gasRow{"submit work", step[0]})
	e.advance(time.Minute)
	c := clients[0]
	r, err := c.LeavePool(e.ctx, poolID)
	rec("leave pool", r, err)
	_, r, err = c.Claim(e.ctx, poolID)
	rec("claim", r, err)
	wh := crypto.Keccak256Hash([]byte("step 1 node 0 pseudo-gradient"))
	r, err = owner.InvalidateWork(e.ctx, poolID, wh, big.NewInt(1))
	rec("invalidate work + slash", r, err)
	c2 := clients[min(1, len(clients)-1)]
	_, err = c2.Stake(e.ctx, big.NewInt(1))
	must(tb, err)
	r, err = c2.Unstake(e.ctx, big.NewInt(1))
	rec("unstake", r, err)
	e.advance(e.params.UnbondingPeriod)
	_, r, err = c2.Withdraw(e.ctx)
	rec("withdraw", r, err)
	return rows, step, floor
}

// BenchmarkLedgerGas prints the gas table per operation and the per-node
// cost of one outer step (a work submission per node) in a pool of 100
// nodes, and reports them as metrics. Gas is deterministic; the benchmark
// loop only repeats the measurement.
func BenchmarkLedgerGas(b *testing.B) {
	const nodes = 100
	var rows []gasRow
	var step []uint64
	var floor uint64
	for range b.N {
		rows, step, floor = measureGasFloor(b, nodes)
	}
	var sum, lo, hi uint64
	lo = ^uint64(0)
	for _, g := range step {
		sum += g
		lo, hi = min(lo, g), max(hi, g)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n| operation | gas |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %d |\n", r.op, r.gas)
		b.ReportMetric(float64(r.gas), "gas/"+strings.NewReplacer(" ", "_", "(", "", ")", "", "+", "and", "-", "_").Replace(r.op))
	}
	per := float64(sum) / float64(len(step))
	fmt.Fprintf(&sb, "outer step at %d nodes: %d gas total, %.0f gas per node (min %d, max %d); at 1 gwei %.6f ETH per node\n",
		len(step), sum, per, lo, hi, per*1e-9)
	fmt.Fprintf(&sb, "submit work vs its storage floor (intrinsic + 2 fresh slots = %d gas): %.3fx\n", floor, float64(step[0])/float64(floor))
	fmt.Print(sb.String())
	b.ReportMetric(per, "gas/node/outer_step")
	b.ReportMetric(float64(step[0])/float64(floor), "x_storage_floor")
}

// TestWorkSubmissionCostFlat: a node's submission costs the same in a pool
// of 1 and of 20 nodes, so the per-node cost of an outer step does not grow
// with the pool.
func TestWorkSubmissionCostFlat(t *testing.T) {
	_, step := measureGas(t, 20)
	// Only calldata may differ: 64 bytes of hashes, 4 or 16 gas a byte.
	const calldataSpread = 64 * (16 - 4)
	for i, g := range step {
		if d := int64(g) - int64(step[0]); d > calldataSpread || d < -calldataSpread {
			t.Fatalf("node %d submission cost %d gas, node 0 %d", i, g, step[0])
		}
	}

}
