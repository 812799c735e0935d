package ledger_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/openpool/openpool/ledger"
)

func TestDeploy(t *testing.T) {
	e := newEnv(t, testParams())
	for name, a := range map[string]common.Address{"token": e.dep.Token, "registry": e.dep.Registry, "pools": e.dep.Pools} {
		code, err := e.sim.Client().CodeAt(e.ctx, a, nil)
		must(t, err)
		if len(code) == 0 {
			t.Fatalf("%s at %s has no code", name, a)
		}
	}
	if e.dep.ChainID != 1337 || e.dep.DomainID != 1 {
		t.Fatalf("deployment %+v", e.dep)
	}
	d, err := e.deployer.Domain(e.ctx, e.dep.DomainID)
	must(t, err)
	if d.Name != "default" || d.ValidationWindow != 600 {
		t.Fatalf("domain %+v", d)
	}
	if got := e.balance(e.addr(0)); got.Cmp(e.params.Mint) != 0 {
		t.Fatalf("deployer balance %s, want %s", got, e.params.Mint)
	}
	// Only the owner administers.
	other := e.client(1, e.dep)
	wantErr(t, other.Mint(e.ctx, other.Address(), big.NewInt(1)), ledger.ErrUnauthorized)
	wantErr(t, other.SetValidator(e.ctx, other.Address(), true), ledger.ErrUnauthorized)
	_, err = other.CreateDomain(e.ctx, "x", time.Minute)
	wantErr(t, err, ledger.ErrUnauthorized)
	// A second client on the same chain with a wrong expected chain ID refuses.
	if _, err := ledger.New(e.ctx, e.sim.Client(), e.keys[1], e.dep, ledger.WithChainID(5)); !errors.Is(err, ledger.ErrChainIDMismatch) {
		t.Fatalf("chain ID mismatch: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	e := newEnv(t, testParams())
	p := e.client(1, e.dep)
	// A node cannot be registered before its provider.
	_, err := p.RegisterNode(e.ctx, e.addr(2), 1, "gpu")
	wantErr(t, err, ledger.ErrNotRegistered)
	_, err = p.RegisterProvider(e.ctx)
	must(t, err)
	_, err = p.RegisterProvider(e.ctx)
	wantErr(t, err, ledger.ErrAlreadyRegistered)
	_, err = p.RegisterNode(e.ctx, e.addr(2), 8, "8x H100 SXM")
	must(t, err)
	_, err = p.RegisterNode(e.ctx, e.addr(2), 8, "8x H100 SXM")
	wantErr(t, err, ledger.ErrAlreadyRegistered)
	n, err := p.Node(e.ctx, e.addr(2))
	must(t, err)
	if n.Provider != p.Address() || n.ComputeUnits != 8 || n.Hardware != "8x H100 SXM" {
		t.Fatalf("node info %+v", n)
	}
	info, err := p.Provider(e.ctx, p.Address())
	must(t, err)
	if !info.Registered || info.Nodes != 1 || info.Staked.Sign() != 0 {
		t.Fatalf("provider info %+v", info)
	}
	// Only the node's provider removes it.
	_, err = e.client(3, e.dep).RemoveNode(e.ctx, e.addr(2))
	wantErr(t, err, ledger.ErrUnauthorized)
	_, err = p.RemoveNode(e.ctx, e.addr(2))
	must(t, err)
	_, err = p.RemoveNode(e.ctx, e.addr(2))
	wantErr(t, err, ledger.ErrNotRegistered)
}

func TestStakeUnstakeWithdraw(t *testing.T) {
	e := newEnv(t, testParams())
	min := e.params.MinStakePerNode
	p := e.provider(1, nil)
	staked, err := p.IsNodeStaked(e.ctx, p.Address())
	must(t, err)
	if staked {
		t.Fatal("node staked before staking")
	}
	// Staking more than the balance fails with the token's error.
	_, err = p.Stake(e.ctx, ledger.Tokens(1_000_000))
	wantErr(t, err, ledger.ErrInsufficientFunds)
	_, err = p.Stake(e.ctx, big.NewInt(0))
	wantErr(t, err, ledger.ErrInvalidArgument)
	stake := new(big.Int).Mul(min, big.NewInt(3))
	_, err = p.Stake(e.ctx, stake)
	must(t, err)
	if staked, _ = p.IsNodeStaked(e.ctx, p.Address()); !staked {
		t.Fatal("node not staked after staking")
	}
	// One node needs min: unstaking more than stake-min is refused.
	over := new(big.Int).Add(new(big.Int).Mul(min, big.NewInt(2)), big.NewInt(1))
	_, err = p.Unstake(e.ctx, over)
	wantErr(t, err, ledger.ErrInsufficientStake)
	before := e.balance(p.Address())
	_, err = p.Unstake(e.ctx, min)
	must(t, err)
	_, _, err = p.Withdraw(e.ctx)
	wantErr(t, err, ledger.ErrNothingToWithdraw)
	e.advance(e.params.UnbondingPeriod - 10*time.Second)
	_, _, err = p.Withdraw(e.ctx)
	wantErr(t, err, ledger.ErrNothingToWithdraw)
	e.advance(20 * time.Second)
	info, err := p.Provider(e.ctx, p.Address())
	must(t, err)
	if info.Withdrawable.Cmp(min) != 0 || info.Staked.Cmp(new(big.Int).Mul(min, big.NewInt(2))) != 0 {
		t.Fatalf("provider info after unbonding %+v", info)
	}
	got, _, err := p.Withdraw(e.ctx)
	must(t, err)
	if got.Cmp(min) != 0 {
		t.Fatalf("withdrew %s, want %s", got, min)
	}
	if after := e.balance(p.Address()); new(big.Int).Sub(after, before).Cmp(min) != 0 {
		t.Fatalf("balance grew by %s, want %s", new(big.Int).Sub(after, before), min)
	}
	_, _, err = p.Withdraw(e.ctx)
	wantErr(t, err, ledger.ErrNothingToWithdraw)
	// At most 10 pending unbonds.
	for i := 0; i < 10; i++ {
		_, err = p.Unstake(e.ctx, big.NewInt(1))
		must(t, err)
	}
	_, err = p.Unstake(e.ctx, big.NewInt(1))
	wantErr(t, err, ledger.ErrTooManyUnbonds)
}

func TestSlash(t *testing.T) {
	e := newEnv(t, testParams())
	min := e.params.MinStakePerNode
	p := e.provider(1, new(big.Int).Mul(min, big.NewInt(2)))
	_, err := p.Unstake(e.ctx, min) // min staked, min unbonding
	must(t, err)
	validator := e.client(2, e.dep)
	// Not a validator yet.
	_, err = validator.Slash(e.ctx, p.Address(), big.NewInt(1), validator.Address())
	wantErr(t, err, ledger.ErrUnauthorized)
	must(t, e.deployer.SetValidator(e.ctx, validator.Address(), true))
	total := new(big.Int).Mul(min, big.NewInt(2))
	_, err = validator.Slash(e.ctx, p.Address(), new(big.Int).Add(total, big.NewInt(1)), validator.Address())
	wantErr(t, err, ledger.ErrSlashExceedsStake)
	// Slashing takes unbonding funds first, then stake, and pays the beneficiary.
	part := new(big.Int).Add(min, big.NewInt(5))
	_, err = validator.Slash(e.ctx, p.Address(), part, validator.Address())
	must(t, err)
	info, err := p.Provider(e.ctx, p.Address())
	must(t, err)
	if info.Unbonding.Sign() != 0 || info.Staked.Cmp(new(big.Int).Sub(min, big.NewInt(5))) != 0 {
		t.Fatalf("after slash %+v", info)
	}
	if got := e.balance(validator.Address()); got.Cmp(part) != 0 {
		t.Fatalf("validator got %s, want %s", got, part)
	}
	// Now below the minimum: the node may not join pools.
	if staked, _ := p.IsNodeStaked(e.ctx, p.Address()); staked {
		t.Fatal("node still staked below the minimum")
	}
}

func TestInviteDigestMatchesContract(t *testing.T) {
	e := newEnv(t, testParams())
	poolID, err := e.deployer.CreatePool(e.ctx, e.dep.DomainID, "bafyexample", big.NewInt(1))
	must(t, err)
	inv, err := e.deployer.Invite(e.ctx, poolID, e.addr(3), 42, time.Hour)
	must(t, err)
	want, err := ledger.InviteDigestOnChain(e.ctx, e.deployer, inv)
	must(t, err)
	if inv.Digest() != want {
		t.Fatalf("Go digest %s, contract digest %s", inv.Digest(), want)
	}
	signer, err := inv.Signer()
	must(t, err)
	if signer != e.addr(0) {
		t.Fatalf("signer %s, want %s", signer, e.addr(0))
	}
}

func TestPools(t *testing.T) {
	e := newEnv(t, testParams())
	owner := e.client(1, e.dep)
	_, err := owner.CreatePool(e.ctx, 99, "cid", big.NewInt(1))
	wantErr(t, err, ledger.ErrDomainNotFound)
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "bafyPoolMeta", big.NewInt(1000))
	must(t, err)
	pool, err := owner.Pool(e.ctx, poolID)
	must(t, err)
	if pool.Owner != owner.Address() || pool.MetadataCID != "bafyPoolMeta" || pool.RewardRate.Int64() != 1000 {
		t.Fatalf("pool %+v", pool)
	}
	must(t, owner.UpdatePoolMetadata(e.ctx, poolID, "bafyNew"))
	wantErr(t, e.client(2, e.dep).UpdatePoolMetadata(e.ctx, poolID, "x"), ledger.ErrUnauthorized)
	_, err = owner.Pool(e.ctx, 77)
	wantErr(t, err, ledger.ErrPoolNotFound)

	node := e.provider(2, e.params.MinStakePerNode)
	unstaked := e.provider(3, nil)

	// Unstaked join.
	inv3, err := owner.Invite(e.ctx, poolID, unstaked.Address(), 1, time.Hour)
	must(t, err)
	_, err = unstaked.JoinPool(e.ctx, inv3)
	wantErr(t, err, ledger.ErrNodeNotStaked)

	// Invite signed by someone other than the pool owner.
	forged, err := e.client(4, e.dep).Invite(e.ctx, poolID, node.Address(), 1, time.Hour)
	must(t, err)
	_, err = node.JoinPool(e.ctx, forged)
	wantErr(t, err, ledger.ErrInvalidInvite)

	// Someone else's invite: the signature covers the node address.
	stolen := inv3
	stolen.Node = node.Address()
	_, err = node.JoinPool(e.ctx, stolen)
	wantErr(t, err, ledger.ErrInvalidInvite)

	// Expired invite.
	expired, err := owner.Invite(e.ctx, poolID, node.Address(), 7, 5*time.Second)
	must(t, err)
	e.advance(time.Minute)
	_, err = node.JoinPool(e.ctx, expired)
	wantErr(t, err, ledger.ErrInviteExpired)

	// Good join, then double join.
	inv, err := owner.Invite(e.ctx, poolID, node.Address(), 1, time.Hour)
	must(t, err)
	_, err = node.JoinPool(e.ctx, inv)
	must(t, err)
	inv2, err := owner.Invite(e.ctx, poolID, node.Address(), 2, time.Hour)
	must(t, err)
	_, err = node.JoinPool(e.ctx, inv2)
	wantErr(t, err, ledger.ErrAlreadyInPool)
	pool, _ = owner.Pool(e.ctx, poolID)
	if pool.ActiveNodes != 1 {
		t.Fatalf("active nodes %d", pool.ActiveNodes)
	}

	// Leave, then replay the used invite.
	_, err = node.LeavePool(e.ctx, poolID)
	must(t, err)
	_, err = node.LeavePool(e.ctx, poolID)
	wantErr(t, err, ledger.ErrNotInPool)
	_, err = node.JoinPool(e.ctx, inv)
	wantErr(t, err, ledger.ErrInviteUsed)

	// Rejoin with a fresh nonce; only the owner ejects.
	_, err = node.JoinPool(e.ctx, inv2)
	must(t, err)
	_, err = e.client(4, e.dep).EjectNode(e.ctx, poolID, node.Address())
	wantErr(t, err, ledger.ErrUnauthorized)
	_, err = owner.EjectNode(e.ctx, poolID, node.Address())
	must(t, err)
	m, err := owner.Member(e.ctx, poolID, node.Address())
	must(t, err)
	if m.JoinedAt != 0 || m.ActiveSeconds == 0 {
		t.Fatalf("member after eject %+v", m)
	}
	ivs, err := owner.Intervals(e.ctx, poolID)
	must(t, err)
	if len(ivs) != 2 || ivs[0].Ejected || !ivs[1].Ejected || ivs[1].Node != node.Address() || ivs[0].LeftAt < ivs[0].JoinedAt {
		t.Fatalf("intervals %+v", ivs)
	}
	if uint64(m.ActiveSeconds) != (ivs[0].LeftAt-ivs[0].JoinedAt)+(ivs[1].LeftAt-ivs[1].JoinedAt) {
		t.Fatalf("active seconds %d do not match intervals %+v", m.ActiveSeconds, ivs)
	}

	// The client refuses an invite for another account before sending.
	if _, err := e.client(5, e.dep).JoinPool(e.ctx, inv2); !errors.Is(err, ledger.ErrInvalidInvite) {
		t.Fatalf("join with someone else's invite: %v", err)
	}
}

func TestWorkAndInvalidation(t *testing.T) {
	e := newEnv(t, testParams())
	min := e.params.MinStakePerNode
	owner := e.deployer
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "cid", big.NewInt(1))
	must(t, err)
	must(t, owner.FundPool(e.ctx, poolID, ledger.Tokens(1000)))
	node := e.provider(1, new(big.Int).Mul(min, big.NewInt(2)))
	inv, err := owner.Invite(e.ctx, poolID, node.Address(), 1, time.Hour)
	must(t, err)
	outsider := e.provider(2, min)
	work1 := crypto.Keccak256Hash([]byte("pseudo-gradient step 1"))
	proof1 := crypto.Keccak256Hash([]byte("toploc proof 1"))
	_, err = outsider.SubmitWork(e.ctx, poolID, work1, proof1)
	wantErr(t, err, ledger.ErrNotInPool)
	_, err = node.JoinPool(e.ctx, inv)
	must(t, err)
	_, err = node.SubmitWork(e.ctx, poolID, common.Hash{}, proof1)
	wantErr(t, err, ledger.ErrInvalidArgument)
	_, err = node.SubmitWork(e.ctx, poolID, work1, proof1)
	must(t, err)
	_, err = node.SubmitWork(e.ctx, poolID, work1, proof1)
	wantErr(t, err, ledger.ErrWorkExists)
	w, err := node.Work(e.ctx, poolID, work1)
	must(t, err)
	if w.Node != node.Address() || w.ProofHash != proof1 || w.Invalidated {
		t.Fatalf("work %+v", w)
	}
	work2 := crypto.Keccak256Hash([]byte("pseudo-gradient step 2"))
	_, err = node.SubmitWork(e.ctx, poolID, work2, proof1)
	must(t, err)
	e.advance(100 * time.Second)

	// Only validators invalidate.
	_, err = outsider.InvalidateWork(e.ctx, poolID, work1, nil)
	wantErr(t, err, ledger.ErrUnauthorized)
	_, err = owner.InvalidateWork(e.ctx, poolID, crypto.Keccak256Hash([]byte("nope")), nil)
	wantErr(t, err, ledger.ErrWorkNotFound)
	// Slashing more than the stake reverts the whole invalidation.
	_, err = owner.InvalidateWork(e.ctx, poolID, work1, new(big.Int).Mul(min, big.NewInt(3)))
	wantErr(t, err, ledger.ErrSlashExceedsStake)
	pending, err := owner.PendingRewards(e.ctx, poolID, node.Address())
	must(t, err)
	if pending.Sign() <= 0 {
		t.Fatal("no pending rewards before invalidation")
	}
	validatorBefore := e.balance(owner.Address())
	_, err = owner.InvalidateWork(e.ctx, poolID, work1, min)
	must(t, err)
	if got := new(big.Int).Sub(e.balance(owner.Address()), validatorBefore); got.Cmp(min) != 0 {
		t.Fatalf("validator received %s, want %s", got, min)
	}
	info, _ := node.Provider(e.ctx, node.Address())
	if info.Staked.Cmp(min) != 0 {
		t.Fatalf("stake after slash %s, want %s", info.Staked, min)
	}
	m, _ := node.Member(e.ctx, poolID, node.Address())
	if m.JoinedAt != 0 || m.ClaimedSeconds != m.ActiveSeconds {
		t.Fatalf("member after invalidation %+v (want ejected, rewards forfeited)", m)
	}
	_, _, err = node.Claim(e.ctx, poolID)
	wantErr(t, err, ledger.ErrNothingToClaim)
	_, err = owner.InvalidateWork(e.ctx, poolID, work1, nil)
	wantErr(t, err, ledger.ErrWorkInvalidated)
	// After the window, work stands.
	e.advance(e.params.ValidationWindow)
	_, err = owner.InvalidateWork(e.ctx, poolID, work2, nil)
	wantErr(t, err, ledger.ErrValidationWindowOver)
}

