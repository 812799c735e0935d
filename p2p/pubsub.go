package p2p

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TopicName returns the gossipsub topic of one kind of message in a pool, for
// example TopicName("demo", "membership") = "/openpool/pool/demo/membership/1.0.0".
// Each component joins its own kinds: membership, rounds, checkpoints.
func TopicName(pool, kind string) string {
	return "/openpool/pool/" + pool + "/" + kind + "/1.0.0"
}

// MaxPubSubMessageSize bounds any gossipsub message on an openpool node;
// per-topic validators apply tighter limits.
const MaxPubSubMessageSize = 1 << 20

// PubSubConfig tunes the gossipsub router.
type PubSubConfig struct {
	// PeerExchange makes the router send peer records when it prunes: on for
	// bootstrap nodes, which see most of the swarm.
	PeerExchange bool
	// SeenMessagesTTL is how long message IDs are remembered to drop
	// duplicates (gossipsub's default: 2 minutes). Tests shorten it to
	// exercise the replay check in the membership validator.
	SeenMessagesTTL time.Duration
	// Counter receives every rejected message; nil makes one.
	Counter *RejectCounter
}

// NewPubSub starts gossipsub on h with strict signing, peer scoring and a
// rejection counter. It is stopped by cancelling ctx.
func NewPubSub(ctx context.Context, h host.Host, cfg PubSubConfig) (*pubsub.PubSub, *RejectCounter, error) {
	counter := cfg.Counter
	if counter == nil {
		counter = NewRejectCounter()
	}
	opts := []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(MaxPubSubMessageSize),
		pubsub.WithPeerScore(peerScoreParams(), peerScoreThresholds()),
		pubsub.WithPeerExchange(cfg.PeerExchange),
		pubsub.WithRawTracer(counter),
		// Duplicates are validated again until the first copy is through, so
		// bursts need room; 1024 bounds the memory all the same.
		pubsub.WithValidateQueueSize(1024),
	}
	if cfg.SeenMessagesTTL > 0 {
		opts = append(opts, pubsub.WithSeenMessagesTTL(cfg.SeenMessagesTTL))
	}
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("p2p: start gossipsub: %w", err)
	}
	return ps, counter, nil
}

// peerScoreParams: a peer that sends invalid messages loses score fast and is
// graylisted; colocated peers are penalised except on loopback, where tests
// and `openpool dev` run many nodes behind one address.
func peerScoreParams() *pubsub.PeerScoreParams {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 8,
		IPColocationFactorWhitelist: []*net.IPNet{loopback},
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             -500,
		PublishThreshold:            -1000,
		GraylistThreshold:           -2500,
		AcceptPXThreshold:           10,
		OpportunisticGraftThreshold: 5,
	}
}

// TopicScoreParams is the scoring of a pool topic: each invalid message costs
// its sender 100 points squared-weighted, decaying over about an hour, so a
// few invalid messages graylist a peer; first deliveries earn a little.
func TopicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second, // gossipsub divides by it: never zero
		TimeInMeshCap:                  3600,
		FirstMessageDeliveriesWeight:   1,
		FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:      20,
		InvalidMessageDeliveriesWeight: -100,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
	}
}

// RejectCounter is a gossipsub tracer that counts rejected messages by topic
// and reason (gossipsub's own reasons such as "missing signature", and
// "validation failed" for messages our validators refused).
type RejectCounter struct {
	mu     sync.Mutex
	counts map[string]map[string]uint64
}

// NewRejectCounter returns an empty counter.
func NewRejectCounter() *RejectCounter {
	return &RejectCounter{counts: make(map[string]map[string]uint64)}
}

// Count returns how many messages on topic were rejected for reason.
func (c *RejectCounter) Count(topic, reason string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[topic][reason]
}

// Snapshot returns a copy of all counts: topic -> reason -> count.
func (c *RejectCounter) Snapshot() map[string]map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]uint64, len(c.counts))
	for t, m := range c.counts {
		cp := make(map[string]uint64, len(m))
		for r, n := range m {
			cp[r] = n
		}
		out[t] = cp
	}
	return out
}

// RejectMessage implements pubsub.RawTracer.
func (c *RejectCounter) RejectMessage(msg *pubsub.Message, reason string) {
	topic := msg.GetTopic()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.counts[topic]
	if m == nil {
		if len(c.counts) >= 4096 { // topics come from the network: bound the map
			topic = "(other)"
			if m = c.counts[topic]; m == nil {
				m = make(map[string]uint64)
				c.counts[topic] = m
			}
		} else {
			m = make(map[string]uint64)
			c.counts[topic] = m
		}
	}
	m[reason]++
}

// The rest of pubsub.RawTracer is not needed.
func (c *RejectCounter) AddPeer(peer.ID, protocol.ID)                         {}
func (c *RejectCounter) RemovePeer(peer.ID)                                   {}
func (c *RejectCounter) Join(string)                                          {}
func (c *RejectCounter) Leave(string)                                         {}
func (c *RejectCounter) Graft(peer.ID, string)                                {}
func (c *RejectCounter) Prune(peer.ID, string)                                {}
func (c *RejectCounter) ValidateMessage(*pubsub.Message)                      {}
func (c *RejectCounter) DeliverMessage(*pubsub.Message)                       {}
func (c *RejectCounter) DuplicateMessage(*pubsub.Message)                     {}
func (c *RejectCounter) ThrottlePeer(peer.ID)                                 {}
func (c *RejectCounter) RecvRPC(*pubsub.RPC)                                  {}
func (c *RejectCounter) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (c *RejectCounter) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (c *RejectCounter) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (c *RejectCounter) UndeliverableMessage(*pubsub.Message)                 {}
func (c *RejectCounter) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (c *RejectCounter) OnClosedOutboundStream(peer.ID)                       {}

var _ pubsub.RawTracer = (*RejectCounter)(nil)
