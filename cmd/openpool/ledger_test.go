package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a command writing from another
// goroutine while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ledgerCLI runs `openpool --home home ledger <args> --passphrase pw`.
func ledgerCLI(t *testing.T, home string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--home", home, "--log-level", "error", "ledger"}, args...)
	full = append(full, "--passphrase", "pw", "--lightkdf")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, full, &out, &errb)
	return code, out.String(), errb.String()
}

func ledgerOK(t *testing.T, home string, args ...string) string {
	t.Helper()
	code, out, errs := ledgerCLI(t, home, args...)
	if code != 0 {
		t.Fatalf("ledger %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func ledgerFails(t *testing.T, wantCode int, wantErr string, home string, args ...string) {
	t.Helper()
	code, out, errs := ledgerCLI(t, home, args...)
	if code != wantCode || !strings.Contains(errs, wantErr) {
		t.Fatalf("ledger %s: exit %d, stderr %q; want exit %d and %q (stdout %s)", strings.Join(args, " "), code, errs, wantCode, wantErr, out)
	}
}

var addrRE = regexp.MustCompile(`address (0x[0-9a-fA-F]{40})`)

// TestLedgerCLI drives the whole ledger CLI against `ledger devchain`
// running in-process on a loopback port: keys, deploy, stake, pools,
// invites, join, rewards, claim, and the errors users meet.
func TestLedgerCLI(t *testing.T) {
	owner, worker := t.TempDir(), t.TempDir()
	m := addrRE.FindStringSubmatch(ledgerOK(t, owner, "key", "create"))
	if m == nil {
		t.Fatal("no address from key create")
	}
	m = addrRE.FindStringSubmatch(ledgerOK(t, worker, "key", "create"))
	if m == nil {
		t.Fatal("no address from key create")
	}
	workerAddr := m[1]
	// Never overwrite a key.
	ledgerFails(t, 1, "refusing to create another", worker, "key", "create")
	show := ledgerOK(t, worker, "key", "show")
	if !strings.Contains(show, workerAddr) || !strings.Contains(show, filepath.Join(worker, "keystore")) {
		t.Fatalf("key show: %s", show)
	}

	// The dev chain in the foreground, deploying from the owner's key.
	ctx, cancel := context.WithCancel(context.Background())
	var chainOut, chainErr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--home", owner, "--log-level", "error", "ledger", "devchain", "--listen", "127.0.0.1:0",
			"--fund", workerAddr, "--deploy", "--passphrase", "pw"}, &chainOut, &chainErr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("devchain did not stop")
		}
	})
	urlRE := regexp.MustCompile(`serving JSON-RPC at (http://\S+)`)
	var url string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s := chainOut.String()
		if mm := urlRE.FindStringSubmatch(s); mm != nil && strings.Contains(s, "deployment file") {
			url = mm[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("devchain exited %d: %s %s", code, chainOut.String(), chainErr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if url == "" {
		t.Fatalf("devchain not ready: %s %s", chainOut.String(), chainErr.String())
	}
	depFile := filepath.Join(owner, "ledger", "deployment.json")
	o := func(args ...string) string { return ledgerOK(t, owner, append(args, "--rpc", url)...) }
	w := func(args ...string) string {
		return ledgerOK(t, worker, append(args, "--rpc", url, "--deployment", depFile)...)
	}
	wFails := func(code int, msg string, args ...string) {
		ledgerFails(t, code, msg, worker, append(args, "--rpc", url, "--deployment", depFile)...)
	}

	o("mint", workerAddr, "400")
	if out := o("fund", workerAddr, "--ether", "1", "--tokens", "100"); !strings.Contains(out, "sent 1 ether and 100 tokens") {
		t.Fatalf("fund: %s", out)
	}
	if out := w("stake", "150", "--hardware", "1x RTX 4090"); !strings.Contains(out, "total stake 150") {
		t.Fatalf("stake: %s", out)
	}
	wFails(1, "InsufficientStake", "unstake", "100") // 150-100 < 100 minimum
	w("unstake", "50")
	wFails(1, "NothingToWithdraw", "withdraw")
	if out := o("pool", "create", "--metadata", "bafyTestPool", "--reward-rate", "1000000", "--fund", "10"); !strings.Contains(out, "pool 1") {
		t.Fatalf("pool create: %s", out)
	}
	inviteFile := filepath.Join(t.TempDir(), "invite.json")
	o("pool", "invite", "1", workerAddr, "--nonce", "7", "-o", inviteFile)
	if out := w("pool", "join", inviteFile); !strings.Contains(out, "joined pool 1") {
		t.Fatalf("join: %s", out)
	}
	wFails(1, "AlreadyInPool", "pool", "join", inviteFile)
	status := w("status", "--pool", "1")
	for _, want := range []string{workerAddr, "100 staked, 50 unbonding", "may join pools  true", "bafyTestPool", "1 active nodes"} {
		if !strings.Contains(status, want) {
			t.Fatalf("status lacks %q:\n%s", want, status)
		}
	}
	h1 := "0x" + strings.Repeat("ab", 32)
	h2 := "0x" + strings.Repeat("cd", 32)
	w("work", "submit", "1", h1, h2)
	wFails(1, "WorkAlreadySubmitted", "work", "submit", "1", h1, h2)
	wFails(1, "NotValidator", "work", "invalidate", "1", h1)
	wFails(2, "bad work hash", "work", "submit", "1", "0x12", h2)
	time.Sleep(1100 * time.Millisecond) // some active time on the wall-clock chain
	w("pool", "leave", "1")
	if out := w("rewards", "1"); !strings.Contains(out, "not in pool") || !strings.Contains(out, "claimable 0.") {
		t.Fatalf("rewards: %s", out)
	}
	if out := w("claim", "1"); !strings.Contains(out, "claimed 0.") {
		t.Fatalf("claim: %s", out)
	}
	wFails(1, "NothingToClaim", "claim", "1")
	// Replay of a used invite after leaving.
	wFails(1, "InviteAlreadyUsed", "pool", "join", inviteFile)
	// The deployer is a validator: invalidate and slash 10 of the worker's stake.
	if out := o("work", "invalidate", "1", h1, "--slash", "10"); !strings.Contains(out, "slashed 10") {
		t.Fatalf("invalidate: %s", out)
	}
	// Slashing takes unbonding funds first.
	if status := w("status"); !strings.Contains(status, "100 staked, 40 unbonding") {
		t.Fatalf("status after slash:\n%s", status)
	}

	// Usage errors exit 2 with a message that says what to do.
	wFails(2, "bad token amount", "stake", "lots")
	wFails(2, "bad pool ID", "claim", "0")
	wFails(2, "bad address", "pool", "invite", "1", "0x123")
	wFails(2, "chain", "status", "--chain-id", "5")
	ledgerFails(t, 2, "run `openpool ledger deploy` first", t.TempDir(), "status", "--rpc", url)
	if err := os.WriteFile(inviteFile, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	wFails(2, "invite", "pool", "join", inviteFile)
}

func TestParseTokens(t *testing.T) {
	for _, tc := range []struct{ in, wei, back string }{
		{"1", "1000000000000000000", "1"},
		{"1.5", "1500000000000000000", "1.5"},
		{"0.000000000000000001", "1", "0.000000000000000001"},
		{".25", "250000000000000000", "0.25"},
		{"1000000", "1000000000000000000000000", "1000000"},
	} {
		v, err := parseTokens(tc.in)
		if err != nil || v.String() != tc.wei {
			t.Errorf("parseTokens(%q) = %v, %v; want %s", tc.in, v, err, tc.wei)
			continue
		}
		if back := formatTokens(v); back != tc.back {
			t.Errorf("formatTokens(%s) = %s, want %s", v, back, tc.back)
		}
	}
	for _, bad := range []string{"", ".", "x", "-1", "+1", "1.0000000000000000001", "1e18"} {
		if _, err := parseTokens(bad); err == nil {
			t.Errorf("parseTokens(%q) accepted", bad)
		}
	}
}
