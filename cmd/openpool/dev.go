package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
)

// devSwarm is the local swarm of `openpool dev`: one bootstrap node and N
// members on loopback, all in this process.
type devSwarm struct {
	boot  *node.Node
	nodes []*node.Node
}

func (s *devSwarm) close() {
	for _, n := range s.nodes {
		_ = n.Close()
	}
	if s.boot != nil {
		_ = s.boot.Close()
	}
}

func newDevCmd(g *globals) *cobra.Command {
	var (
		nodes     int
		pool      string
		heartbeat time.Duration
		stay      time.Duration
		timeout   time.Duration

		innerSteps int
		outerSteps uint64
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local swarm on loopback: a bootstrap node and N nodes joining a demo pool",
		Long: "Run a complete local swarm in this process on embedded defaults: a bootstrap node and N\n" +
			"nodes on 127.0.0.1 that join a demo pool. It prints the membership converging, shows a\n" +
			"clean exit reaching every peer through its deathrattle, and stops.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 2 || nodes > 200 {
				return usagef("--nodes %d: use 2 to 200", nodes)
			}
			if err := p2p.ValidatePoolID(pool); err != nil {
				return usageError{err}
			}
			if heartbeat < 10*time.Millisecond {
				return usagef("--heartbeat %v is too short (minimum 10ms)", heartbeat)
			}
			ctx := cmd.Context()
			log := g.logger()
			quiet := slog.New(slog.DiscardHandler)
			loop := ma.StringCast("/ip4/127.0.0.1/tcp/0")
			common := []node.Option{
				node.WithListenAddrs(loop), node.WithNAT(false), node.WithHeartbeatInterval(heartbeat),
				node.WithLogger(quiet), node.WithUnlimitedResources(),
			}
			var s devSwarm
			defer s.close()
			var err error
			s.boot, err = node.New(ctx, slices.Concat(common, []node.Option{node.AsBootstrapNode()})...)
			if err != nil {
				return fmt.Errorf("dev: bootstrap node: %w", err)
			}
			fmt.Fprintf(g.stdout, "bootstrap node %s\n", s.boot.Addrs()[0])
			bootInfo := peer.AddrInfo{ID: s.boot.ID(), Addrs: s.boot.Host().Addrs()}
			start := time.Now()
			for i := 0; i < nodes; i++ {
				opts := slices.Concat(common, []node.Option{node.WithBootstrapPeers(bootInfo)})
				if i == 0 {
					opts = append(opts, node.WithStatusAddr("127.0.0.1:0"))
				}
				n, err := node.New(ctx, opts...)
				if err != nil {
					return fmt.Errorf("dev: node %d: %w", i, err)
				}
				s.nodes = append(s.nodes, n)
				if err := n.Join(ctx, pool); err != nil {
					return fmt.Errorf("dev: node %d: %w", i, err)
				}
				fmt.Fprintf(g.stdout, "node %d  %s joined %s\n", i, n.ID(), pool)
			}
			fmt.Fprintf(g.stdout, "status API of node 0: http://%s/status\n\n", s.nodes[0].StatusAddr())

			if err := s.converge(ctx, g, pool, nodes, start, timeout); err != nil {
				return err
			}
			printMembers(g.stdout, pool, s.nodes[0].Members(pool), time.Now())
			if outerSteps > 0 {
				if err := s.train(ctx, g, pool, innerSteps, outerSteps, quiet); err != nil {
					return err
				}
			}

			// A clean exit: the last node leaves and every other sees its deathrattle.
			leaver := s.nodes[len(s.nodes)-1]
			subs := make([]*p2p.Subscription, len(s.nodes)-1)
			for i := range subs {
				if subs[i], err = s.nodes[i].Subscribe(pool, 256); err != nil {
					return err
				}
				defer subs[i].Close()
			}
			fmt.Fprintf(g.stdout, "\nnode %d leaves the pool cleanly...\n", len(s.nodes)-1)
			leaveAt := time.Now()
			if err := leaver.Leave(ctx, pool); err != nil {
				return err
			}
			var slowest time.Duration
			for i, sub := range subs {
				d, err := waitForEvent(ctx, sub, p2p.EventLeave, leaver.ID(), leaveAt, 10*heartbeat)
				if err != nil {
					return fmt.Errorf("dev: node %d: %w", i, err)
				}
				slowest = max(slowest, d)
			}
			fmt.Fprintf(g.stdout, "every node saw the deathrattle within %v (%.2fx the heartbeat interval)\n",
				slowest.Round(time.Millisecond), float64(slowest)/float64(heartbeat))
			log.Debug("dev swarm done")
			if stay > 0 {
				fmt.Fprintf(g.stdout, "\nswarm stays up for %v (Ctrl-C to stop)\n", stay)
				select {
				case <-ctx.Done():
				case <-time.After(stay):
				}
			}
			fmt.Fprintln(g.stdout, "\nstopping the swarm")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&nodes, "nodes", 4, "number of nodes besides the bootstrap node")
	fl.StringVar(&pool, "pool", "demo", "pool the nodes join")
	fl.DurationVar(&heartbeat, "heartbeat", 500*time.Millisecond, "membership heartbeat interval")
	fl.DurationVar(&stay, "stay", 0, "keep the swarm running this long after the demo (0: stop at once)")
	fl.DurationVar(&timeout, "timeout", 2*time.Minute, "give up if the membership has not converged by then")
	fl.IntVar(&innerSteps, "inner-steps", 50, "DiLoCo inner steps H of the toy model")
	fl.Uint64Var(&outerSteps, "outer-steps", 5, "DiLoCo outer steps of the toy model (0: skip training)")
	return cmd
}

