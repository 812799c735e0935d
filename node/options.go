package node

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/openpool/openpool/p2p"
)

// config collects the options; defaults live in defaultConfig.
type config struct {
	dataDir       string
	identity      crypto.PrivKey
	listen        []ma.Multiaddr
	bootstrap     []peer.AddrInfo
	bootstrapNode bool
	nat           bool
	upnp          bool
	unlimited     bool
	membership    p2p.MembershipConfig
	hardware      *p2p.Hardware
	seenTTL       time.Duration
	statusAddr    string
	limits        Limits
	poolRegistry  p2p.PoolRegistryConfig
	logger        *slog.Logger
	work          workConfig
	checkpoints   checkpointConfig
}

func defaultConfig() config {
	return config{nat: true, membership: p2p.DefaultMembershipConfig(), logger: slog.Default()}
}

// Option configures New.
type Option func(*config) error

// WithDataDir keeps the node's identity (and later its keys, checkpoints and
// state) in dir. Without it, and without WithIdentity, the node has an
// ephemeral identity.
func WithDataDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return fmt.Errorf("node: empty data directory")
		}
		c.dataDir = dir
		return nil
	}
}

// WithIdentity sets the libp2p key directly (it takes precedence over the
// data directory's key).
func WithIdentity(k crypto.PrivKey) Option {
	return func(c *config) error { c.identity = k; return nil }
}

// WithListenAddrs sets the addresses to listen on (TCP and QUIC multiaddrs).
func WithListenAddrs(addrs ...ma.Multiaddr) Option {
	return func(c *config) error { c.listen = addrs; return nil }
}

// WithBootstrap sets the bootstrap peers by multiaddr (each ending in
// /p2p/<peer-id>).
func WithBootstrap(addrs ...ma.Multiaddr) Option {
	return func(c *config) error {
		infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
		if err != nil {
			return fmt.Errorf("node: bootstrap address: %w", err)
		}
		c.bootstrap = append(c.bootstrap, infos...)
		return nil
	}
}

// WithBootstrapPeers sets the bootstrap peers by address info.
func WithBootstrapPeers(infos ...peer.AddrInfo) Option {
	return func(c *config) error { c.bootstrap = append(c.bootstrap, infos...); return nil }
}

// AsBootstrapNode makes this node a bootstrap node: DHT server, circuit
// relay v2 service, AutoNAT service and gossipsub peer exchange.
func AsBootstrapNode() Option {
	return func(c *config) error { c.bootstrapNode = true; return nil }
}

// WithNAT turns NAT traversal (AutoNAT, auto relay, hole punching) on or
// off. Default on.
func WithNAT(on bool) Option {
	return func(c *config) error { c.nat = on; return nil }
}

// WithUPnP asks the router for a port mapping. Default off.
func WithUPnP(on bool) Option {
	return func(c *config) error { c.upnp = on; return nil }
}

// WithUnlimitedResources drops the libp2p resource limits; for many nodes in
// one test process only.
func WithUnlimitedResources() Option {
	return func(c *config) error { c.unlimited = true; return nil }
}

// WithHeartbeatInterval sets the membership heartbeat interval (default
// 2 s); the failure detector's timings scale with it.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("node: heartbeat interval %v is below 10ms", d)
		}
		// The other timings follow the interval again; the mode and the
		// table bound are not timings and stay as set.
		c.membership = p2p.MembershipConfig{Interval: d, Mode: c.membership.Mode, MaxMembers: c.membership.MaxMembers}
		return nil
	}
}

// WithMembershipMode selects the membership protocol (p2p.ModeHeartbeat
// or p2p.ModeSWIM; p2p.ModeDefault: the library's default) and keeps the
// timings set before it.
func WithMembershipMode(md p2p.MembershipMode) Option {
	return func(c *config) error {
		if md > p2p.ModeSWIM {
			return fmt.Errorf("node: unknown membership mode %d", md)
		}
		c.membership.Mode = md
		return nil
	}
}

// WithMembershipConfig sets all membership timings.
func WithMembershipConfig(mc p2p.MembershipConfig) Option {
	return func(c *config) error { c.membership = mc; return nil }
}

// WithHardware overrides the detected hardware summary.
func WithHardware(hw p2p.Hardware) Option {
	return func(c *config) error { c.hardware = &hw; return nil }
}

// WithSeenMessagesTTL sets how long gossipsub remembers message IDs.
func WithSeenMessagesTTL(d time.Duration) Option {
	return func(c *config) error { c.seenTTL = d; return nil }
}

// WithStatusAddr serves the status API (GET /status as JSON, GET /metrics
// for Prometheus) on addr, for example "127.0.0.1:0".
func WithStatusAddr(addr string) Option {
	return func(c *config) error { c.statusAddr = addr; return nil }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithPoolOwner names the owner of pool by its libp2p public key (for a
// peer ID p: p.ExtractPublicKey()). When the node joins pool it runs
// shardcast for it: it fetches every newer checkpoint the owner announces,
// verified against this key, and serves the shards it holds to the other
// members. The owner itself passes its own key and publishes with
// PublishCheckpoint. A pool created with CreatePool needs no WithPoolOwner:
// its descriptor names the owner. Pools without a known owner get no
// checkpoints.
func WithPoolOwner(pool string, owner crypto.PubKey) Option {
	return func(c *config) error {
		if err := p2p.ValidatePoolID(pool); err != nil {
			return fmt.Errorf("node: pool owner: %w", err)
		}
		if owner == nil {
			return fmt.Errorf("node: pool owner of %s: nil key", pool)
		}
		if c.checkpoints.owners == nil {
			c.checkpoints.owners = map[string]crypto.PubKey{}
		}
		c.checkpoints.owners[pool] = owner
		return nil
	}
}

// WithCheckpointHandler calls f (on a shardcast goroutine; it must not
// block long) each time a checkpoint announced by a pool owner is complete
// in the node's store.
func WithCheckpointHandler(f func(Checkpoint)) Option {
	return func(c *config) error { c.checkpoints.handler = f; return nil }
}

// WithCheckpointAnnounceInterval sets how often the newest checkpoint held
// is re-announced so that late joiners learn of it (default
// shardcast.DefaultAnnounceInterval, 30 s).
func WithCheckpointAnnounceInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("node: checkpoint announce interval %v must be positive", d)
		}
		c.checkpoints.announce = d
		return nil
	}
}

// WithPoolRegistryConfig tunes how often pool descriptors this node owns or
// keeps are gossiped and stored in the DHT again.
func WithPoolRegistryConfig(c p2p.PoolRegistryConfig) Option {
	return func(cfg *config) error { cfg.poolRegistry = c; return nil }
}
