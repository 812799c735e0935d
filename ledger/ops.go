package ledger

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/openpool/openpool/ledger/bindings"
)

// transact sends calldata to a deployed contract.
func (c *Client) transact(ctx context.Context, op string, bc *bind.BoundContract, data []byte) (*types.Receipt, error) {
	if err := c.requireDeployment(); err != nil {
		return nil, err
	}
	return c.send(ctx, op, func(o *bind.TransactOpts) (*types.Transaction, error) {
		return bind.Transact(bc, o, data)
	})
}

func u64(v uint64) *big.Int { return new(big.Int).SetUint64(v) }

// findEvent returns the first log of r that unpack accepts.
func findEvent[T any](r *types.Receipt, addr common.Address, unpack func(*types.Log) (*T, error)) (*T, bool) {
	for _, l := range r.Logs {
		if l.Address != addr {
			continue
		}
		if ev, err := unpack(l); err == nil {
			return ev, true
		}
	}
	return nil, false
}

// ----- administration -----

// SetValidator lets account invalidate work and slash (registry owner only).
func (c *Client) SetValidator(ctx context.Context, account common.Address, enabled bool) error {
	_, err := c.transact(ctx, "set validator", c.registry, c.registryABI.PackSetValidator(account, enabled))
	return err
}

// Mint mints dev stake tokens (token owner only).
func (c *Client) Mint(ctx context.Context, to common.Address, amount *big.Int) error {
	_, err := c.transact(ctx, "mint", c.token, c.tokenABI.PackMint(to, amount))
	return err
}

// Transfer sends stake tokens to another account.
func (c *Client) Transfer(ctx context.Context, to common.Address, amount *big.Int) error {
	_, err := c.transact(ctx, "transfer", c.token, c.tokenABI.PackTransfer(to, amount))
	return err
}

// CreateDomain creates a domain whose pools use the given validation
// window (registry owner only) and returns its ID.
func (c *Client) CreateDomain(ctx context.Context, name string, validationWindow time.Duration) (uint64, error) {
	r, err := c.transact(ctx, "create domain", c.pools, c.poolsABI.PackCreateDomain(name, uint64(validationWindow/time.Second)))
	if err != nil {
		return 0, err
	}
	ev, ok := findEvent(r, c.dep.Pools, c.poolsABI.UnpackDomainCreatedEvent)
	if !ok {
		return 0, fmt.Errorf("ledger: create domain: no DomainCreated event in tx %s", r.TxHash)
	}
	return ev.DomainId.Uint64(), nil
}

// ----- registry and stake -----

// RegisterProvider registers the client's account as a provider.
func (c *Client) RegisterProvider(ctx context.Context) (*types.Receipt, error) {
	return c.transact(ctx, "register provider", c.registry, c.registryABI.PackRegisterProvider())
}

// RegisterNode registers node under the client's provider account with a
// hardware claim.
func (c *Client) RegisterNode(ctx context.Context, node common.Address, computeUnits uint32, hardware string) (*types.Receipt, error) {
	return c.transact(ctx, "register node", c.registry, c.registryABI.PackRegisterNode(node, computeUnits, hardware))
}

// RemoveNode deregisters one of the provider's nodes.
func (c *Client) RemoveNode(ctx context.Context, node common.Address) (*types.Receipt, error) {
	return c.transact(ctx, "remove node", c.registry, c.registryABI.PackRemoveNode(node))
}

// Register makes the client's account a provider (if it is not one yet)
// and registers the same account as one of its nodes: the one-key setup
// of a home GPU owner.
func (c *Client) Register(ctx context.Context, computeUnits uint32, hardware string) error {
	p, err := c.Provider(ctx, c.from)
	if err != nil {
		return err
	}
	if !p.Registered {
		if _, err := c.RegisterProvider(ctx); err != nil {
			return err
		}
	}
	n, err := c.Node(ctx, c.from)
	if err != nil {
		return err
	}
	if n.Provider == c.from {
		return nil
	}
	_, err = c.RegisterNode(ctx, c.from, computeUnits, hardware)
	return err
}

// Approve sets the stake token allowance of spender (the registry for
// Stake, the pools contract for FundPool). Stake and FundPool approve by
// themselves when the allowance is short.
func (c *Client) Approve(ctx context.Context, spender common.Address, amount *big.Int) (*types.Receipt, error) {
	return c.transact(ctx, "approve", c.token, c.tokenABI.PackApprove(spender, amount))
}

