package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/tensor"
	"github.com/openpool/openpool/ledger"
	"github.com/openpool/openpool/node"
	"github.com/openpool/openpool/p2p"
	"github.com/openpool/openpool/toploc"
)

// devOptions are the flags of `openpool dev`.
type devOptions struct {
	nodes      int
	pool       string
	heartbeat  time.Duration
	membership string
	mode       p2p.MembershipMode // parsed from membership
	stay       time.Duration
	timeout    time.Duration
	innerSteps int
	outerSteps uint64
	noChain    bool
	cheaters   int
	sample     float64
	summary    string
}

// devSwarm is the local swarm of `openpool dev`, all in this process: a
// bootstrap node, the researcher (pool owner), a validator and N workers on
// loopback, and the dev chain.
type devSwarm struct {
	opt   devOptions
	g     *globals
	dir   string // temporary: every node's data directory
	quiet *slog.Logger

	chain      *devChain // nil with --no-chain
	boot       *node.Node
	researcher *node.Node
	validator  *node.Node
	workers    []*node.Node
	inference  []*devInference   // per worker
	held       []node.Checkpoint // per worker: the checkpoint it fetched

	t0       time.Time // start of the demo
	statusMu sync.Mutex
	status   devStatus
	verdicts *node.WorkVerdictSubscription
}

func (s *devSwarm) members() []*node.Node {
	return append([]*node.Node{s.researcher, s.validator}, s.workers...)
}

