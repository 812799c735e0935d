package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// DHTProtocolPrefix keeps openpool's Kademlia DHT apart from the public IPFS
// DHT: its protocol is /openpool/kad/1.0.0.
const DHTProtocolPrefix = "/openpool"

// DefaultListenAddrs are used when Config.ListenAddrs is empty.
var DefaultListenAddrs = []string{
	"/ip4/0.0.0.0/tcp/4001",
	"/ip4/0.0.0.0/udp/4001/quic-v1",
	"/ip6/::/tcp/4001",
	"/ip6/::/udp/4001/quic-v1",
}

// Config describes one node's libp2p stack.
type Config struct {
	// Identity is the node's key; nil generates an ephemeral one.
	Identity crypto.PrivKey
	// ListenAddrs, for example /ip4/0.0.0.0/tcp/4001 and
	// /ip4/0.0.0.0/udp/4001/quic-v1. Empty means DefaultListenAddrs.
	ListenAddrs []ma.Multiaddr
	// Bootstrap peers to dial first (with their /p2p/ component).
	Bootstrap []peer.AddrInfo
	// BootstrapNode runs the DHT in server mode and offers circuit relay v2,
	// AutoNAT and gossipsub peer exchange to others. A bootstrap node is
	// reachable by definition (the others dial it first), so it declares
	// itself publicly reachable instead of waiting for AutoNAT to agree:
	// go-libp2p starts the relay service only on a public node, and AutoNAT
	// only tests public IP addresses, so a bootstrap node on a private
	// network (a LAN or data-centre swarm, the network lab) would otherwise
	// never relay, and nodes behind NAT could never reach each other.
	BootstrapNode bool
	// NAT enables the client side of NAT traversal: AutoNAT, relay
	// reservations on the bootstrap nodes (auto relay, or the relay keeper
	// for bootstrap nodes with private addresses), hole punching and
	// connection reversal (relay.go).
	// Off on loopback-only test swarms.
	NAT bool
	// UPnP asks the home router for a port mapping. It sends multicast on
	// the LAN, so it is off unless asked for.
	UPnP bool
	// ConnLow and ConnHigh are the connection manager's watermarks.
	// Defaults 100/400, or 400/2000 for bootstrap nodes.
	ConnLow, ConnHigh int
	// MaxConns, when positive, replaces the resource manager's system-wide
	// connection limits (total and inbound; outbound stays as scaled),
	// allows 16 streams per connection and a quarter of it handshaking, for bootstrap nodes that serve more
	// peers than the memory-scaled defaults allow (about 64 inbound plus 64
	// per GiB of an eighth of the machine's memory). File descriptors stay
	// bounded by half the process's open-file limit.
	MaxConns int
	// Unlimited replaces the resource manager's limits with none, for tests
	// that run dozens of hosts in one process.
	Unlimited bool
	// PubSub tunes gossipsub.
	PubSub PubSubConfig
	// Logger for the stack; nil means slog.Default().
	Logger *slog.Logger
}

// resourceLimits applies Config.MaxConns to the scaled limits.
func resourceLimits(scaled rcmgr.ConcreteLimitConfig, maxConns int) rcmgr.ConcreteLimitConfig {
	if maxConns <= 0 {
		return scaled
	}
	n := rcmgr.LimitVal(maxConns)
	// Connections still handshaking (the transient scope) get a quarter,
	// so a burst of peers reconnecting after a restart is not refused.
	t := max(n/4, rcmgr.LimitVal(scaled.ToPartialLimitConfig().Transient.ConnsInbound))
	return rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: n, ConnsInbound: n,
			Streams: 16 * n, StreamsInbound: 16 * n,
		},
		Transient: rcmgr.ResourceLimits{Conns: t, ConnsInbound: t},
	}.Build(scaled)
}

// Stack is one node's libp2p stack: host, DHT and gossipsub. Close stops
// everything it started.
type Stack struct {
	Host      host.Host
	DHT       *dht.IpfsDHT
	PubSub    *pubsub.PubSub
	Rejects   *RejectCounter
	Bandwidth *metrics.BandwidthCounter

	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	bootOnce  sync.Once
	bootReady chan struct{}

	// poolSink receives every pool descriptor the DHT validates (records
	// stored with this node or fetched by it), so DHT servers such as
	// bootstrap nodes know every pool stored with them.
	poolSink atomic.Pointer[func(*PoolDescriptor)]
}

// SetPoolSink sets the function that receives pool descriptors validated by
// the DHT (see PoolRegistry.Offer).
func (s *Stack) SetPoolSink(f func(*PoolDescriptor)) { s.poolSink.Store(&f) }

func (s *Stack) offerPool(d *PoolDescriptor) {
	if f := s.poolSink.Load(); f != nil {
		(*f)(d)
	}
}

