package main

import (
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
)

// devSummary is what `openpool dev` reports at the end (printed, and
// written as JSON with --summary-json).
type devSummary struct {
	Pool        string               `json:"pool"`
	ChainPoolID uint64               `json:"chain_pool_id,omitempty"`
	Checkpoint  devCheckpointSummary `json:"checkpoint"`
	Workers     []devWorkerSummary   `json:"workers"`
	// StepLoss is the workers' mean inner loss of each applied outer step.
	StepLoss    []float64 `json:"step_loss"`
	InitialLoss float64   `json:"initial_loss"` // of the checkpoint, on the whole dataset
	FinalLoss   float64   `json:"final_loss"`   // of the trained weights, on the whole dataset
	Identical   bool      `json:"weights_identical"`
	// AllReduceBytes were sent by all workers; ShardcastBytes received
	// (checkpoint shards) by all members.
	AllReduceBytes  int64          `json:"allreduce_bytes"`
	ShardcastBytes  int64          `json:"shardcast_bytes"`
	Work            devWorkSummary `json:"work"`
	RewardsPaid     string         `json:"rewards_paid_wei,omitempty"`
	PoolFundsSpent  string         `json:"pool_funds_spent_wei,omitempty"`
	DeathrattleSeen int            `json:"deathrattle_seen_by"`
	StatusURL       string         `json:"status_url"`
	Took            string         `json:"took"`
}

type devCheckpointSummary struct {
	CID     string `json:"cid"`
	Version uint64 `json:"version"`
	Bytes   uint64 `json:"bytes"`
	Shards  int    `json:"shards"`
}

type devWorkerSummary struct {
	Peer          string `json:"peer"`
	Address       string `json:"address,omitempty"`
	CheckpointCID string `json:"checkpoint_cid"`
	WeightsSHA256 string `json:"weights_sha256"`
	WorkID        string `json:"work_id"`
	Verdict       string `json:"verdict,omitempty"`
	Cheater       bool   `json:"cheater,omitempty"` // ran another model (--cheaters)
	Invalidated   bool   `json:"invalidated,omitempty"`
	ActiveSeconds uint64 `json:"active_seconds,omitempty"`
	Ejected       bool   `json:"ejected,omitempty"`
	Reward        string `json:"reward_wei,omitempty"`
	Stake         string `json:"stake_wei,omitempty"` // at the end, after any slash
}

type devWorkSummary struct {
	Submitted int `json:"submitted"`
	OnChain   int `json:"on_chain"`
	Sampled   int `json:"sampled"`
	Accepted  int `json:"accepted"`
	Rejected  int `json:"rejected"`
	// Invalidated were rejected and invalidated on chain (the worker
	// ejected, its rewards forfeited, its stake slashed).
	Invalidated int `json:"invalidated"`
}

func (s *devSummary) print(w io.Writer) {
	fmt.Fprintf(w, "\n== summary (%s)\n", s.Took)
	fmt.Fprintf(w, "  checkpoint  v%d %s, %d bytes, reached %d workers through shardcast\n",
		s.Checkpoint.Version, s.Checkpoint.CID, s.Checkpoint.Bytes, len(s.Workers))
	var loss []string
	for _, l := range s.StepLoss {
		loss = append(loss, fmt.Sprintf("%.4f", l))
	}
	fmt.Fprintf(w, "  loss        per outer step %s; full dataset %.4f -> %.4f\n", strings.Join(loss, " "), s.InitialLoss, s.FinalLoss)
	fmt.Fprintf(w, "  bytes moved all-reduce %s, shardcast %s\n", byteSize(s.AllReduceBytes), byteSize(s.ShardcastBytes))
	fmt.Fprintf(w, "  work        %d submitted, %d checked, %d accepted, %d rejected (%d invalidated on chain)\n",
		s.Work.Submitted, s.Work.Sampled, s.Work.Accepted, s.Work.Rejected, s.Work.Invalidated)
	if s.RewardsPaid != "" {
		fmt.Fprintf(w, "  rewards     pool %d paid %s wei in all:\n", s.ChainPoolID, s.RewardsPaid)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  worker\tpeer\taddress\tactive\treward (wei)\ttokens\tstake\twork")
	for i, x := range s.Workers {
		tokens := ""
		if v, ok := new(big.Int).SetString(x.Reward, 10); ok {
			tokens = formatTokens(v)
		}
		active, stake := "", ""
		if x.Reward != "" {
			active = fmt.Sprintf("%ds", x.ActiveSeconds)
		}
		if v, ok := new(big.Int).SetString(x.Stake, 10); ok {
			stake = formatTokens(v)
		}
		work := x.Verdict
		if x.Ejected {
			work += ", ejected"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i, shortPeer(x.Peer), x.Address, active, x.Reward, tokens, stake, work)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  status page %s\n", s.StatusURL)
}

func shortPeer(s string) string {
	if len(s) > 12 {
		return "…" + s[len(s)-8:]
	}
	return s
}
