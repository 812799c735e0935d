//go:build lab

package ledger_test

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/openpool/openpool/ledger"
)

// gethVersion is the go-ethereum version pinned in go.mod.
const gethVersion = "v1.17.10"

// gethDevKey is the well-known, public developer key that `geth --dev`
// funds when its keystore is empty (cmd/utils.DeveloperKey).
const gethDevKey = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// buildGeth builds geth at the pinned version in a scratch module, or uses
// $OPENPOOL_GETH, or a binary cached by an earlier run. It skips the test,
// with the reason, only when geth cannot be built.
func buildGeth(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OPENPOOL_GETH"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "openpool", "geth-"+gethVersion)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	mod := t.TempDir()
	steps := [][]string{
		{"go", "mod", "init", "openpool.test/gethbuild"},
		{"go", "get", "github.com/ethereum/go-ethereum/cmd/geth@" + gethVersion},
		{"go", "build", "-o", bin + ".tmp", "github.com/ethereum/go-ethereum/cmd/geth"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot build geth %s (%v: %v):\n%s", gethVersion, s, err, out)
		}
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestGethDev runs the ledger life cycle against a real `geth --dev`
// process over HTTP JSON-RPC on loopback, with real wall-clock time for
// unbonding and active intervals.
func TestGethDev(t *testing.T) {
	geth := buildGeth(t)
	port := freePort(t)
	datadir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(geth, "--dev", "--dev.period", "0", "--datadir", datadir, "--ipcdisable",
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(port), "--http.api", "eth,net,web3",
		"--port", "0", "--nodiscover", "--maxpeers", "0", "--verbosity", "2")
	logf, err := os.Create(filepath.Join(datadir, "geth.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(datadir, "geth.log"))
			t.Logf("geth log:\n%s", b)
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	var ec *ethclient.Client
	for i := 0; i < 300; i++ {
		if c, err := ethclient.DialContext(ctx, url); err == nil {
			if _, err := c.ChainID(ctx); err == nil {
				ec = c
				break
			}
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ec == nil {
		t.Fatal("geth did not answer on " + url)
	}
	defer ec.Close()

	devKey, _ := crypto.HexToECDSA(gethDevKey)
	owner, err := ledger.New(ctx, ec, devKey, ledger.Deployment{}, ledger.WithChainID(1337))
	must(t, err)
	p := ledger.DefaultDeployParams()
	p.UnbondingPeriod = 2 * time.Second
	p.ValidationWindow = time.Minute
	dep, err := owner.Deploy(ctx, p)
	must(t, err)

	workerKey := testKey(1)
	_, err = owner.SendEther(ctx, crypto.PubkeyToAddress(workerKey.PublicKey), ledger.Tokens(10))
	must(t, err)
	worker, err := ledger.New(ctx, ec, workerKey, dep)
	must(t, err)
	must(t, owner.Mint(ctx, worker.Address(), ledger.Tokens(1000)))
	must(t, worker.Register(ctx, 1, "1x H100"))
	_, err = worker.Stake(ctx, ledger.Tokens(150))
	must(t, err)
	_, err = worker.Unstake(ctx, ledger.Tokens(50))
	must(t, err)
	_, _, err = worker.Withdraw(ctx)
	wantErr(t, err, ledger.ErrNothingToWithdraw)

	rate := big.NewInt(1_000_000_007)
	poolID, err := owner.CreatePool(ctx, dep.DomainID, "bafygeth", rate)
	must(t, err)
	must(t, owner.FundPool(ctx, poolID, ledger.Tokens(10)))
	forged, err := worker.Invite(ctx, poolID, worker.Address(), 1, time.Hour)
	must(t, err)
	_, err = worker.JoinPool(ctx, forged)
	wantErr(t, err, ledger.ErrInvalidInvite)
	inv, err := owner.Invite(ctx, poolID, worker.Address(), 1, time.Hour)
	must(t, err)
	jr, err := worker.JoinPool(ctx, inv)
	must(t, err)
	_, err = worker.JoinPool(ctx, inv)
	wantErr(t, err, ledger.ErrAlreadyInPool)
	wh := crypto.Keccak256Hash([]byte("geth work"))
	wr, err := worker.SubmitWork(ctx, poolID, wh, crypto.Keccak256Hash([]byte("geth proof")))
	must(t, err)
	t.Logf("submit work on geth --dev (its dev fork rules): %d gas", wr.GasUsed)
	_, err = worker.InvalidateWork(ctx, poolID, wh, nil)
	wantErr(t, err, ledger.ErrUnauthorized)

	time.Sleep(2500 * time.Millisecond) // past the unbonding period, and some active time
	got, _, err := worker.Withdraw(ctx)
	must(t, err)
	if got.Cmp(ledger.Tokens(50)) != 0 {
		t.Fatalf("withdrew %s", got)
	}
	lr, err := worker.LeavePool(ctx, poolID)
	must(t, err)
	jh, err := ec.HeaderByNumber(ctx, jr.BlockNumber)
	must(t, err)
	lh, err := ec.HeaderByNumber(ctx, lr.BlockNumber)
	must(t, err)
	amount, _, err := worker.Claim(ctx, poolID)
	must(t, err)
	want := new(big.Int).Mul(rate, new(big.Int).SetUint64(lh.Time-jh.Time))
	if lh.Time <= jh.Time || amount.Cmp(want) != 0 {
		t.Fatalf("claimed %s for %ds, want %s", amount, lh.Time-jh.Time, want)
	}
	_, _, err = worker.Claim(ctx, poolID)
	wantErr(t, err, ledger.ErrNothingToClaim)
	t.Logf("geth --dev: joined %d, left %d, claimed %s wei", jh.Time, lh.Time, amount)
}
