package diloco

import (
	"context"
	"errors"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/openpool/openpool/diloco/tensor"
)

// PoolOptions groups the options of the three parts of a PoolWorker.
type PoolOptions struct {
	Ring   []RingOption
	Rounds []RoundsOption
	Worker []WorkerOption
}

// PoolWorker wires a Ring, Rounds and Worker for one pool on one host: what
// `openpool join` runs. Progress (outer step, loss, bytes sent) comes
// through WithProgress in Options.Worker.
type PoolWorker struct {
	Ring   *Ring
	Rounds *Rounds
	Sync   *StateSync
	Worker *Worker
}

// NewPoolWorker registers the all-reduce and outer-state protocols on h,
// joins the pool's rounds topic on ps and prepares the outer loop around
// tr. The state sync asks the members given by WithMembers (or else the
// peers on the rounds topic) and obeys WithAdmit.
func NewPoolWorker(h host.Host, ps *pubsub.PubSub, pool string, tr Trainer, o PoolOptions) (*PoolWorker, error) {
	ring, err := NewRing(h, o.Ring...)
	if err != nil {
		return nil, err
	}
	rounds, err := NewRounds(h, ps, pool, ring, o.Rounds...)
	if err != nil {
		_ = ring.Close()
		return nil, err
	}
	members := rounds.cfg.members
	if members == nil {
		members = rounds.topic.ListPeers
	}
	ss, err := NewStateSync(h, pool, WithSyncMembers(members), WithSyncAdmit(rounds.cfg.admit), WithSyncLogger(rounds.log))
	if err != nil {
		_ = rounds.Close()
		_ = ring.Close()
		return nil, err
	}
	w, err := NewWorker(rounds, tr, append([]WorkerOption{WithStateSync(ss, 0)}, o.Worker...)...)
	if err != nil {
		_ = ss.Close()
		_ = rounds.Close()
		_ = ring.Close()
		return nil, err
	}
	return &PoolWorker{Ring: ring, Rounds: rounds, Sync: ss, Worker: w}, nil
}

// Run runs the outer loop (see Worker.Run).
func (p *PoolWorker) Run(ctx context.Context) (*tensor.Set, error) { return p.Worker.Run(ctx) }

// Close leaves the topic and removes the stream handler.
func (p *PoolWorker) Close() error {
	return errors.Join(p.Sync.Close(), p.Rounds.Close(), p.Ring.Close())
}
