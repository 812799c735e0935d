package ledger_test

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

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

// flakyBackend wraps the simulated chain's client: the first sends fail
// with a connection error, either before reaching the chain or after (the
// answer is lost but the transaction went through).
type flakyBackend struct {
	ledger.Backend
	mu          sync.Mutex
	failBefore  int // sends refused outright
	loseAnswers int // sends delivered whose answer is lost
	sends       int
}

func (f *flakyBackend) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends++
	if f.failBefore > 0 {
		f.failBefore--
		return fmt.Errorf("post http://127.0.0.1:8545: %w", syscall.ECONNREFUSED)
	}
	if f.loseAnswers > 0 {
		f.loseAnswers--
		if err := f.Backend.SendTransaction(ctx, tx); err != nil {
			return err
		}
		return fmt.Errorf("read reply: %w", io.ErrUnexpectedEOF)
	}
	return f.Backend.SendTransaction(ctx, tx)
}

// Transient send errors are retried, and a transaction whose answer was
// lost is not sent twice.
func TestRetryTransientSend(t *testing.T) {
	e := newEnv(t, testParams())
	must(t, e.deployer.Mint(e.ctx, e.addr(1), big.NewInt(100)))
	for _, tc := range []struct {
		name               string
		failBefore, loseAn int
	}{{"refused twice", 2, 0}, {"answer lost", 0, 1}, {"both", 1, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			fb := &flakyBackend{Backend: e.sim.Client(), failBefore: tc.failBefore, loseAnswers: tc.loseAn}
			c, err := ledger.New(e.ctx, fb, e.keys[1], e.dep, ledger.WithMiner(e.mine), ledger.WithRetries(4, time.Millisecond))
			must(t, err)
			before := e.balance(e.addr(4))
			must(t, c.Transfer(e.ctx, e.addr(4), big.NewInt(1)))
			if d := new(big.Int).Sub(e.balance(e.addr(4)), before); d.Int64() != 1 {
				t.Fatalf("recipient got %s, want exactly 1 (no duplicate send)", d)
			}
			if fb.sends != tc.failBefore+tc.loseAn+1 {
				t.Fatalf("%d send attempts, want %d", fb.sends, tc.failBefore+tc.loseAn+1)
			}
		})
	}
	// Out of retries: a clear error, nothing sent.
	fb := &flakyBackend{Backend: e.sim.Client(), failBefore: 10}
	c, err := ledger.New(e.ctx, fb, e.keys[1], e.dep, ledger.WithMiner(e.mine), ledger.WithRetries(2, time.Millisecond))
	must(t, err)
	if err := c.Transfer(e.ctx, e.addr(4), big.NewInt(1)); err == nil || !strings.Contains(err.Error(), "giving up after 2 retries") {
		t.Fatalf("got %v", err)
	}
}

func TestSendEther(t *testing.T) {
	e := newEnv(t, testParams())
	to := crypto.PubkeyToAddress(testKey(100).PublicKey) // not funded at genesis
	_, err := e.deployer.SendEther(e.ctx, to, big.NewInt(123456789))
	must(t, err)
	bal, err := e.sim.Client().BalanceAt(e.ctx, to, nil)
	must(t, err)
	if bal.Int64() != 123456789 {
		t.Fatalf("balance %s", bal)
	}
}
