package main

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpool/openpool/ledger"
)

// TestDevCommand runs the README's main command in-process with small
// settings and checks its summary: the checkpoint the researcher published
// (and named on chain) reached every worker, training left bit-identical
// weights and a lower loss, the validator accepted the TOPLOC-proved work,
// and every worker was paid, to the wei, what the pool's funds lost.
func TestDevCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("dev swarm skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const workers = 3
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	var out, errOut strings.Builder
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"--home", t.TempDir(), "dev", "--nodes", "3", "--outer-steps", "3", "--inner-steps", "20",
			"--summary-json", sumPath, "--stay", "2m"}, &out, &errOut)
	}()
	// The summary is written before the swarm stays up: then the
	// researcher's status page reports the demo and its checkpoint.
	var s devSummary
	for s.StatusURL == "" {
		select {
		case code := <-done:
			t.Fatalf("dev exited %d before staying up\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
		case <-time.After(100 * time.Millisecond):
		}
		if b, err := os.ReadFile(sumPath); err == nil {
			_ = json.Unmarshal(b, &s)
		}
	}
	checkDevStatusPage(t, s)
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("dev exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	t.Logf("dev output:\n%s", out.String())

	if s.Work.Rejected != 0 || s.Work.Invalidated != 0 {
		t.Errorf("honest work rejected: %+v", s.Work)
	}
	if len(s.Workers) != workers {
		t.Fatalf("summary lists %d workers, want %d", len(s.Workers), workers)
	}
	if s.Checkpoint.CID == "" || s.Checkpoint.Version != 1 || s.Checkpoint.Bytes == 0 {
		t.Errorf("checkpoint %+v", s.Checkpoint)
	}
	if s.ChainPoolID == 0 {
		t.Error("no on-chain pool")
	}
	paid := new(big.Int)
	for i, w := range s.Workers {
		if w.CheckpointCID != s.Checkpoint.CID {
			t.Errorf("worker %d received checkpoint %q, want %s", i, w.CheckpointCID, s.Checkpoint.CID)
		}
		if w.WeightsSHA256 == "" || w.WeightsSHA256 != s.Workers[0].WeightsSHA256 {
			t.Errorf("worker %d weights %s, worker 0 %s", i, w.WeightsSHA256, s.Workers[0].WeightsSHA256)
		}
		if w.Verdict != "accepted" || w.WorkID == "" {
			t.Errorf("worker %d work %s: verdict %q, want accepted", i, w.WorkID, w.Verdict)
		}
		r, ok := new(big.Int).SetString(w.Reward, 10)
		if !ok || r.Sign() <= 0 || w.ActiveSeconds == 0 {
			t.Errorf("worker %d reward %q for %d s", i, w.Reward, w.ActiveSeconds)
			continue
		}
		// Proportional to active time: rate × seconds, to the wei.
		if want := new(big.Int).Mul(devRewardRate, new(big.Int).SetUint64(w.ActiveSeconds)); r.Cmp(want) != 0 {
			t.Errorf("worker %d reward %s, want %s (%d s)", i, r, want, w.ActiveSeconds)
		}
		paid.Add(paid, r)
	}
	if !s.Identical {
		t.Error("summary says the weights differ")
	}
	if paid.String() != s.RewardsPaid || s.RewardsPaid != s.PoolFundsSpent {
		t.Errorf("workers got %s wei, summary says %s paid and %s spent from the pool", paid, s.RewardsPaid, s.PoolFundsSpent)
	}
	if len(s.StepLoss) != 3 {
		t.Errorf("%d outer steps applied, want 3: %v", len(s.StepLoss), s.StepLoss)
	} else if s.StepLoss[2] >= s.StepLoss[0] {
		t.Errorf("inner loss did not decrease over the outer steps: %v", s.StepLoss)
	}
	if s.FinalLoss >= s.InitialLoss {
		t.Errorf("loss on the whole dataset %v -> %v, want a decrease", s.InitialLoss, s.FinalLoss)
	}
	if s.Work.Submitted != workers || s.Work.OnChain != workers || s.Work.Sampled != workers || s.Work.Accepted != workers {
		t.Errorf("work %+v, want %d submitted, on chain, checked and accepted", s.Work, workers)
	}
	if s.AllReduceBytes <= 0 || s.ShardcastBytes < int64(workers)*int64(s.Checkpoint.Bytes) {
		t.Errorf("bytes moved: all-reduce %d, shardcast %d (checkpoint %d bytes)", s.AllReduceBytes, s.ShardcastBytes, s.Checkpoint.Bytes)
	}
	if s.DeathrattleSeen != workers+1 {
		t.Errorf("deathrattle seen by %d members, want %d", s.DeathrattleSeen, workers+1)
	}
	if !strings.HasPrefix(s.StatusURL, "http://127.0.0.1:") {
		t.Errorf("status URL %q", s.StatusURL)
	}
	for _, want := range []string{"== summary", "loss        per outer step", "rewards     pool 1 paid", s.StatusURL} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev output lacks %q", want)
		}
	}
}