// approve raises the allowance of spender to at least amount.
func (c *Client) approve(ctx context.Context, spender common.Address, amount *big.Int) error {
	cur, err := call(ctx, c, "allowance", c.token, c.tokenABI.PackAllowance(c.from, spender), c.tokenABI.UnpackAllowance)
	if err != nil {
		return err
	}
	if cur.Cmp(amount) >= 0 {
		return nil
	}
	_, err = c.transact(ctx, "approve", c.token, c.tokenABI.PackApprove(spender, amount))
	return err
}

// Stake approves and stakes amount tokens for the client's provider.
func (c *Client) Stake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	if err := c.requireDeployment(); err != nil {
		return nil, err
	}
	if err := c.approve(ctx, c.dep.Registry, amount); err != nil {
		return nil, err
	}
	return c.transact(ctx, "stake", c.registry, c.registryABI.PackStake(amount))
}

// Unstake starts unbonding amount tokens.
func (c *Client) Unstake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	return c.transact(ctx, "unstake", c.registry, c.registryABI.PackUnstake(amount))
}

// Withdraw withdraws every unbonded amount whose period has ended and
// returns how much was paid.
func (c *Client) Withdraw(ctx context.Context) (*big.Int, *types.Receipt, error) {
	r, err := c.transact(ctx, "withdraw", c.registry, c.registryABI.PackWithdraw())
	if err != nil {
		return nil, r, err
	}
	ev, ok := findEvent(r, c.dep.Registry, c.registryABI.UnpackWithdrawnEvent)
	if !ok {
		return nil, r, fmt.Errorf("ledger: withdraw: no Withdrawn event in tx %s", r.TxHash)
	}
	return ev.Amount, r, nil
}

// Slash takes amount from provider's stake and pays it to beneficiary
// (validators only).
func (c *Client) Slash(ctx context.Context, provider common.Address, amount *big.Int, beneficiary common.Address) (*types.Receipt, error) {
	return c.transact(ctx, "slash", c.registry, c.registryABI.PackSlash(provider, amount, beneficiary))
}

// ProviderInfo is a provider's registration and stake.
type ProviderInfo struct {
	Registered   bool
	Nodes        uint32
	Staked       *big.Int
	Unbonding    *big.Int // not yet withdrawable
	Withdrawable *big.Int
}

// Provider reads a provider's registration and stake.
func (c *Client) Provider(ctx context.Context, provider common.Address) (ProviderInfo, error) {
	out, err := call(ctx, c, "provider info", c.registry, c.registryABI.PackProviderInfo(provider), c.registryABI.UnpackProviderInfo)
	if err != nil {
		return ProviderInfo{}, err
	}
	return ProviderInfo{Registered: out.Registered, Nodes: out.NodeCount, Staked: out.Staked, Unbonding: out.Unbonding, Withdrawable: out.Withdrawable}, nil
}

// Node reads a node's registration (Provider is zero when unregistered).
func (c *Client) Node(ctx context.Context, node common.Address) (bindings.ComputeRegistryNodeInfo, error) {
	return call(ctx, c, "node info", c.registry, c.registryABI.PackNodeInfo(node), c.registryABI.UnpackNodeInfo)
}

// IsNodeStaked reports whether node may join pools.
func (c *Client) IsNodeStaked(ctx context.Context, node common.Address) (bool, error) {
	return call(ctx, c, "is node staked", c.registry, c.registryABI.PackIsNodeStaked(node), c.registryABI.UnpackIsNodeStaked)
}

// TokenBalance is account's stake token balance.
func (c *Client) TokenBalance(ctx context.Context, account common.Address) (*big.Int, error) {
	return call(ctx, c, "balance", c.token, c.tokenABI.PackBalanceOf(account), c.tokenABI.UnpackBalanceOf)
}

// ----- pools -----

