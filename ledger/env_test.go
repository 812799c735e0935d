package ledger_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/openpool/openpool/ledger"
)

// testEnv is a simulated chain with a deployed ledger and funded accounts.
type testEnv struct {
	t        testing.TB
	ctx      context.Context
	sim      *simulated.Backend
	keys     []*ecdsa.PrivateKey
	deployer *ledger.Client
	dep      ledger.Deployment
	params   ledger.DeployParams
	mineMu   sync.Mutex // the simulated beacon's Commit is not safe for concurrent use
}

const testAccounts = 8

func testKey(i int) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("openpool ledger test key " + strconv.Itoa(i))))
	if err != nil {
		panic(err)
	}
	return k
}

func testParams() ledger.DeployParams {
	p := ledger.DefaultDeployParams()
	p.UnbondingPeriod = time.Hour
	p.ValidationWindow = 10 * time.Minute
	return p
}

func newEnv(t testing.TB, p ledger.DeployParams) *testEnv {
	return newEnvN(t, p, testAccounts)
}

// newEnvN is newEnv with n funded accounts.
func newEnvN(t testing.TB, p ledger.DeployParams, n int) *testEnv {
	t.Helper()
	alloc := types.GenesisAlloc{}
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = testKey(i)
		alloc[crypto.PubkeyToAddress(keys[i].PublicKey)] = types.Account{Balance: ledger.DevEther()}
	}
	sim := simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) {
		ec.Genesis.Config = ledger.DevChainConfig() // mainnet's fork rules, as the dev chain
	})
	t.Cleanup(func() { sim.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &testEnv{t: t, ctx: ctx, sim: sim, keys: keys, params: p}
	e.deployer = e.client(0, ledger.Deployment{})
	dep, err := e.deployer.Deploy(ctx, p)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	e.dep = dep
	return e
}

// client returns a client for account i.
func (e *testEnv) client(i int, dep ledger.Deployment) *ledger.Client {
	e.t.Helper()
	c, err := ledger.New(e.ctx, e.sim.Client(), e.keys[i], dep, ledger.WithMiner(e.mine), ledger.WithRetries(2, time.Millisecond))
	if err != nil {
		e.t.Fatalf("client %d: %v", i, err)
	}
	return c
}

func (e *testEnv) addr(i int) common.Address { return crypto.PubkeyToAddress(e.keys[i].PublicKey) }

// provider returns a client for account i registered as provider and node
// with stake tokens (and staked amount if stake != nil).
func (e *testEnv) provider(i int, stake *big.Int) *ledger.Client {
	e.t.Helper()
	c := e.client(i, e.dep)
	must(e.t, e.deployer.Mint(e.ctx, c.Address(), ledger.Tokens(10_000)))
	must(e.t, c.Register(e.ctx, 1, "1x H100 80GB"))
	if stake != nil {
		_, err := c.Stake(e.ctx, stake)
		must(e.t, err)
	}
	return c
}

func (e *testEnv) mine() {
	e.mineMu.Lock()
	defer e.mineMu.Unlock()
	e.sim.Commit()
}

// advance moves chain time forward by d (one empty block).
func (e *testEnv) advance(d time.Duration) {
	e.t.Helper()
	e.mineMu.Lock()
	defer e.mineMu.Unlock()
	// AdjustTime refuses a pending block with transactions in it; a send
	// whose miner call raced with another may still be pending, so mine it
	// first.
	e.sim.Commit()
	if err := e.sim.AdjustTime(d); err != nil {
		e.t.Fatalf("adjust time: %v", err)
	}
}

func (e *testEnv) blockTime(r *types.Receipt) uint64 {
	e.t.Helper()
	h, err := e.sim.Client().HeaderByNumber(e.ctx, r.BlockNumber)
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Time
}

func (e *testEnv) balance(a common.Address) *big.Int {
	e.t.Helper()
	b, err := e.deployer.TokenBalance(e.ctx, a)
	must(e.t, err)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err is a decoded contract revert matching target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	var re *ledger.RevertError
	if !errors.Is(err, target) || !errors.As(err, &re) {
		t.Fatalf("got error %v, want a revert matching %v", err, target)
	}
}