// TestDevCommandCheater: a worker that proves inference of another model
// than the checkpoint's is rejected by the validator, its work invalidated
// on chain: it is ejected, forfeits its rewards and loses 10 tokens of
// stake; the honest worker is paid.
func TestDevCommandCheater(t *testing.T) {
	if testing.Short() {
		t.Skip("dev swarm skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := runDevSummary(ctx, t, "--nodes", "2", "--cheaters", "1", "--outer-steps", "1", "--inner-steps", "10")
	if len(s.Workers) != 2 {
		t.Fatalf("%d workers", len(s.Workers))
	}
	honest, cheater := s.Workers[0], s.Workers[1]
	if honest.Cheater || !cheater.Cheater {
		t.Fatalf("cheater flags %v %v", honest.Cheater, cheater.Cheater)
	}
	if honest.Verdict != "accepted" || honest.Ejected || honest.Reward == "0" || honest.Stake != ledger.Tokens(100).String() {
		t.Errorf("honest worker %+v", honest)
	}
	if cheater.Verdict != "rejected" || !cheater.Invalidated || !cheater.Ejected || cheater.Reward != "0" || cheater.Stake != ledger.Tokens(90).String() {
		t.Errorf("cheater %+v: want rejected, invalidated, ejected, no reward, 90 tokens of stake left", cheater)
	}
	if s.Work.Accepted != 1 || s.Work.Rejected != 1 || s.Work.Invalidated != 1 {
		t.Errorf("work %+v", s.Work)
	}
	if s.RewardsPaid != honest.Reward || s.PoolFundsSpent != honest.Reward {
		t.Errorf("paid %s, spent %s, want the honest worker's %s", s.RewardsPaid, s.PoolFundsSpent, honest.Reward)
	}
}

// checkDevStatusPage reads the researcher's status while the swarm stays
// up: its "dev" section shows the finished demo, its "checkpoints" section
// the published checkpoint.
func checkDevStatusPage(t *testing.T, s devSummary) {
	t.Helper()
	resp, err := http.Get(s.StatusURL + "status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Sections struct {
			Dev         devStatus `json:"dev"`
			Checkpoints []struct {
				CID      string `json:"cid"`
				Complete bool   `json:"complete"`
			} `json:"checkpoints"`
			Pools []struct {
				ID         string `json:"id"`
				Admission  string `json:"admission"`
				Member     bool   `json:"member"`
				Checkpoint string `json:"checkpoint"`
			} `json:"pools"`
		} `json:"sections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Sections.Dev.Phase != "done" || st.Sections.Dev.Summary == nil || st.Sections.Dev.Summary.Checkpoint.CID != s.Checkpoint.CID {
		t.Errorf("status section dev = %+v", st.Sections.Dev)
	}
	if cs := st.Sections.Checkpoints; len(cs) != 1 || cs[0].CID != s.Checkpoint.CID || !cs[0].Complete {
		t.Errorf("status section checkpoints = %+v, want %s complete", cs, s.Checkpoint.CID)
	}
	// The researcher's pool descriptor: invite-only, naming the checkpoint.
	if ps := st.Sections.Pools; len(ps) != 1 || ps[0].ID != s.Pool || !strings.HasPrefix(s.Pool, "demo-") ||
		ps[0].Admission != "invite" || !ps[0].Member || ps[0].Checkpoint != s.Checkpoint.CID {
		t.Errorf("status section pools = %+v, want %s (invite, checkpoint %s)", ps, s.Pool, s.Checkpoint.CID)
	}
}

// runDevSummary runs `openpool dev` with args and returns its summary.
func runDevSummary(ctx context.Context, t *testing.T, args ...string) devSummary {
	t.Helper()
	sumPath := filepath.Join(t.TempDir(), "summary.json")
	var out, errOut strings.Builder
	code := run(ctx, append([]string{"--home", t.TempDir(), "dev", "--summary-json", sumPath}, args...), &out, &errOut)
	if code != exitOK {
		t.Fatalf("dev exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	b, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	var s devSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDevCommandNoChain: without the chain the swarm still publishes,
// trains and checks work; nothing is staked or paid.
func TestDevCommandNoChain(t *testing.T) {
	if testing.Short() {
		t.Skip("dev swarm skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := runDevSummary(ctx, t, "--no-chain", "--nodes", "2", "--outer-steps", "2", "--inner-steps", "10")
	if s.ChainPoolID != 0 || s.RewardsPaid != "" || s.Work.OnChain != 0 {
		t.Errorf("--no-chain summary has chain results: %+v", s)
	}
	if !s.Identical || len(s.StepLoss) != 2 || s.Work.Accepted != 2 {
		t.Errorf("summary %+v", s)
	}
	for i, w := range s.Workers {
		if w.CheckpointCID != s.Checkpoint.CID {
			t.Errorf("worker %d received %q, want %s", i, w.CheckpointCID, s.Checkpoint.CID)
		}
	}
}

// TestDevCommandUsage: bad flags are usage errors (exit 2) before anything
// starts.
func TestDevCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"dev", "--nodes", "1"},
		{"dev", "--sample", "0"},
		{"dev", "--outer-steps", "0"},
		{"dev", "--pool", "bad pool!"},
		{"dev", "--nodes", "2", "--cheaters", "2"},
		{"dev", "--membership", "gossip"},
	} {
		var out, errOut strings.Builder
		if code := run(context.Background(), append([]string{"--home", t.TempDir()}, args...), &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage)\n%s", args, code, exitUsage, errOut.String())
		}
	}
}