// CreatePool creates a pool in domainID with a metadata CID and a reward
// rate in token wei per node-second, and returns its ID.
func (c *Client) CreatePool(ctx context.Context, domainID uint64, metadataCID string, rewardRate *big.Int) (uint64, error) {
	r, err := c.transact(ctx, "create pool", c.pools, c.poolsABI.PackCreatePool(u64(domainID), metadataCID, rewardRate))
	if err != nil {
		return 0, err
	}
	ev, ok := findEvent(r, c.dep.Pools, c.poolsABI.UnpackPoolCreatedEvent)
	if !ok {
		return 0, fmt.Errorf("ledger: create pool: no PoolCreated event in tx %s", r.TxHash)
	}
	return ev.PoolId.Uint64(), nil
}

// UpdatePoolMetadata replaces the pool's metadata CID (pool owner only).
func (c *Client) UpdatePoolMetadata(ctx context.Context, poolID uint64, metadataCID string) error {
	_, err := c.transact(ctx, "update pool metadata", c.pools, c.poolsABI.PackUpdatePoolMetadata(u64(poolID), metadataCID))
	return err
}

// FundPool approves and adds amount reward tokens to the pool.
func (c *Client) FundPool(ctx context.Context, poolID uint64, amount *big.Int) error {
	if err := c.requireDeployment(); err != nil {
		return err
	}
	if err := c.approve(ctx, c.dep.Pools, amount); err != nil {
		return err
	}
	_, err := c.transact(ctx, "fund pool", c.pools, c.poolsABI.PackFundPool(u64(poolID), amount))
	return err
}

// Pool reads a pool.
func (c *Client) Pool(ctx context.Context, poolID uint64) (bindings.ComputePoolsPool, error) {
	return call(ctx, c, "pool", c.pools, c.poolsABI.PackGetPool(u64(poolID)), c.poolsABI.UnpackGetPool)
}

// Domain reads a domain.
func (c *Client) Domain(ctx context.Context, domainID uint64) (bindings.ComputePoolsDomain, error) {
	return call(ctx, c, "domain", c.pools, c.poolsABI.PackGetDomain(u64(domainID)), c.poolsABI.UnpackGetDomain)
}

// Invite signs an invite for node to join poolID, valid for ttl. The
// client's account must own the pool for the invite to be accepted.
func (c *Client) Invite(ctx context.Context, poolID uint64, node common.Address, nonce uint64, ttl time.Duration) (Invite, error) {
	if err := c.requireDeployment(); err != nil {
		return Invite{}, err
	}
	p, err := c.Pool(ctx, poolID)
	if err != nil {
		return Invite{}, err
	}
	head, err := c.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return Invite{}, fmt.Errorf("ledger: invite: read head: %w", err)
	}
	// The chain's clock, not ours, decides expiry.
	expiry := head.Time + uint64(ttl/time.Second)
	inv := Invite{
		ChainID:  c.chainID.Uint64(),
		Contract: c.dep.Pools,
		DomainID: p.DomainId.Uint64(),
		PoolID:   poolID,
		Node:     node,
		Nonce:    nonce,
		Expiry:   expiry,
	}
	if err := inv.Sign(c.key); err != nil {
		return Invite{}, err
	}
	return inv, nil
}

// JoinPool joins the invite's pool as the client's account (the invited node).
func (c *Client) JoinPool(ctx context.Context, inv Invite) (*types.Receipt, error) {
	if inv.Node != c.from {
		return nil, fmt.Errorf("ledger: join pool: invite is for %s, not this account %s: %w", inv.Node, c.from, ErrInvalidInvite)
	}
	return c.transact(ctx, "join pool", c.pools, c.poolsABI.PackJoinPool(u64(inv.PoolID), u64(inv.Nonce), u64(inv.Expiry), inv.Signature))
}

// LeavePool leaves the pool, closing the node's active interval.
func (c *Client) LeavePool(ctx context.Context, poolID uint64) (*types.Receipt, error) {
	return c.transact(ctx, "leave pool", c.pools, c.poolsABI.PackLeavePool(u64(poolID)))
}

// EjectNode removes node from the pool (pool owner only).
func (c *Client) EjectNode(ctx context.Context, poolID uint64, node common.Address) (*types.Receipt, error) {
	return c.transact(ctx, "eject node", c.pools, c.poolsABI.PackEjectNode(u64(poolID), node))
}

// Member reads a node's membership of a pool.
func (c *Client) Member(ctx context.Context, poolID uint64, node common.Address) (bindings.ComputePoolsMember, error) {
	return call(ctx, c, "member", c.pools, c.poolsABI.PackMember(u64(poolID), node), c.poolsABI.UnpackMember)
}