// NewStack builds and starts the stack. It does not wait for the bootstrap
// peers: Start dials them in the background with backoff, and
// WaitBootstrapped reports the first success.
func NewStack(cfg Config) (*Stack, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	listen := cfg.ListenAddrs
	if len(listen) == 0 {
		for _, s := range DefaultListenAddrs {
			listen = append(listen, ma.StringCast(s))
		}
	}
	low, high := cfg.ConnLow, cfg.ConnHigh
	if low <= 0 || high <= low {
		low, high = 100, 400
		if cfg.BootstrapNode {
			low, high = 400, 2000
		}
	}
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	var rm network.ResourceManager = &network.NullResourceManager{}
	if !cfg.Unlimited {
		limits := rcmgr.DefaultLimits
		libp2p.SetDefaultServiceLimits(&limits)
		rm, err = rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits(limits.AutoScale(), cfg.MaxConns)))
		if err != nil {
			return nil, fmt.Errorf("p2p: resource manager: %w", err)
		}
	}
	bw := metrics.NewBandwidthCounter()
	var keeper *relayKeeper
	opts := []libp2p.Option{
		libp2p.ListenAddrs(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		Security(),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.BandwidthReporter(bw),
		libp2p.UserAgent("openpool"),
	}
	if cfg.Identity != nil {
		opts = append(opts, libp2p.Identity(cfg.Identity))
	}
	if cfg.BootstrapNode {
		opts = append(opts, libp2p.EnableRelayService(), libp2p.EnableNATService(), libp2p.ForceReachabilityPublic())
	}
	if cfg.NAT {
		// Every node answers AutoNAT dial-back requests (rate limited), so a
		// node behind NAT learns it is private from its pool's members and
		// not from the bootstrap nodes alone; that is what starts auto relay.
		opts = append(opts, libp2p.EnableRelay(), libp2p.EnableHolePunching(), libp2p.EnableAutoNATv2())
		if !cfg.BootstrapNode {
			opts = append(opts, libp2p.EnableNATService())
		}
		if !cfg.BootstrapNode {
			// Auto relay for the bootstrap nodes with public addresses,
			// the relay keeper (relay.go) for the others.
			var public, private []peer.AddrInfo
			for _, ai := range cfg.Bootstrap {
				if isPrivateRelay(ai) {
					private = append(private, ai)
				} else {
					public = append(public, ai)
				}
			}
			if len(public) > 0 {
				opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(public, autorelay.WithBackoff(relayBackoff)))
			}
			if len(private) > 0 {
				keeper = newRelayKeeper(private, log)
				opts = append(opts, libp2p.AddrsFactory(func(addrs []ma.Multiaddr) []ma.Multiaddr {
					return append(slices.Clip(addrs), keeper.Addrs()...)
				}))
			}
		}
	} else if !cfg.BootstrapNode {
		opts = append(opts, libp2p.DisableRelay())
	}
	if cfg.UPnP {
		opts = append(opts, libp2p.NATPortMap())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("p2p: start host: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stack{Host: h, Bandwidth: bw, cfg: cfg, log: log, ctx: ctx, cancel: cancel, bootReady: make(chan struct{})}
	mode := dht.ModeAuto
	if cfg.BootstrapNode {
		mode = dht.ModeServer
	}
	s.DHT, err = dht.New(ctx, h,
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.Mode(mode),
		dht.BootstrapPeers(cfg.Bootstrap...),
		dht.NamespacedValidator(PoolRecordNamespace, PoolRecordValidator{Sink: s.offerPool}),
		dht.ProviderStore(newProviderStore(ProviderTTL)),
	)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("p2p: start DHT: %w", err)
	}
	ps := cfg.PubSub
	ps.PeerExchange = ps.PeerExchange || cfg.BootstrapNode
	s.PubSub, s.Rejects, err = NewPubSub(ctx, h, ps)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.NAT {
		rev := newConnReversal(h, log)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			rev.run(ctx)
		}()
	}
	if keeper != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			keeper.run(ctx, h)
		}()
	}
	if len(cfg.Bootstrap) == 0 {
		s.bootOnce.Do(func() { close(s.bootReady) })
	} else {
		s.wg.Add(1)
		go s.maintainBootstrap()
	}
	return s, nil
}

// ID is the node's peer ID.
func (s *Stack) ID() peer.ID { return s.Host.ID() }

// Addrs returns the node's full multiaddrs (with /p2p/<id>).
func (s *Stack) Addrs() []ma.Multiaddr {
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: s.Host.ID(), Addrs: s.Host.Addrs()})
	return out
}

// WaitBootstrapped blocks until at least one bootstrap peer has been reached
// (at once when there are none) or ctx ends.
func (s *Stack) WaitBootstrapped(ctx context.Context) error {
	select {
	case <-s.bootReady:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("p2p: no bootstrap peer reachable: %w", ctx.Err())
	}
}

