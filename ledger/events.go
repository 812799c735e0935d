package ledger

import (
	"context"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"

	"github.com/openpool/openpool/ledger/bindings"
)

// Event types of the pools contract, re-exported for subscribers.
type (
	NodeJoined      = bindings.ComputePoolsNodeJoined
	NodeLeft        = bindings.ComputePoolsNodeLeft
	WorkSubmitted   = bindings.ComputePoolsWorkSubmitted
	WorkInvalidated = bindings.ComputePoolsWorkInvalidated
	RewardsClaimed  = bindings.ComputePoolsRewardsClaimed
)

// poolTopic filters indexed poolId; no pool IDs means every pool.
func poolTopic(poolIDs []uint64) []any {
	var t []any
	for _, id := range poolIDs {
		t = append(t, u64(id))
	}
	return t
}

func watch[T bind.ContractEvent](ctx context.Context, c *Client, unpack func(*types.Log) (*T, error), sink chan<- *T, poolIDs []uint64) (event.Subscription, error) {
	if err := c.requireDeployment(); err != nil {
		return nil, err
	}
	return bind.WatchEvents(c.pools, &bind.WatchOpts{Context: ctx}, unpack, sink, poolTopic(poolIDs))
}

// WatchNodeJoined streams NodeJoined events of the given pools (all when
// none) until ctx ends or the subscription is unsubscribed. The endpoint
// must support subscriptions (WebSocket, IPC or in-process).
func (c *Client) WatchNodeJoined(ctx context.Context, sink chan<- *NodeJoined, poolIDs ...uint64) (event.Subscription, error) {
	return watch(ctx, c, c.poolsABI.UnpackNodeJoinedEvent, sink, poolIDs)
}

// WatchNodeLeft streams NodeLeft events (leaves and ejections).
func (c *Client) WatchNodeLeft(ctx context.Context, sink chan<- *NodeLeft, poolIDs ...uint64) (event.Subscription, error) {
	return watch(ctx, c, c.poolsABI.UnpackNodeLeftEvent, sink, poolIDs)
}

// WatchWorkSubmitted streams work submissions, e.g. for a validator.
func (c *Client) WatchWorkSubmitted(ctx context.Context, sink chan<- *WorkSubmitted, poolIDs ...uint64) (event.Subscription, error) {
	return watch(ctx, c, c.poolsABI.UnpackWorkSubmittedEvent, sink, poolIDs)
}

// WatchWorkInvalidated streams invalidations.
func (c *Client) WatchWorkInvalidated(ctx context.Context, sink chan<- *WorkInvalidated, poolIDs ...uint64) (event.Subscription, error) {
	return watch(ctx, c, c.poolsABI.UnpackWorkInvalidatedEvent, sink, poolIDs)
}

// WatchRewardsClaimed streams reward claims.
func (c *Client) WatchRewardsClaimed(ctx context.Context, sink chan<- *RewardsClaimed, poolIDs ...uint64) (event.Subscription, error) {
	return watch(ctx, c, c.poolsABI.UnpackRewardsClaimedEvent, sink, poolIDs)
}

// Interval is one closed active interval of a node in a pool.
type Interval struct {
	Node     common.Address
	JoinedAt uint64
	LeftAt   uint64
	Ejected  bool
}

// Intervals lists the closed active intervals recorded for a pool since
// the deployment block, in chain order. It uses eth_getLogs, so it works
// over plain HTTP.
func (c *Client) Intervals(ctx context.Context, poolID uint64) ([]Interval, error) {
	if err := c.requireDeployment(); err != nil {
		return nil, err
	}
	it, err := bind.FilterEvents(c.pools, &bind.FilterOpts{Start: c.dep.Block, Context: ctx}, c.poolsABI.UnpackNodeLeftEvent, poolTopic([]uint64{poolID}))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Interval
	for it.Next() {
		ev := it.Value()
		out = append(out, Interval{Node: ev.Node, JoinedAt: ev.JoinedAt, LeftAt: ev.LeftAt, Ejected: ev.Ejected})
	}
	return out, it.Error()
}
