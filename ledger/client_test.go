package ledger_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger"
)

// Two clients sending from one account: the second one's cached nonce goes
// stale and it must resync and still land its transaction.
func TestNonceResync(t *testing.T) {
	e := newEnv(t, testParams())
	c1 := e.client(1, e.dep)
	c2 := e.client(1, e.dep)
	must(t, e.deployer.Mint(e.ctx, c1.Address(), big.NewInt(1000)))
	for i := 0; i < 3; i++ {
		must(t, c1.Transfer(e.ctx, e.addr(2), big.NewInt(1)))
		must(t, c2.Transfer(e.ctx, e.addr(2), big.NewInt(1)))
	}
	if got := e.balance(e.addr(2)); got.Int64() != 6 {
		t.Fatalf("recipient has %s, want 6", got)
	}
}

// Concurrent sends from one client keep their nonces in order.
func TestConcurrentSends(t *testing.T) {
	e := newEnv(t, testParams())
	must(t, e.deployer.Mint(e.ctx, e.addr(0), big.NewInt(100)))
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() { errs <- e.deployer.Transfer(e.ctx, e.addr(3), big.NewInt(1)) }()
	}
	for i := 0; i < 10; i++ {
		must(t, <-errs)
	}
	if got := e.balance(e.addr(3)); got.Int64() != 10 {
		t.Fatalf("recipient has %s, want 10", got)
	}
}

func TestWatchEvents(t *testing.T) {
	e := newEnv(t, testParams())
	poolID, err := e.deployer.CreatePool(e.ctx, e.dep.DomainID, "cid", big.NewInt(1))
	must(t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	joined := make(chan *ledger.NodeJoined, 4)
	sub, err := e.deployer.WatchNodeJoined(ctx, joined, poolID)
	must(t, err)
	defer sub.Unsubscribe()
	submitted := make(chan *ledger.WorkSubmitted, 4)
	sub2, err := e.deployer.WatchWorkSubmitted(ctx, submitted)
	must(t, err)
	defer sub2.Unsubscribe()

	n := e.provider(1, e.params.MinStakePerNode)
	inv, err := e.deployer.Invite(e.ctx, poolID, n.Address(), 9, time.Hour)
	must(t, err)
	_, err = n.JoinPool(e.ctx, inv)
	must(t, err)
	wh := crypto.Keccak256Hash([]byte("w"))
	_, err = n.SubmitWork(e.ctx, poolID, wh, crypto.Keccak256Hash([]byte("p")))
	must(t, err)
	timeout := time.After(30 * time.Second)
	select {
	case ev := <-joined:
		if ev.Node != n.Address() || ev.PoolId.Uint64() != poolID || ev.InviteNonce.Uint64() != 9 {
			t.Fatalf("joined event %+v", ev)
		}
	case err := <-sub.Err():
		t.Fatal(err)
	case <-timeout:
		t.Fatal("no NodeJoined event")
	}
	select {
	case ev := <-submitted:
		if ev.WorkHash != wh || ev.Node != n.Address() {
			t.Fatalf("work event %+v", ev)
		}
	case err := <-sub2.Err():
		t.Fatal(err)
	case <-timeout:
		t.Fatal("no WorkSubmitted event")
	}
}
