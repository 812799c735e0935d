package ledger_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/openpool/openpool/ledger"
)

// TestDevChainOverJSONRPC runs the pool life cycle against the embedded dev
// chain through its loopback JSON-RPC endpoints, as another process would:
// blocks are sealed on demand, with no miner hook.
func TestDevChainOverJSONRPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	owner, worker := testKey(0), testKey(1)
	chain, err := ledger.StartDevChain(
		ledger.WithDevFunds(crypto.PubkeyToAddress(owner.PublicKey), ledger.DevEther()),
		ledger.WithDevFunds(crypto.PubkeyToAddress(worker.PublicKey), ledger.DevEther()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })

	httpc, err := ethclient.DialContext(ctx, chain.URL())
	must(t, err)
	t.Cleanup(httpc.Close)
	wsc, err := chain.Dial(ctx)
	must(t, err)
	t.Cleanup(wsc.Close)

	oc, err := ledger.New(ctx, httpc, owner, ledger.Deployment{}, ledger.WithChainID(ledger.DevChainID))
	must(t, err)
	p := testParams()
	dep, err := oc.Deploy(ctx, p)
	must(t, err)
	// The worker talks over WebSocket and watches events.
	wc, err := ledger.New(ctx, wsc, worker, dep)
	must(t, err)
	joined := make(chan *ledger.NodeJoined, 1)
	sub, err := wc.WatchNodeJoined(ctx, joined)
	must(t, err)
	defer sub.Unsubscribe()

	must(t, oc.Mint(ctx, wc.Address(), ledger.Tokens(1000)))
	must(t, wc.Register(ctx, 1, "1x RTX 4090"))
	_, err = wc.Stake(ctx, p.MinStakePerNode)
	must(t, err)
	poolID, err := oc.CreatePool(ctx, dep.DomainID, "bafydev", big.NewInt(1e9))
	must(t, err)
	must(t, oc.FundPool(ctx, poolID, ledger.Tokens(10)))
	inv, err := oc.Invite(ctx, poolID, wc.Address(), 1, time.Hour)
	must(t, err)
	_, err = wc.JoinPool(ctx, inv)
	must(t, err)
	select {
	case ev := <-joined:
		if ev.Node != wc.Address() {
			t.Fatalf("joined event for %s", ev.Node)
		}
	case err := <-sub.Err():
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no NodeJoined event over WebSocket")
	}
	_, err = wc.SubmitWork(ctx, poolID, crypto.Keccak256Hash([]byte("w")), crypto.Keccak256Hash([]byte("p")))
	must(t, err)
	_, err = wc.JoinPool(ctx, inv)
	wantErr(t, err, ledger.ErrAlreadyInPool)
	time.Sleep(1100 * time.Millisecond) // at least one second of active time on the wall-clock chain
	_, err = wc.LeavePool(ctx, poolID)
	must(t, err)
	m, err := wc.Member(ctx, poolID, wc.Address())
	must(t, err)
	amount, _, err := wc.Claim(ctx, poolID)
	must(t, err)
	if want := new(big.Int).Mul(big.NewInt(1e9), big.NewInt(int64(m.ActiveSeconds))); m.ActiveSeconds == 0 || amount.Cmp(want) != 0 {
		t.Fatalf("claimed %s for %ds, want %s", amount, m.ActiveSeconds, want)
	}
}
