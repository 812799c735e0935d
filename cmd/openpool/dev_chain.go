package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/openpool/openpool/ledger"
	"github.com/openpool/openpool/node"
)

// devPassphrase encrypts the dev swarm's throwaway keys (light scrypt).
const devPassphrase = "openpool-dev"

// devRewardRate is the pool's reward in token wei per node-second of active
// time: 0.001 token, so a run of a few chain seconds pays visible amounts.
var devRewardRate = big.NewInt(1e15)

// devSlash is what the validator slashes from the stake of a worker whose
// work it rejects (the minimum stake is 100 tokens).
func devSlash() *big.Int { return ledger.Tokens(10) }

// devPoolFunds is the pool's reward budget.
func devPoolFunds() *big.Int { return ledger.Tokens(1000) }

// devChain is the embedded dev chain of `openpool dev` and one ledger
// client per account: the researcher (deployer, pool owner), the validator
// and the workers.
type devChain struct {
	chain      *ledger.DevChain
	ec         *ethclient.Client
	researcher *ledger.Client
	validator  *ledger.Client
	workers    []*ledger.Client
	workerKeys []*ecdsa.PrivateKey // bind the workers' invites to their peer IDs
	poolID     uint64
}

func (c *devChain) close() {
	if c.ec != nil {
		c.ec.Close()
	}
	if c.chain != nil {
		_ = c.chain.Close()
	}
}

// startDevChain starts the chain with every account funded with dev ether,
// and deploys the contracts from the researcher's account with the
// validator allowed to invalidate work.
func startDevChain(ctx context.Context, researcher, validator *ecdsa.PrivateKey, workers []*ecdsa.PrivateKey) (*devChain, error) {
	keys := append([]*ecdsa.PrivateKey{researcher, validator}, workers...)
	var opts []ledger.DevChainOption
	for _, k := range keys {
		opts = append(opts, ledger.WithDevFunds(addressOf(k), ledger.DevEther()))
	}
	c := &devChain{}
	var err error
	if c.chain, err = ledger.StartDevChain(opts...); err != nil {
		return nil, fmt.Errorf("dev chain: %w", err)
	}
	if c.ec, err = c.chain.Dial(ctx); err != nil {
		c.close()
		return nil, fmt.Errorf("dev chain: %w", err)
	}
	if c.researcher, err = ledger.New(ctx, c.ec, researcher, ledger.Deployment{}, ledger.WithChainID(ledger.DevChainID)); err != nil {
		c.close()
		return nil, err
	}
	p := ledger.DefaultDeployParams()
	p.Validators = []common.Address{addressOf(validator)}
	dep, err := c.researcher.Deploy(ctx, p)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("dev chain: deploy: %w", err)
	}
	if c.validator, err = ledger.New(ctx, c.ec, validator, dep); err != nil {
		c.close()
		return nil, err
	}
	for _, k := range workers {
		w, err := ledger.New(ctx, c.ec, k, dep)
		if err != nil {
			c.close()
			return nil, err
		}
		c.workers = append(c.workers, w)
	}
	c.workerKeys = workers
	return c, nil
}

// createPool creates and funds the on-chain pool; its metadata is the
// manifest CID of the first checkpoint.
func (c *devChain) createPool(ctx context.Context, metadataCID string) error {
	id, err := c.researcher.CreatePool(ctx, c.researcher.Deployment().DomainID, metadataCID, devRewardRate)
	if err != nil {
		return fmt.Errorf("create pool: %w", err)
	}
	if err := c.researcher.FundPool(ctx, id, devPoolFunds()); err != nil {
		return fmt.Errorf("fund pool %d: %w", id, err)
	}
	c.poolID = id
	return nil
}

