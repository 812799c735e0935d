package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/p2p"
)

// Sentinel errors callers branch on.
var (
	ErrClosed        = errors.New("node: closed")
	ErrNotMember     = errors.New("node: not a member of this pool")
	ErrAlreadyInPool = errors.New("node: already a member of this pool")
)

// Node is one openpool node. It is safe for concurrent use.
type Node struct {
	cfg          config
	log          *slog.Logger
	stack        *p2p.Stack
	identityPath string
	hardware     p2p.Hardware
	started      time.Time
	status       *statusServer
	work         workService // work submissions and validation (work.go)
	ckpt         checkpoints // shardcast per pool (checkpoint.go)
	sections     statusSections
	registry     *p2p.PoolRegistry // pool descriptors (pools.go)
	bg           sync.WaitGroup    // background loops stopped by Close
	bgCancel     context.CancelFunc

	mu     sync.Mutex
	closed bool
	pools  map[string]*poolMembership
}

type poolMembership struct {
	m              *p2p.Membership
	stopRendezvous func()
}

// New starts a node: it loads or creates its identity, starts the libp2p
// stack and begins dialing the bootstrap peers in the background. ctx bounds
// the start-up only; Close stops the node.
func New(ctx context.Context, opts ...Option) (*Node, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	n := &Node{cfg: cfg, log: cfg.logger, pools: make(map[string]*poolMembership), started: time.Now()}
	key := cfg.identity
	if key == nil && cfg.dataDir != "" {
		k, path, err := p2p.LoadOrCreateIdentity(cfg.dataDir)
		if err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		key, n.identityPath = k, path
	}
	if cfg.hardware != nil {
		n.hardware = *cfg.hardware
	} else {
		n.hardware = DetectHardware(ctx)
	}
	stack, err := p2p.NewStack(p2p.Config{
		Identity:      key,
		ListenAddrs:   cfg.listen,
		Bootstrap:     cfg.bootstrap,
		BootstrapNode: cfg.bootstrapNode,
		NAT:           cfg.nat,
		UPnP:          cfg.upnp,
		Unlimited:     cfg.unlimited,
		ConnLow:       cfg.limits.ConnLow,
		ConnHigh:      cfg.limits.ConnHigh,
		MaxConns:      cfg.limits.MaxConns,
		PubSub:        p2p.PubSubConfig{SeenMessagesTTL: cfg.seenTTL},
		Logger:        cfg.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.stack = stack
	n.log = cfg.logger.With("peer", shortID(stack.ID()))
	if err := n.startPools(); err != nil {
		if n.registry != nil {
			n.registry.Close()
		}
		_ = stack.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	bgCtx, bgCancel := context.WithCancel(context.Background())
	n.bgCancel = bgCancel
	n.bg.Add(1)
	go n.watchPools(bgCtx)
	if cfg.statusAddr != "" {
		n.status, err = startStatusServer(n, cfg.statusAddr)
		if err != nil {
			bgCancel()
			n.bg.Wait()
			n.registry.Close()
			_ = stack.Close()
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	return n, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.stack.ID() }

// Addrs returns the node's multiaddrs including /p2p/<id>.
func (n *Node) Addrs() []ma.Multiaddr { return n.stack.Addrs() }

// IdentityPath is the file holding the node's key ("" when ephemeral).
func (n *Node) IdentityPath() string { return n.identityPath }

// Host returns the libp2p host, for protocols built on it.
func (n *Node) Host() host.Host { return n.stack.Host }

// PubSub returns the gossipsub router.
func (n *Node) PubSub() *pubsub.PubSub { return n.stack.PubSub }

// DHT returns the private Kademlia DHT.
func (n *Node) DHT() *dht.IpfsDHT { return n.stack.DHT }

// Stack returns the whole libp2p stack.
func (n *Node) Stack() *p2p.Stack { return n.stack }

// Hardware returns the hardware summary this node advertises.
func (n *Node) Hardware() p2p.Hardware { return n.hardware }

// StatusAddr returns the address of the status API, or "" when not served.
func (n *Node) StatusAddr() string {
	if n.status == nil {
		return ""
	}
	return n.status.addr
}

// WaitBootstrapped blocks until a bootstrap peer answered or ctx ends.
func (n *Node) WaitBootstrapped(ctx context.Context) error { return n.stack.WaitBootstrapped(ctx) }

// Join makes the node a member of pool: it starts heartbeats on the pool's
// membership topic and finds the other members through the DHT.
//
// A self-certifying pool ID (created with CreatePool) is checked first: its
// descriptor must be found and verify, the pool must be open, this node
// must meet its minimum hardware, and an invite-only pool needs WithInvite.
// A plain pool name (such as "demo") is an open pool with no descriptor.
func (n *Node) Join(ctx context.Context, pool string, opts ...JoinOption) error {
	if err := p2p.ValidatePoolID(pool); err != nil {
		return fmt.Errorf("node: join: %w", err)
	}
	var jc joinConfig
	for _, o := range opts {
		if err := o(&jc); err != nil {
			return fmt.Errorf("node: join %s: %w", pool, err)
		}
	}
	desc, admission, err := n.resolvePool(ctx, pool, jc)
	if err != nil {
		return fmt.Errorf("node: join %s: %w", pool, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if _, ok := n.pools[pool]; ok {
		return fmt.Errorf("node: join %s: %w", pool, ErrAlreadyInPool)
	}
	m, err := p2p.JoinMembership(ctx, n.stack.Host, n.stack.PubSub, pool, append([]p2p.MembershipOption{
		p2p.WithMembershipConfig(n.cfg.membership),
		p2p.WithMembershipLogger(n.log),
		p2p.WithStatus(p2p.Status{Hardware: n.hardware}),
	}, admission...)...)
	if err != nil {
		return fmt.Errorf("node: join %s: %w", pool, err)
	}
	if err := n.startCheckpoints(pool); err != nil {
		_ = m.Leave(ctx)
		return fmt.Errorf("node: join %s: %w", pool, err)
	}
	n.pools[pool] = &poolMembership{m: m, stopRendezvous: n.stack.Rendezvous(pool)}
	if err := n.work.join(n, pool); err != nil {
		n.log.Error("work topic: submissions and validation are off in this pool", "pool", pool, "err", err)
	}
	if desc != nil {
		n.registry.Keep(pool, n.poolReport(pool))
	}
	n.log.Info("joined pool", "pool", pool)
	return nil
}

// Leave sends a deathrattle to pool and stops taking part in it.
func (n *Node) Leave(ctx context.Context, pool string) error {
	n.mu.Lock()
	pm, ok := n.pools[pool]
	delete(n.pools, pool)
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("node: leave %s: %w", pool, ErrNotMember)
	}
	pm.stopRendezvous()
	if d, ok := n.registry.Get(pool); !ok || d.OwnerID() != n.ID() {
		n.registry.Forget(pool)
	}
	n.work.leave(pool)
	n.stopCheckpoints(pool)
	if err := pm.m.Leave(ctx); err != nil {
		return fmt.Errorf("node: leave %s: %w", pool, err)
	}
	n.log.Info("left pool", "pool", pool)
	return nil
}

func (n *Node) membership(pool string) (*p2p.Membership, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	pm, ok := n.pools[pool]
	if !ok {
		return nil, fmt.Errorf("node: pool %s: %w", pool, ErrNotMember)
	}
	return pm.m, nil
}

// Membership returns the pool's membership, for components that need the
// live view (for example DiLoCo round formation).
func (n *Node) Membership(pool string) (*p2p.Membership, error) { return n.membership(pool) }

// Members returns the pool's membership view (nil when not a member).
func (n *Node) Members(pool string) []p2p.Member {
	m, err := n.membership(pool)
	if err != nil {
		return nil
	}
	return m.Members()
}

// Subscribe returns membership events of pool (join, suspect, alive, leave,
// dead). The subscription closes when the node leaves the pool.
func (n *Node) Subscribe(pool string, buf int) (*p2p.Subscription, error) {
	m, err := n.membership(pool)
	if err != nil {
		return nil, err
	}
	return m.Subscribe(buf), nil
}

// SetProgress updates the outer step and checkpoint version that the node's
// heartbeats in pool report.
func (n *Node) SetProgress(pool string, outerStep, checkpointVersion uint64) error {
	m, err := n.membership(pool)
	if err != nil {
		return err
	}
	m.SetStatus(p2p.Status{OuterStep: outerStep, CheckpointVersion: checkpointVersion, Hardware: n.hardware})
	return nil
}

// Pools lists the pools the node is a member of, sorted.
func (n *Node) Pools() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Sorted(maps.Keys(n.pools))
}

// Close leaves every pool with a deathrattle (bounded by a few seconds in
// all), then stops the status API and the libp2p stack. Every goroutine the
// node started has ended when Close returns.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	pools := n.pools
	n.pools = map[string]*poolMembership{}
	n.mu.Unlock()
	n.bgCancel()
	n.bg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for name, pm := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pm.stopRendezvous()
			if err := pm.m.LeaveForShutdown(ctx); err != nil {
				n.log.Warn("leave on close", "pool", name, "err", err)
			}
		}()
	}
	wg.Wait()
	n.work.close()
	n.closeCheckpoints()
	n.registry.Close()
	var errs []error
	if n.status != nil {
		errs = append(errs, n.status.close())
	}
	errs = append(errs, n.stack.Close())
	return errors.Join(errs...)
}

func shortID(id peer.ID) string {
	s := id.String()
	if len(s) > 8 {
		return s[len(s)-8:]
	}
	return s
}
