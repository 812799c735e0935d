package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// stepLine is the --json line of one DiLoCo outer step.
type stepLine struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Pool       string    `json:"pool"`
	Step       uint64    `json:"step"`
	Loss       *float64  `json:"loss,omitempty"`
	Applied    bool      `json:"applied"`
	Group      int       `json:"group"`
	BytesSent  int64     `json:"bytes_sent"`
	TotalBytes int64     `json:"total_bytes"`
	TrainMS    float64   `json:"train_ms,omitempty"` // time in the inner steps (toy trainer)
	RoundMS    float64   `json:"round_ms"`           // time in the all-reduce round
	Adopted    bool      `json:"adopted,omitempty"`  // the worker fetched the pool's outer state first
}

// jsonFloat drops NaN (unknown loss), which JSON cannot carry.
func jsonFloat(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// trainedLine is the --json line that ends training: the SHA-256 of the
// final weights, equal on every worker that finished the same rounds.
type trainedLine struct {
	Time          time.Time `json:"time"`
	Event         string    `json:"event"`
	Pool          string    `json:"pool"`
	Peer          string    `json:"peer"`
	WeightsSHA256 string    `json:"weights_sha256"`
}

type trainOutcome struct {
	weights *tensor.Set
	err     error
}

// eventLine is one line of `openpool join --json`.
type eventLine struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	Pool  string    `json:"pool,omitempty"`
	Peer  string    `json:"peer"`
	State string    `json:"state,omitempty"`
	Self  bool      `json:"self,omitempty"`
	Addrs []string  `json:"addrs,omitempty"`
}

func newJoinCmd(g *globals) *cobra.Command {
	var (
		f       nodeFlags
		tf      trainFlags
		asJSON  bool
		refresh time.Duration
		invite  string
	)
	cmd := &cobra.Command{
		Use:   "join <pool>",
		Short: "Join a pool and show its live member table",
		Long: "Join a pool: find its members through the bootstrap nodes and the DHT, gossip heartbeats,\n" +
			"and show the live member table. SIGINT/SIGTERM leave cleanly with a deathrattle.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool := args[0]
			if err := p2p.ValidatePoolID(pool); err != nil {
				return usageError{err}
			}
			if err := tf.validate(); err != nil {
				return err
			}
			if len(f.bootstrap) == 0 {
				return usagef("join needs at least one --bootstrap address (from `openpool bootstrap`)")
			}
			var joinOpts []node.JoinOption
			if invite != "" {
				tok, err := readInvite(g, invite)
				if err != nil {
					return err
				}
				joinOpts = append(joinOpts, node.WithInvite(tok))
			}
			ctx := cmd.Context()
			n, cleanup, err := startNode(ctx, g, &f)
			if err != nil {
				return err
			}
			defer cleanup()
			defer n.Close()
			enc := json.NewEncoder(g.stdout)
			var addrs []string
			for _, a := range n.Addrs() {
				addrs = append(addrs, a.String())
			}
			if asJSON {
				_ = enc.Encode(eventLine{Time: time.Now(), Event: "started", Peer: n.ID().String(), Addrs: addrs})
			} else {
				fmt.Fprintf(g.stdout, "peer %s (identity %s)\nstatus API http://%s/status\n", n.ID(), n.IdentityPath(), n.StatusAddr())
			}
			if err := joinPool(ctx, n, pool, joinOpts); err != nil {
				return err
			}
			sub, err := n.Subscribe(pool, 1024)
			if err != nil {
				return err
			}
			defer sub.Close()
			// The DiLoCo outer loop, when a trainer is set, runs beside the
			// member table and reports each outer step.
			steps := make(chan stepReport, 16)
			var trainDone chan trainOutcome // nil without a trainer: never ready in the select below
			if tf.enabled() {
				trainDone = make(chan trainOutcome, 1)
				tctx, stopTrain := context.WithCancel(ctx)
				finished := make(chan struct{})
				defer func() { stopTrain(); <-finished }()
				go func() {
					defer close(finished)
					w, err := runTraining(tctx, g, n, pool, &tf, func(p stepReport) {
						select {
						case steps <- p:
						default: // the display is behind; the step is in the next line's total
						}
					})
					trainDone <- trainOutcome{w, err}
				}()
			}
			tty := false
			if fd, ok := g.stdout.(*os.File); ok {
				tty = term.IsTerminal(int(fd.Fd()))
			}
			tick := time.NewTicker(refresh)
			defer tick.Stop()
			var log []string
			for {
				select {
				case <-ctx.Done():
					// Close (deferred) sends the deathrattle.
					if asJSON {
						_ = enc.Encode(eventLine{Time: time.Now(), Event: "leaving", Pool: pool, Peer: n.ID().String()})
					}
					return nil
				case ev, ok := <-sub.C:
					if !ok {
						return nil
					}
					line := eventLine{Time: ev.Time, Event: ev.Type.String(), Pool: ev.Pool, Peer: ev.Member.ID.String(), State: ev.Member.State.String(), Self: ev.Member.Self}
					switch {
					case asJSON:
						_ = enc.Encode(line)
					case tty:
						log = append(log, fmt.Sprintf("%s  %-7s %s", line.Time.Format("15:04:05.000"), line.Event, line.Peer))
						if len(log) > 10 {
							log = log[len(log)-10:]
						}
					default:
						fmt.Fprintf(g.stdout, "%s  %-7s %s\n", line.Time.Format("15:04:05.000"), line.Event, line.Peer)
					}
				case p := <-steps:
					if asJSON {
						_ = enc.Encode(stepLine{Time: time.Now(), Event: "outer_step", Pool: pool, Step: p.Step, Loss: jsonFloat(p.Loss),
							Applied: p.Applied, Group: p.Group, BytesSent: p.BytesSent, TotalBytes: p.TotalBytes,
							TrainMS: ms(p.Train), RoundMS: ms(p.Round), Adopted: p.Adopted})
					} else {
						line := formatProgress(p.Progress)
						if tty {
							log = append(log, line)
						} else {
							fmt.Fprintln(g.stdout, line)
						}
					}
				case res := <-trainDone:
					trainDone = nil
					if ctx.Err() != nil {
						continue // stopping anyway
					}
					if res.err != nil {
						return fmt.Errorf("training: %w", res.err)
					}
					digest := ""
					if res.weights != nil {
						digest = weightsDigest(res.weights)
					}
					if asJSON {
						_ = enc.Encode(trainedLine{Time: time.Now(), Event: "trained", Pool: pool, Peer: n.ID().String(), WeightsSHA256: digest})
					}
					fmt.Fprintf(g.stderr, "training finished (weights sha256 %s); leaving the pool\n", digest)
					return nil
				case now := <-tick.C:
					if asJSON {
						continue
					}
					if tty {
						fmt.Fprint(g.stdout, "\033[H\033[2J")
					}
					printMembers(g.stdout, pool, n.Members(pool), now)
					for _, l := range log {
						fmt.Fprintln(g.stdout, l)
					}
				}
			}
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"})
	tf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per membership event instead of the table")
	cmd.Flags().DurationVar(&refresh, "refresh", 2*time.Second, "how often the member table is redrawn")
	cmd.Flags().StringVar(&invite, "invite", "", "owner-signed invite to an invite-only pool (text from `openpool pool invite`, or a file)")
	return cmd
}