// admit takes worker i from nothing to an active pool member: the researcher
// sends it the stake, it registers and stakes, the researcher signs an
// EIP-712 invite, and the worker joins with it.
func (c *devChain) admit(ctx context.Context, i int, hardware string) (ledger.Invite, error) {
	w := c.workers[i]
	if err := w.Register(ctx, 1, hardware); err != nil {
		return ledger.Invite{}, fmt.Errorf("register: %w", err)
	}
	// The required stake counts the node just registered.
	need, err := w.RequiredStake(ctx, w.Address())
	if err != nil {
		return ledger.Invite{}, err
	}
	if err := c.researcher.Transfer(ctx, w.Address(), need); err != nil {
		return ledger.Invite{}, fmt.Errorf("send stake tokens: %w", err)
	}
	if _, err := w.Stake(ctx, need); err != nil {
		return ledger.Invite{}, fmt.Errorf("stake: %w", err)
	}
	inv, err := c.researcher.Invite(ctx, c.poolID, w.Address(), uint64(i)+1, 1000*time.Second)
	if err != nil {
		return ledger.Invite{}, fmt.Errorf("invite: %w", err)
	}
	if _, err := w.JoinPool(ctx, inv); err != nil {
		return ledger.Invite{}, fmt.Errorf("join pool %d: %w", c.poolID, err)
	}
	return inv, nil
}

// devReward is one worker's on-chain account of the run.
type devReward struct {
	ActiveSeconds uint64
	Ejected       bool     // invalidated work ejected it: its rewards are forfeited
	Expected      *big.Int // rate × active seconds, or 0 when ejected
	Claimed       *big.Int
	Staked        *big.Int // its stake at the end (less any slash)
}

// settle makes every worker leave the pool on chain, then claim, and checks
// each claim against rate × its active intervals and the pool's funds.
func (c *devChain) settle(ctx context.Context) (rewards []devReward, spent *big.Int, err error) {
	before, err := c.researcher.Pool(ctx, c.poolID)
	if err != nil {
		return nil, nil, err
	}
	for i, w := range c.workers {
		if _, err := w.LeavePool(ctx, c.poolID); err != nil && !errors.Is(err, ledger.ErrNotInPool) {
			return nil, nil, fmt.Errorf("worker %d: leave pool: %w", i, err)
		}
	}
	intervals, err := c.researcher.Intervals(ctx, c.poolID)
	if err != nil {
		return nil, nil, err
	}
	for i, w := range c.workers {
		r := devReward{Expected: new(big.Int), Claimed: new(big.Int)}
		for _, iv := range intervals {
			if iv.Node == w.Address() {
				r.ActiveSeconds += iv.LeftAt - iv.JoinedAt
				r.Ejected = r.Ejected || iv.Ejected
			}
		}
		if !r.Ejected {
			r.Expected.Mul(devRewardRate, new(big.Int).SetUint64(r.ActiveSeconds))
		}
		got, _, err := w.Claim(ctx, c.poolID)
		switch {
		case err == nil:
			r.Claimed = got
		case !errors.Is(err, ledger.ErrNothingToClaim):
			return nil, nil, fmt.Errorf("worker %d: claim: %w", i, err)
		}
		p, err := w.Provider(ctx, w.Address())
		if err != nil {
			return nil, nil, err
		}
		r.Staked = p.Staked
		rewards = append(rewards, r)
	}
	after, err := c.researcher.Pool(ctx, c.poolID)
	if err != nil {
		return nil, nil, err
	}
	return rewards, new(big.Int).Sub(before.Funds, after.Funds), nil
}

// workLedger records work submissions of one account in the dev pool; it
// implements node.WorkLedger.
type workLedger struct {
	chain *devChain // its pool ID is set once the pool exists
	c     *ledger.Client
}

var _ node.WorkLedger = workLedger{}

func (l workLedger) SubmitWork(ctx context.Context, _ string, id node.WorkID, proofHash [32]byte) error {
	_, err := l.c.SubmitWork(ctx, l.chain.poolID, common.Hash(id), common.Hash(proofHash))
	return err
}

func (l workLedger) InvalidateWork(ctx context.Context, _ string, id node.WorkID, _ string) error {
	_, err := l.c.InvalidateWork(ctx, l.chain.poolID, common.Hash(id), devSlash())
	if errors.Is(err, ledger.ErrWorkInvalidated) {
		return nil
	}
	return err
}

func addressOf(k *ecdsa.PrivateKey) common.Address {
	return ethcrypto.PubkeyToAddress(k.PublicKey)
}