// maintainBootstrap dials the bootstrap peers until one answers, with
// exponential backoff (1 s doubling to 30 s, with jitter), naming each address
// that failed and why; afterwards it checks every 30 s and redials when the
// node has lost all of them, so that a partitioned swarm merges again.
func (s *Stack) maintainBootstrap() {
	defer s.wg.Done()
	backoff := time.Second
	for {
		n := s.dialBootstrap()
		wait := 30 * time.Second
		if n > 0 {
			s.bootOnce.Do(func() { close(s.bootReady) })
			backoff = time.Second
			if err := s.DHT.Bootstrap(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Warn("DHT bootstrap", "err", err)
			}
		} else {
			wait = backoff + rand.N(backoff/2)
			s.log.Warn("no bootstrap peer reachable; retrying", "in", wait.Round(time.Millisecond))
			backoff = min(2*backoff, 30*time.Second)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// dialBootstrap connects to every bootstrap peer not yet connected and
// returns how many are connected afterwards.
func (s *Stack) dialBootstrap() int {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
		n  int
	)
	for _, ai := range s.cfg.Bootstrap {
		if ai.ID == s.Host.ID() {
			continue
		}
		if s.Host.Network().Connectedness(ai.ID) == network.Connected {
			n++
			continue
		}
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			if err := s.Host.Connect(ctx, ai); err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("bootstrap peer unreachable", "peer", ai.ID, "addrs", ai.Addrs, "err", err)
				}
				return
			}
			s.log.Info("connected to bootstrap peer", "peer", ai.ID)
			mu.Lock()
			n++
			mu.Unlock()
		}(ai)
	}
	wg.Wait()
	return n
}

// PoolKey is the DHT key under which the members of a pool provide
// themselves: the CIDv1 (raw, sha2-256) of "openpool/pool/<pool>".
func PoolKey(pool string) cid.Cid {
	sum, _ := mh.Sum([]byte("openpool/pool/"+pool), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, sum)
}

// Rendezvous advertises this node as a member of pool in the DHT and
// connects to the other providers, quickly at first (every second) and then
// every 30 s, until stop is called or the stack closes. Gossipsub meshes form
// over the connections it makes.
func (s *Stack) Rendezvous(pool string) (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		s.rendezvous(ctx, pool)
	}()
	return func() { cancel(); <-done }
}

func (s *Stack) rendezvous(ctx context.Context, pool string) {
	key := PoolKey(pool)
	if err := s.WaitBootstrapped(ctx); err != nil {
		return
	}
	var provided time.Time
	period := time.Second
	for {
		wait := period
		switch {
		case s.DHT.RoutingTable().Size() == 0:
			// Connected, but identify has not yet told the DHT which peers
			// speak it: nothing to query yet.
			wait = 250 * time.Millisecond
		default:
			if time.Since(provided) > 10*time.Minute {
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := s.DHT.Provide(pctx, key, true)
				cancel()
				if err == nil {
					provided = time.Now()
				} else if ctx.Err() == nil {
					s.log.Debug("provide pool record", "pool", pool, "err", err)
				}
			}
			found := s.connectProviders(ctx, key)
			switch {
			case provided.IsZero():
				period = time.Second // keep trying to be found
			case found > 0:
				period = min(period, 4*time.Second) // still discovering
			default:
				period = min(2*period, 30*time.Second)
			}
			wait = period
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// connectProviders dials providers of key we are not connected to, in
// random order, until 16 answered, and returns how many new connections it
// made.
func (s *Stack) connectProviders(ctx context.Context, key cid.Cid) int {
	const (
		maxProviders = 1024 // collected per lookup
		wantConns    = 16   // stop dialing once this many new connections are up
		dialers      = 8
	)
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// The DHT lists providers oldest first, and after churn the oldest are
	// mostly gone: collect them all, shuffle, and dial with bounded
	// concurrency until enough answered.
	var cands []peer.AddrInfo
	lctx, lcancel := context.WithTimeout(fctx, 5*time.Second)
	for ai := range s.DHT.FindProvidersAsync(lctx, key, maxProviders) {
		if ai.ID == s.Host.ID() || s.Host.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		cands = append(cands, ai)
	}
	lcancel()
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		next int
	)
	for range min(dialers, len(cands)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if n >= wantConns || next >= len(cands) || fctx.Err() != nil {
					mu.Unlock()
					return
				}
				ai := cands[next]
				next++
				mu.Unlock()
				cctx, cancel := context.WithTimeout(fctx, 5*time.Second)
				err := s.Host.Connect(cctx, ai)
				cancel()
				if err == nil {
					mu.Lock()
					n++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return n
}

// Close stops the DHT, gossipsub and host, and waits for the stack's
// goroutines.
func (s *Stack) Close() error {
	s.cancel()
	s.wg.Wait()
	var errs []error
	if s.DHT != nil {
		errs = append(errs, s.DHT.Close())
	}
	errs = append(errs, s.Host.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("p2p: close: %w", err)
	}
	return nil
}

// ParseBootstrap parses bootstrap multiaddrs, each with a /p2p/<peer-id>
// component, into address infos (several addresses of one peer merge).
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("bad bootstrap address %q: %w", a, err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(m); err != nil {
			return nil, fmt.Errorf("bad bootstrap address %q: it must end in /p2p/<peer-id> (as `openpool bootstrap` prints): %w", a, err)
		}
		mas = append(mas, m)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("bad bootstrap address: %w", err)
	}
	return infos, nil
}