// TestRewardsProportionalToActiveTime: two nodes with different active
// intervals are paid rate x their active seconds, to the wei.
func TestRewardsProportionalToActiveTime(t *testing.T) {
	e := newEnv(t, testParams())
	rate := big.NewInt(1_234_567_891_011) // wei per node-second, deliberately odd
	owner := e.deployer
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "cid", rate)
	must(t, err)
	must(t, owner.FundPool(e.ctx, poolID, ledger.Tokens(1000)))
	a := e.provider(1, e.params.MinStakePerNode)
	b := e.provider(2, e.params.MinStakePerNode)
	join := func(c *ledger.Client, nonce uint64) uint64 {
		inv, err := owner.Invite(e.ctx, poolID, c.Address(), nonce, time.Hour)
		must(t, err)
		r, err := c.JoinPool(e.ctx, inv)
		must(t, err)
		return e.blockTime(r)
	}
	leave := func(c *ledger.Client) uint64 {
		r, err := c.LeavePool(e.ctx, poolID)
		must(t, err)
		return e.blockTime(r)
	}
	aJoin := join(a, 1)
	e.advance(300 * time.Second)
	bJoin := join(b, 1)
	e.advance(137 * time.Second)
	bLeave := leave(b)
	e.advance(1000 * time.Second)
	aLeave := leave(a)
	// b comes back for a second interval.
	bJoin2 := join(b, 2)
	e.advance(50 * time.Second)
	bLeave2 := leave(b)

	aSecs := aLeave - aJoin
	bSecs := (bLeave - bJoin) + (bLeave2 - bJoin2)
	if aSecs == bSecs {
		t.Fatalf("test needs different active times, both %d", aSecs)
	}
	wantA := new(big.Int).Mul(rate, new(big.Int).SetUint64(aSecs))
	wantB := new(big.Int).Mul(rate, new(big.Int).SetUint64(bSecs))
	for _, tc := range []struct {
		c    *ledger.Client
		want *big.Int
	}{{a, wantA}, {b, wantB}} {
		pending, err := tc.c.PendingRewards(e.ctx, poolID, tc.c.Address())
		must(t, err)
		if pending.Cmp(tc.want) != 0 {
			t.Fatalf("pending %s, want %s", pending, tc.want)
		}
		before := e.balance(tc.c.Address())
		got, _, err := tc.c.Claim(e.ctx, poolID)
		must(t, err)
		if got.Cmp(tc.want) != 0 {
			t.Fatalf("claimed %s, want %s", got, tc.want)
		}
		if d := new(big.Int).Sub(e.balance(tc.c.Address()), before); d.Cmp(tc.want) != 0 {
			t.Fatalf("balance grew by %s, want %s", d, tc.want)
		}
		// Claiming twice pays nothing.
		_, _, err = tc.c.Claim(e.ctx, poolID)
		wantErr(t, err, ledger.ErrNothingToClaim)
	}
	// Proportional: A/B == aSecs/bSecs exactly.
	lhs := new(big.Int).Mul(wantA, new(big.Int).SetUint64(bSecs))
	rhs := new(big.Int).Mul(wantB, new(big.Int).SetUint64(aSecs))
	if lhs.Cmp(rhs) != 0 {
		t.Fatalf("rewards %s:%s not in proportion %d:%d", wantA, wantB, aSecs, bSecs)
	}
	pool, _ := owner.Pool(e.ctx, poolID)
	spent := new(big.Int).Add(wantA, wantB)
	if left := new(big.Int).Sub(ledger.Tokens(1000), spent); pool.Funds.Cmp(left) != 0 {
		t.Fatalf("pool funds %s, want %s", pool.Funds, left)
	}
	t.Logf("A active %ds -> %s wei, B active %ds -> %s wei", aSecs, wantA, bSecs, wantB)
}