func (s *devSwarm) close() {
	if s.verdicts != nil {
		s.verdicts.Close()
	}
	var wg sync.WaitGroup
	for _, n := range append(s.members(), s.boot) {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = n.Close() }()
		}
	}
	wg.Wait()
	if s.chain != nil {
		s.chain.close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// phase prints the header line of a phase and shows it on the status page.
func (s *devSwarm) phase(format string, args ...any) {
	fmt.Fprintf(s.g.stdout, "\n== %s  (t=%v)\n", fmt.Sprintf(format, args...), time.Since(s.t0).Round(100*time.Millisecond))
	s.statusMu.Lock()
	s.status.Phase = fmt.Sprintf(format, args...)
	s.statusMu.Unlock()
}

// devStatus is the "dev" section of the researcher's status page.
type devStatus struct {
	Phase   string      `json:"phase"`
	Summary *devSummary `json:"summary,omitempty"` // once the demo is over
}

func (s *devSwarm) statusSection() any {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	return s.status
}

func (s *devSwarm) printf(format string, args ...any) {
	fmt.Fprintf(s.g.stdout, "  "+format+"\n", args...)
}

func newDevCmd(g *globals) *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a complete local swarm: dev chain, researcher, workers, validator, training and rewards",
		Long: "Run a complete local swarm in this process on embedded defaults, on 127.0.0.1 only:\n" +
			"a dev chain with the ledger contracts deployed, a bootstrap node, a researcher who publishes\n" +
			"the first checkpoint through shardcast and creates the pool on chain, N workers that stake,\n" +
			"are invited, join and receive the checkpoint, train the toy model through DiLoCo outer steps\n" +
			"(int8 ring all-reduce) to bit-identical weights, submit TOPLOC-proved inference work that a\n" +
			"validator checks, leave, and are paid by active time. It prints a summary and stops\n" +
			"(--stay keeps it up, with the researcher's status page). Every node's keys (libp2p and\n" +
			"Ethereum, light scrypt) and checkpoint store live in a temporary directory removed at exit;\n" +
			"--home is not used.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.nodes < 2 || o.nodes > 64 {
				return usagef("--nodes %d: use 2 to 64 workers", o.nodes)
			}
			if err := p2p.ValidatePoolSlug(o.pool); err != nil {
				return usageError{err}
			}
			if o.heartbeat < 10*time.Millisecond {
				return usagef("--heartbeat %v is too short (minimum 10ms)", o.heartbeat)
			}
			var err error
			if o.mode, err = parseMembershipFlag(o.membership); err != nil {
				return err
			}
			if o.innerSteps < 1 || o.outerSteps < 1 {
				return usagef("--inner-steps and --outer-steps must be at least 1")
			}
			if o.cheaters < 0 || o.cheaters >= o.nodes {
				return usagef("--cheaters %d: use 0 to %d (fewer than --nodes)", o.cheaters, o.nodes-1)
			}
			if o.sample <= 0 || o.sample > 1 {
				return usagef("--sample %v: want a fraction in (0, 1]", o.sample)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			// Node logs would drown the phase lines: they show with --log-level debug.
			s := &devSwarm{opt: o, g: g, quiet: slog.New(slog.DiscardHandler)}
			if g.logLevel == "debug" {
				s.quiet = g.logger()
			}
			defer s.close()
			sum, err := s.run(ctx)
			if err != nil {
				return fmt.Errorf("dev: %w", err)
			}
			sum.print(g.stdout)
			if o.summary != "" {
				b, err := json.MarshalIndent(sum, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(o.summary, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("dev: summary: %w", err)
				}
			}
			if o.stay > 0 {
				fmt.Fprintf(g.stdout, "\nswarm stays up for %v (Ctrl-C to stop); status page %s\n", o.stay, sum.StatusURL)
				select {
				case <-cmd.Context().Done():
				case <-time.After(o.stay):
				}
			}
			fmt.Fprintln(g.stdout, "\nstopping the swarm")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.nodes, "nodes", 4, "number of workers")
	fl.StringVar(&o.pool, "pool", "demo", "pool slug: the pool ID is <slug>-<16 chars> from the researcher's key")
	fl.DurationVar(&o.heartbeat, "heartbeat", 500*time.Millisecond, "membership heartbeat interval")
	fl.StringVar(&o.membership, "membership", "default", membershipFlagHelp)
	fl.DurationVar(&o.stay, "stay", 0, "keep the swarm running this long after the demo (0: stop at once)")
	fl.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up if the demo has not finished by then")
	fl.IntVar(&o.innerSteps, "inner-steps", 50, "DiLoCo inner steps H of the toy model")
	fl.Uint64Var(&o.outerSteps, "outer-steps", 5, "DiLoCo outer steps of the toy model")
	fl.BoolVar(&o.noChain, "no-chain", false, "run without the dev chain (no stake, on-chain pool, work records or rewards)")
	fl.Float64Var(&o.sample, "sample", 1, "fraction of work submissions the validator checks")
	fl.IntVar(&o.cheaters, "cheaters", 0, "this many workers (the last ones) prove inference of another model than the checkpoint's")
	fl.StringVar(&o.summary, "summary-json", "", "also write the summary as JSON to this file")
	return cmd
}