// ----- work and rewards -----

// SubmitWork records a work submission: the hash of the work and the hash
// of its TOPLOC proof.
func (c *Client) SubmitWork(ctx context.Context, poolID uint64, workHash, proofHash common.Hash) (*types.Receipt, error) {
	return c.transact(ctx, "submit work", c.pools, c.poolsABI.PackSubmitWork(u64(poolID), workHash, proofHash))
}

// InvalidateWork marks a submission invalid within the validation window,
// ejecting the node and slashing slash from its provider (validators only).
func (c *Client) InvalidateWork(ctx context.Context, poolID uint64, workHash common.Hash, slash *big.Int) (*types.Receipt, error) {
	if slash == nil {
		slash = new(big.Int)
	}
	return c.transact(ctx, "invalidate work", c.pools, c.poolsABI.PackInvalidateWork(u64(poolID), workHash, slash))
}

// Work reads a submission (Node is zero when unknown).
func (c *Client) Work(ctx context.Context, poolID uint64, workHash common.Hash) (bindings.ComputePoolsWork, error) {
	return call(ctx, c, "work", c.pools, c.poolsABI.PackWork(u64(poolID), workHash), c.poolsABI.UnpackWork)
}

// PendingRewards is what node could claim from the pool now.
func (c *Client) PendingRewards(ctx context.Context, poolID uint64, node common.Address) (*big.Int, error) {
	return call(ctx, c, "pending rewards", c.pools, c.poolsABI.PackPendingRewards(u64(poolID), node), c.poolsABI.UnpackPendingRewards)
}

// Claim pays the client's node its unclaimed rewards from the pool and
// returns the amount.
func (c *Client) Claim(ctx context.Context, poolID uint64) (*big.Int, *types.Receipt, error) {
	r, err := c.transact(ctx, "claim", c.pools, c.poolsABI.PackClaim(u64(poolID)))
	if err != nil {
		return nil, r, err
	}
	ev, ok := findEvent(r, c.dep.Pools, c.poolsABI.UnpackRewardsClaimedEvent)
	if !ok {
		return nil, r, fmt.Errorf("ledger: claim: no RewardsClaimed event in tx %s", r.TxHash)
	}
	return ev.Amount, r, nil
}

// SendEther transfers amount wei of the chain's native currency, e.g. to
// give a node gas money on a development chain.
func (c *Client) SendEther(ctx context.Context, to common.Address, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, "send ether", func(o *bind.TransactOpts) (*types.Transaction, error) {
		gas, err := c.backend.EstimateGas(ctx, ethereum.CallMsg{From: c.from, To: &to, Value: amount})
		if err != nil {
			return nil, err
		}
		tip, err := c.backend.SuggestGasTipCap(ctx)
		if err != nil {
			return nil, err
		}
		head, err := c.backend.HeaderByNumber(ctx, nil)
		if err != nil {
			return nil, err
		}
		feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
		tx := types.NewTx(&types.DynamicFeeTx{
			ChainID: c.chainID, Nonce: o.Nonce.Uint64(), GasTipCap: tip, GasFeeCap: feeCap,
			Gas: gas, To: &to, Value: amount,
		})
		return o.Signer(o.From, tx)
	})
}

// SetSlasher lets a contract (or account) slash stake (registry owner only);
// Deploy makes the pools contract one.
func (c *Client) SetSlasher(ctx context.Context, account common.Address, enabled bool) error {
	_, err := c.transact(ctx, "set slasher", c.registry, c.registryABI.PackSetSlasher(account, enabled))
	return err
}

// SetStakeParams changes the minimum stake per node and the unbonding
// period for new unbonds (registry owner only).
func (c *Client) SetStakeParams(ctx context.Context, minStakePerNode *big.Int, unbonding time.Duration) error {
	_, err := c.transact(ctx, "set stake params", c.registry, c.registryABI.PackSetStakeParams(minStakePerNode, uint64(unbonding/time.Second)))
	return err
}

// RequiredStake is the stake provider needs for its registered nodes.
func (c *Client) RequiredStake(ctx context.Context, provider common.Address) (*big.Int, error) {
	return call(ctx, c, "required stake", c.registry, c.registryABI.PackRequiredStake(provider), c.registryABI.UnpackRequiredStake)
}