func TestClaimInsufficientFunds(t *testing.T) {
	e := newEnv(t, testParams())
	owner := e.deployer
	poolID, err := owner.CreatePool(e.ctx, e.dep.DomainID, "cid", ledger.Tokens(1))
	must(t, err)
	must(t, owner.FundPool(e.ctx, poolID, ledger.Tokens(5)))
	n := e.provider(1, e.params.MinStakePerNode)
	inv, err := owner.Invite(e.ctx, poolID, n.Address(), 1, time.Hour)
	must(t, err)
	_, err = n.JoinPool(e.ctx, inv)
	must(t, err)
	e.advance(time.Minute)
	_, _, err = n.Claim(e.ctx, poolID)
	wantErr(t, err, ledger.ErrInsufficientFunds)
	_, _, err = e.client(3, e.dep).Claim(e.ctx, poolID)
	wantErr(t, err, ledger.ErrNothingToClaim)
}

func TestAdministration(t *testing.T) {
	e := newEnv(t, testParams())
	other := e.client(1, e.dep)
	wantErr(t, other.SetSlasher(e.ctx, other.Address(), true), ledger.ErrUnauthorized)
	wantErr(t, other.SetStakeParams(e.ctx, big.NewInt(1), time.Second), ledger.ErrUnauthorized)
	wantErr(t, e.deployer.SetValidator(e.ctx, common.Address{}, true), ledger.ErrInvalidArgument)

	p := e.provider(2, e.params.MinStakePerNode)
	req, err := p.RequiredStake(e.ctx, p.Address())
	must(t, err)
	if req.Cmp(e.params.MinStakePerNode) != 0 {
		t.Fatalf("required stake %s", req)
	}
	// Doubling the minimum makes the node ineligible until it stakes more.
	double := new(big.Int).Mul(e.params.MinStakePerNode, big.NewInt(2))
	must(t, e.deployer.SetStakeParams(e.ctx, double, time.Minute))
	if staked, _ := p.IsNodeStaked(e.ctx, p.Address()); staked {
		t.Fatal("node eligible below the new minimum")
	}
	_, err = p.Stake(e.ctx, e.params.MinStakePerNode)
	must(t, err)
	if staked, _ := p.IsNodeStaked(e.ctx, p.Address()); !staked {
		t.Fatal("node ineligible after topping up")
	}
	// The new unbonding period applies to new unbonds.
	must(t, e.deployer.SetStakeParams(e.ctx, e.params.MinStakePerNode, time.Minute))
	_, err = p.Unstake(e.ctx, e.params.MinStakePerNode)
	must(t, err)
	e.advance(2 * time.Minute)
	got, _, err := p.Withdraw(e.ctx)
	must(t, err)
	if got.Cmp(e.params.MinStakePerNode) != 0 {
		t.Fatalf("withdrew %s", got)
	}
	// A disabled slasher can no longer slash.
	must(t, e.deployer.SetValidator(e.ctx, e.addr(0), false))
	_, err = e.deployer.Slash(e.ctx, p.Address(), big.NewInt(1), e.addr(0))
	wantErr(t, err, ledger.ErrUnauthorized)
	// Funding a pool with nothing is refused.
	poolID, err := e.deployer.CreatePool(e.ctx, e.dep.DomainID, "cid", big.NewInt(1))
	must(t, err)
	wantErr(t, e.deployer.FundPool(e.ctx, poolID, big.NewInt(0)), ledger.ErrInvalidArgument)
}