// run runs every phase and returns the summary.
func (s *devSwarm) run(ctx context.Context) (*devSummary, error) {
	o := s.opt
	t0 := time.Now()
	s.t0 = t0
	sum := &devSummary{Pool: o.pool, Workers: make([]devWorkerSummary, o.nodes)}
	var err error
	if s.dir, err = os.MkdirTemp("", "openpool-dev-"); err != nil {
		return nil, err
	}

	// Identities: a libp2p key and an Ethereum key (light scrypt) per node,
	// side by side in its data directory.
	type identity struct {
		dir string
		p2p crypto.PrivKey
		eth *ecdsa.PrivateKey
	}
	ident := func(name string) (identity, error) {
		dir := filepath.Join(s.dir, name)
		k, _, err := p2p.LoadOrCreateIdentity(dir)
		if err != nil {
			return identity{}, err
		}
		e, _, err := ledger.LoadOrCreateKey(ledger.KeystoreDir(dir), devPassphrase, ledger.WithLightScrypt())
		return identity{dir, k, e}, err
	}
	researcher, err := ident("researcher")
	if err != nil {
		return nil, err
	}
	// The pool's ID derives from the researcher's key (see openpool pool).
	if o.pool, err = p2p.DerivePoolID(researcher.p2p.GetPublic(), o.pool); err != nil {
		return nil, err
	}
	s.opt.pool, sum.Pool = o.pool, o.pool
	validator, err := ident("validator")
	if err != nil {
		return nil, err
	}
	workers := make([]identity, o.nodes)
	workerKeys := make([]*ecdsa.PrivateKey, o.nodes)
	for i := range workers {
		if workers[i], err = ident(fmt.Sprintf("worker-%d", i)); err != nil {
			return nil, err
		}
		workerKeys[i] = workers[i].eth
	}

	if !o.noChain {
		s.phase("dev chain")
		if s.chain, err = startDevChain(ctx, researcher.eth, validator.eth, workerKeys); err != nil {
			return nil, err
		}
		dep := s.chain.researcher.Deployment()
		s.printf("chain %d at %s, contracts deployed at block %d by the researcher %s", dep.ChainID, s.chain.chain.URL(), dep.Block, s.chain.researcher.Address().Hex())
		s.printf("registry %s  pools %s  validator %s", dep.Registry.Hex(), dep.Pools.Hex(), s.chain.validator.Address().Hex())
	}

	s.phase("peer-to-peer swarm on loopback")
	owner := researcher.p2p.GetPublic()
	common := []node.Option{
		node.WithListenAddrs(ma.StringCast("/ip4/127.0.0.1/tcp/0")), node.WithNAT(false),
		node.WithHeartbeatInterval(o.heartbeat), node.WithMembershipMode(o.mode), node.WithLogger(s.quiet), node.WithUnlimitedResources(),
		node.WithPoolOwner(o.pool, owner), node.WithCheckpointAnnounceInterval(time.Second),
		node.WithHardware(p2p.Hardware{CPUCores: 1}),
	}
	if s.boot, err = node.New(ctx, slices.Concat(common, []node.Option{node.AsBootstrapNode()})...); err != nil {
		return nil, fmt.Errorf("bootstrap node: %w", err)
	}
	s.printf("bootstrap node %s", s.boot.Addrs()[0])
	common = append(common, node.WithBootstrapPeers(peer.AddrInfo{ID: s.boot.ID(), Addrs: s.boot.Host().Addrs()}))
	s.researcher, err = node.New(ctx, slices.Concat(common, []node.Option{node.WithDataDir(researcher.dir), node.WithStatusAddr("127.0.0.1:0")})...)
	if err != nil {
		return nil, fmt.Errorf("researcher node: %w", err)
	}
	sum.StatusURL = fmt.Sprintf("http://%s/", s.researcher.StatusAddr())
	s.researcher.SetStatusSection("dev", s.statusSection)
	s.printf("researcher %s  status page %s", s.researcher.ID(), sum.StatusURL)
	valInf := newDevInference(nil, o.pool, filepath.Join(validator.dir, "assembled"))
	vopts := []node.Option{node.WithDataDir(validator.dir), node.WithWorkValidator(o.sample, valInf.recompute), node.WithWorkSampleSeed(devSampleSeed)}
	if s.chain != nil {
		vopts = append(vopts, node.WithWorkLedger(workLedger{chain: s.chain, c: s.chain.validator}))
	}
	if s.validator, err = node.New(ctx, slices.Concat(common, vopts)...); err != nil {
		return nil, fmt.Errorf("validator node: %w", err)
	}
	valInf.n = s.validator
	s.verdicts = s.validator.SubscribeWorkVerdicts(4 * o.nodes)
	s.printf("validator  %s  checks %.0f%% of work submissions", s.validator.ID(), 100*o.sample)
	// The researcher's pool descriptor: invite-only with a chain (the
	// on-chain invites admit), open without one.
	admission := p2p.AdmitOpen
	if s.chain != nil {
		admission = p2p.AdmitInvite
	}
	desc, err := s.researcher.CreatePool(ctx, strings.TrimSuffix(o.pool, o.pool[strings.LastIndexByte(o.pool, '-'):]), p2p.PoolDescriptor{
		Name: "openpool dev demo", Description: "DiLoCo on the built-in toy model",
		Model: "openpool toy MLP", Data: "synthetic, split across workers",
		Params:      p2p.PoolParams{InnerSteps: uint64(o.innerSteps), OuterLR: diloco.DefaultOuterLR, OuterMomentum: diloco.DefaultOuterMomentum, Quantization: p2p.QuantInt8},
		MinHardware: p2p.MinHardware{CPUCores: 1},
		Admission:   admission,
	})
	if err != nil {
		return nil, err
	}
	s.printf("pool %s: descriptor signed by the researcher, in the DHT and on the pools topic (%s)", desc.ID, desc.Admission)
	if err := s.researcher.Join(ctx, o.pool); err != nil {
		return nil, err
	}
	var valJoin []node.JoinOption
	if admission == p2p.AdmitInvite {
		inv, err := s.researcher.InvitePeer(o.pool, s.validator.ID(), time.Hour)
		if err != nil {
			return nil, err
		}
		tok, err := inv.MarshalBinary()
		if err != nil {
			return nil, err
		}
		valJoin = append(valJoin, node.WithInvite(tok))
	}
	if err := joinPool(ctx, s.validator, o.pool, valJoin); err != nil {
		return nil, err
	}
	for i, w := range workers {
		wopts := []node.Option{node.WithDataDir(w.dir)}
		if s.chain != nil {
			wopts = append(wopts, node.WithWorkLedger(workLedger{chain: s.chain, c: s.chain.workers[i]}))
		}
		n, err := node.New(ctx, slices.Concat(common, wopts)...)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		s.workers = append(s.workers, n)
		inf := newDevInference(n, o.pool, filepath.Join(w.dir, "assembled"))
		inf.cheat = i >= o.nodes-o.cheaters
		s.inference = append(s.inference, inf)
		sum.Workers[i].Peer, sum.Workers[i].Cheater = n.ID().String(), inf.cheat
	}
	s.printf("%d workers started", len(s.workers))
	if o.cheaters > 0 {
		s.printf("the last %d will cheat: their inference runs another model than the checkpoint's", o.cheaters)
	}

	s.phase("researcher publishes the first checkpoint")
	start, err := writeInitialCheckpoint(filepath.Join(researcher.dir, "initial"), o.pool)
	if err != nil {
		return nil, err
	}
	ckptCID, m, err := s.researcher.PublishCheckpoint(ctx, o.pool, filepath.Join(researcher.dir, "initial"))
	if err != nil {
		return nil, err
	}
	sum.Checkpoint = devCheckpointSummary{CID: ckptCID.String(), Version: m.Version, Bytes: m.TotalSize(), Shards: len(m.Shards)}
	sum.InitialLoss = toyEvalLoss(o.pool, start)
	s.printf("version %d  %s  %d bytes in %d shard(s), signed by the researcher; loss on the full dataset %.4f",
		m.Version, ckptCID, m.TotalSize(), len(m.Shards), sum.InitialLoss)

	if s.chain != nil {
		s.phase("researcher creates the pool on chain")
		if err := s.chain.createPool(ctx, ckptCID.String()); err != nil {
			return nil, err
		}
		sum.ChainPoolID = s.chain.poolID
		s.printf("pool %d  metadata %s  funded %s tokens  reward %s wei per node-second",
			s.chain.poolID, ckptCID, formatTokens(devPoolFunds()), devRewardRate)
	}
	// The descriptor names the checkpoint and the on-chain pool, so members
	// can check the contract's invites without asking the chain.
	desc, err = s.researcher.UpdatePool(ctx, o.pool, func(d *p2p.PoolDescriptor) error {
		d.Checkpoint = ckptCID
		if s.chain != nil {
			dep := s.chain.researcher.Deployment()
			d.ChainID, d.ChainPoolID, d.ChainDomainID = dep.ChainID, s.chain.poolID, dep.DomainID
			d.ChainContract, d.ChainOwner = dep.Pools, s.chain.researcher.Address()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.printf("pool %s: descriptor sequence %d names checkpoint %s", desc.ID, desc.Seq, ckptCID)

	s.phase("workers join")
	if err := s.admitWorkers(ctx, sum); err != nil {
		return nil, err
	}
	if err := s.converge(ctx, t0); err != nil {
		return nil, err
	}

	s.phase("DiLoCo: %d workers, H=%d inner steps, %d outer steps, int8 ring all-reduce", o.nodes, o.innerSteps, o.outerSteps)
	// Every worker starts from the weights in the checkpoint it fetched.
	starts := make([]*tensor.Set, len(s.workers))
	for i, n := range s.workers {
		if starts[i], err = readCheckpointWeights(ctx, n, o.pool, s.held[i], s.inference[i].dir); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		if weightsDigest(starts[i]) != weightsDigest(start) {
			return nil, fmt.Errorf("worker %d: the checkpoint's weights are not the researcher's", i)
		}
	}
	tr, err := trainWorkers(ctx, s.g, o.pool, s.workers, starts, m.Version, o.innerSteps, o.outerSteps, s.quiet)
	if err != nil {
		return nil, err
	}
	sum.StepLoss, sum.AllReduceBytes = tr.StepLoss, tr.AllReduceBytes
	for i, f := range tr.Finals {
		sum.Workers[i].WeightsSHA256 = weightsDigest(f)
	}
	sum.FinalLoss = toyEvalLoss(o.pool, tr.Finals[0])
	sum.Identical = true
	for _, w := range sum.Workers {
		sum.Identical = sum.Identical && w.WeightsSHA256 == sum.Workers[0].WeightsSHA256
	}
	if !sum.Identical {
		return nil, errors.New("the workers' weights differ after training")
	}
	s.printf("all %d workers hold bit-identical weights; loss on the full dataset %.4f -> %.4f", o.nodes, sum.InitialLoss, sum.FinalLoss)

	s.phase("work: TOPLOC-proved inference, checked by the validator")
	if err := s.submitWork(ctx, sum, m.Version); err != nil {
		return nil, err
	}

	if s.chain != nil {
		s.phase("workers leave; rewards by active time")
		rewards, spent, err := s.chain.settle(ctx)
		if err != nil {
			return nil, err
		}
		paid := new(big.Int)
		for i, r := range rewards {
			w := &sum.Workers[i]
			w.ActiveSeconds, w.Reward, w.Ejected, w.Stake = r.ActiveSeconds, r.Claimed.String(), r.Ejected, r.Staked.String()
			paid.Add(paid, r.Claimed)
			if r.Claimed.Cmp(r.Expected) != 0 {
				return nil, fmt.Errorf("worker %d claimed %s wei, want %s (rate × %d s)", i, r.Claimed, r.Expected, r.ActiveSeconds)
			}
		}
		sum.RewardsPaid, sum.PoolFundsSpent = paid.String(), spent.String()
		if paid.Cmp(spent) != 0 {
			return nil, fmt.Errorf("workers claimed %s wei but the pool's funds fell by %s", paid, spent)
		}
		s.printf("the workers left the pool and claimed rate × active time (ejected ones forfeit theirs); the pool paid %s wei", spent)
	}

	s.phase("a worker leaves the swarm cleanly")
	if err := s.deathrattle(ctx, sum); err != nil {
		return nil, err
	}
	for _, n := range s.members() {
		if st, err := n.CheckpointStats(o.pool); err == nil {
			sum.ShardcastBytes += st.BytesFetched
		}
	}
	sum.Took = time.Since(t0).Round(10 * time.Millisecond).String()
	s.statusMu.Lock()
	s.status.Phase, s.status.Summary = "done", sum
	s.statusMu.Unlock()
	return sum, nil
}

// devSampleSeed picks the submissions the validator checks. A real
// deployment fixes it only after the submission deadline (see
// node.WithWorkSampleSeed); in dev the workers never see it.
var devSampleSeed = []byte("openpool dev validator seed")

// admitWorkers takes each worker on chain (register, stake, invite, join),
// then into the pool's swarm, and waits until it holds the checkpoint whose
// CID the pool's on-chain metadata names.
func (s *devSwarm) admitWorkers(ctx context.Context, sum *devSummary) error {
	o := s.opt
	want, err := cid.Decode(sum.Checkpoint.CID)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	errs := make([]error, len(s.workers))
	s.held = make([]node.Checkpoint, len(s.workers))
	var wg sync.WaitGroup
	for i, n := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			expect := want // without a chain, the researcher says which
			var line []string
			var joinOpts []node.JoinOption
			if s.chain != nil {
				inv, err := s.chain.admit(ctx, i, "toy cpu")
				if err != nil {
					errs[i] = fmt.Errorf("worker %d on chain: %w", i, err)
					return
				}
				// The same invite, bound to the worker's peer ID, admits it
				// to the invite-only pool in the swarm.
				tok, err := ledger.NewAdmissionToken(inv, s.chain.workerKeys[i], n.ID())
				if err != nil {
					errs[i] = fmt.Errorf("worker %d: %w", i, err)
					return
				}
				joinOpts = append(joinOpts, node.WithInvite(tok))
				// The worker learns the checkpoint from the pool's record on chain.
				p, err := s.chain.workers[i].Pool(ctx, s.chain.poolID)
				if err != nil {
					errs[i] = err
					return
				}
				if expect, err = cid.Decode(p.MetadataCID); err != nil {
					errs[i] = fmt.Errorf("worker %d: pool metadata %q: %w", i, p.MetadataCID, err)
					return
				}
				line = append(line, fmt.Sprintf("%s registered, staked, invited, joined pool %d on chain;", s.chain.workers[i].Address().Hex(), s.chain.poolID))
				mu.Lock()
				sum.Workers[i].Address = s.chain.workers[i].Address().Hex()
				mu.Unlock()
			}
			if err := joinPool(ctx, n, o.pool, joinOpts); err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
				return
			}
			cp, err := n.FetchCheckpoint(ctx, o.pool, expect)
			if err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
				return
			}
			_ = n.SetProgress(o.pool, 0, cp.Version) // heartbeats carry the version held
			mu.Lock()
			sum.Workers[i].CheckpointCID = cp.CID.String()
			s.held[i] = cp
			mu.Unlock()
			line = append(line, fmt.Sprintf("checkpoint v%d received in %v", cp.Version, time.Since(t).Round(time.Millisecond)))
			s.printf("worker %d %s", i, strings.Join(line, " "))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// converge waits until every member sees every other alive.
func (s *devSwarm) converge(ctx context.Context, t0 time.Time) error {
	nodes := s.members()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		done := 0
		for _, n := range nodes {
			c := 0
			for _, m := range n.Members(s.opt.pool) {
				if m.State == p2p.StateAlive {
					c++
				}
			}
			if c == len(nodes) {
				done++
			}
		}
		if done == len(nodes) {
			s.printf("membership converged: %d members (researcher, validator, %d workers) see each other, t=%v",
				len(nodes), len(s.workers), time.Since(t0).Round(10*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("membership: %d of %d members see all: %w", done, len(nodes), ctx.Err())
		case <-tick.C:
		}
	}
}

// submitWork has every worker run and prove one inference on the
// checkpoint and submit it (recorded on chain), then waits for the
// validator's verdicts on the sampled submissions.
func (s *devSwarm) submitWork(ctx context.Context, sum *devSummary, version uint64) error {
	subs := make([]*node.WorkSubmission, len(s.workers))
	errs := make([]error, len(s.workers))
	var wg sync.WaitGroup
	for i, n := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			input := fmt.Appendf(nil, "%s/task/%s", s.opt.pool, n.ID())
			w, err := s.inference[i].work(ctx, version, s.opt.outerSteps, input)
			if err == nil {
				subs[i], err = n.SubmitWork(ctx, s.opt.pool, w)
			}
			if err != nil {
				errs[i] = fmt.Errorf("worker %d: work: %w", i, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sampled := map[node.WorkID]int{}
	for i, sub := range subs {
		id := sub.ID()
		sum.Workers[i].WorkID = id.String()
		sum.Work.Submitted++
		if toploc.Sampled(devSampleSeed, id[:], s.opt.sample) {
			sampled[id] = i
		}
		if s.chain != nil {
			rec, err := s.chain.researcher.Work(ctx, s.chain.poolID, [32]byte(id))
			if err != nil {
				return err
			}
			if rec.Node.Hex() != sum.Workers[i].Address {
				return fmt.Errorf("worker %d: work %s not recorded on chain", i, id)
			}
			sum.Work.OnChain++
		}
	}
	sum.Work.Sampled = len(sampled)
	for len(sampled) > 0 {
		select {
		case v, ok := <-s.verdicts.C:
			if !ok {
				return errors.New("validator stopped")
			}
			i, mine := sampled[v.ID]
			if !mine {
				continue
			}
			delete(sampled, v.ID)
			sum.Workers[i].Verdict = v.Outcome.String()
			sum.Workers[i].Invalidated = v.Invalidated
			switch v.Outcome {
			case node.WorkAccepted:
				sum.Work.Accepted++
			case node.WorkRejected:
				sum.Work.Rejected++
			}
			note := ""
			if v.Reason != "" {
				note = ": " + v.Reason
			}
			if v.Invalidated {
				sum.Work.Invalidated++
				note += "; invalidated on chain (ejected, rewards forfeited, stake slashed)"
			}
			s.printf("worker %d: work %s…  %s by the validator in %v%s", i, v.ID.String()[:12], v.Outcome, v.Took.Round(time.Millisecond), note)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d verdicts: %w", len(sampled), ctx.Err())
		}
	}
	onChain := ""
	if s.chain != nil {
		onChain = fmt.Sprintf(", %d recorded on chain", sum.Work.OnChain)
	}
	s.printf("%d submissions%s; %d checked: %d accepted, %d rejected", sum.Work.Submitted, onChain, sum.Work.Sampled, sum.Work.Accepted, sum.Work.Rejected)
	return nil
}

// deathrattle makes the last worker leave the pool's swarm and waits until
// every other member has seen its deathrattle.
func (s *devSwarm) deathrattle(ctx context.Context, sum *devSummary) error {
	leaver := s.workers[len(s.workers)-1]
	var others []*node.Node
	for _, n := range s.members() {
		if n != leaver {
			others = append(others, n)
		}
	}
	subs := make([]*p2p.Subscription, len(others))
	for i, n := range others {
		sub, err := n.Subscribe(s.opt.pool, 256)
		if err != nil {
			return err
		}
		defer sub.Close()
		subs[i] = sub
	}
	leaveAt := time.Now()
	if err := leaver.Leave(ctx, s.opt.pool); err != nil {
		return err
	}
	var slowest time.Duration
	for i, sub := range subs {
		d, err := waitForEvent(ctx, sub, p2p.EventLeave, leaver.ID(), leaveAt, 10*s.opt.heartbeat)
		if err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		slowest = max(slowest, d)
	}
	sum.DeathrattleSeen = len(subs)
	s.printf("worker %d left; all %d other members saw its deathrattle within %v (%.2fx the heartbeat interval)",
		len(s.workers)-1, len(subs), slowest.Round(time.Millisecond), float64(slowest)/float64(s.opt.heartbeat))
	return nil
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