// train runs DiLoCo with the toy model on every node of the swarm, prints
// each outer step as node 0 sees it, and checks that every node ends with
// bit-identical weights.
func (s *devSwarm) train(ctx context.Context, g *globals, pool string, h int, steps uint64, log *slog.Logger) error {
	fmt.Fprintf(g.stdout, "\nDiLoCo on the toy model: %d workers, H=%d inner steps, %d outer steps, int8 ring all-reduce\n", len(s.nodes), h, steps)
	finals := make([]*tensor.Set, len(s.nodes))
	errs := make([]error, len(s.nodes))
	var wg sync.WaitGroup
	for i, n := range s.nodes {
		tr, err := toyTrainer(pool, n.ID())
		if err != nil {
			return err
		}
		progress := func(diloco.Progress) {}
		if i == 0 {
			progress = func(p diloco.Progress) { fmt.Fprintln(g.stdout, formatProgress(p)) }
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			finals[i], errs[i] = runPoolWorker(ctx, n, pool, tr, log, h, steps, "", progress)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("dev: worker %d: %w", i, err)
		}
	}
	ref := finals[0].Flatten(nil)
	for i, f := range finals {
		for k, x := range f.Flatten(nil) {
			if math.Float32bits(x) != math.Float32bits(ref[k]) {
				return fmt.Errorf("dev: worker %d's weights differ from worker 0's at value %d", i, k)
			}
		}
	}
	fmt.Fprintf(g.stdout, "all %d workers hold bit-identical weights (%d values)\n", len(finals), len(ref))
	return nil
}

// converge prints the membership converging until every node sees every
// other alive.
func (s *devSwarm) converge(ctx context.Context, g *globals, pool string, want int, start time.Time, timeout time.Duration) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		lo, hi, done := want, 0, 0
		for _, n := range s.nodes {
			c := 0
			for _, m := range n.Members(pool) {
				if m.State == p2p.StateAlive {
					c++
				}
			}
			lo, hi = min(lo, c), max(hi, c)
			if c == want {
				done++
			}
		}
		line := fmt.Sprintf("%d/%d nodes see all %d members (fewest seen %d, most %d)", done, want, want, lo, hi)
		if line != last {
			fmt.Fprintf(g.stdout, "t=%-6s %s\n", time.Since(start).Round(10*time.Millisecond), line)
			last = line
		}
		if done == want {
			fmt.Fprintf(g.stdout, "membership converged in %v\n\n", time.Since(start).Round(10*time.Millisecond))
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("dev: membership did not converge within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// waitForEvent waits for an event of type typ about id and returns how long
// after since it arrived.
func waitForEvent(ctx context.Context, sub *p2p.Subscription, typ p2p.EventType, id peer.ID, since time.Time, timeout time.Duration) (time.Duration, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return 0, fmt.Errorf("membership closed")
			}
			if ev.Type == typ && ev.Member.ID == id {
				return ev.Time.Sub(since), nil
			}
		case <-timer.C:
			return 0, fmt.Errorf("no %s event for %s within %v", typ, id, timeout)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
