package shardcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// Defaults of a Service.
const (
	// DefaultParallel shards download at once: enough that the downlink
	// stays full while some flows wait for their first byte (a round trip
	// through loaded queues) or for a slow source. In the network lab, 8
	// beat 4 (and 12 did no better).
	DefaultParallel = 8
	// DefaultUploadSlots shards upload at once; a further request waits up
	// to queueWait for a slot, then gets Busy and goes elsewhere. Fewer
	// slots finish each shard sooner (faster relaying) and put fewer TCP
	// flows on the uplink's queue (fewer drops); more keep the uplink full
	// while some flows wait on the receiver's downlink. In the network lab
	// on an idle 16-core machine (N=16, 40 Mbit/s, 256 KiB shards), 4 and
	// 3 beat 8 (1.48-1.54 against 1.58 of S/B), 16 was worse (1.75) and 2
	// too few (1.61).
	DefaultUploadSlots = 4
	// DefaultStallTimeout is the no-progress timeout of a transfer: a source
	// that sends no byte for this long is dropped and another one continues.
	DefaultStallTimeout = 10 * time.Second
	// DefaultHaveInterval is the least time between two have-map
	// advertisements of one manifest.
	DefaultHaveInterval = 250 * time.Millisecond
	// DefaultAnnounceInterval re-announces the newest held manifest so that
	// nodes that joined later learn of it.
	DefaultAnnounceInterval = 30 * time.Second
	// wantInterval repeats a request for sources while a fetch has none.
	wantInterval = time.Second
	// connectTimeout bounds opening a stream (including a dial).
	connectTimeout = 10 * time.Second
	// maxAutoFetches bounds the fetches that announcements start at once.
	maxAutoFetches = 2
	// autoManifestTimeout gives up an announced manifest no peer serves.
	autoManifestTimeout = time.Minute
	// maxTrackedPeers bounds the have-maps kept per manifest.
	maxTrackedPeers = 4096
)

// ErrClosed is returned by a Service after Close.
var ErrClosed = errors.New("shardcast: service closed")

type config struct {
	log              *slog.Logger
	parallel         int
	uploadSlots      int
	stallTimeout     time.Duration
	haveInterval     time.Duration
	announceInterval time.Duration
	retain           int
	autoFetch        bool
	onComplete       func(cid.Cid, *Manifest)
	seed             uint64
	uploadRate       float64 // bytes per second; 0 = unlimited
}

// Option configures a Service.
type Option func(*config) error

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.log = l; return nil }
}

// WithParallel sets how many shards download at once (default DefaultParallel).
func WithParallel(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("shardcast: parallel %d, want 1..64", n)
		}
		c.parallel = n
		return nil
	}
}

// WithUploadSlots sets how many shards upload at once (default DefaultUploadSlots).
func WithUploadSlots(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("shardcast: upload slots %d, want 1..256", n)
		}
		c.uploadSlots = n
		return nil
	}
}

// WithUploadRate caps the bytes per second this node uploads, over all its
// transfers (default: unlimited). Home nodes use it to keep their uplink
// usable; tests use it to make transfers slower than gossip.
func WithUploadRate(bytesPerSecond float64) Option {
	return func(c *config) error {
		if bytesPerSecond < 16<<10 {
			return fmt.Errorf("shardcast: upload rate %.0f B/s below 16 KiB/s", bytesPerSecond)
		}
		c.uploadRate = bytesPerSecond
		return nil
	}
}

// WithStallTimeout sets the no-progress timeout of transfers (default DefaultStallTimeout).
func WithStallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("shardcast: stall timeout %v must be positive", d)
		}
		c.stallTimeout = d
		return nil
	}
}

// WithHaveInterval sets the least time between two have-map advertisements
// of one manifest (default DefaultHaveInterval).
func WithHaveInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("shardcast: have interval %v below 10ms", d)
		}
		c.haveInterval = d
		return nil
	}
}

// WithAnnounceInterval sets how often the newest held manifest is
// re-announced (default DefaultAnnounceInterval).
func WithAnnounceInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond {
			return fmt.Errorf("shardcast: announce interval %v below 100ms", d)
		}
		c.announceInterval = d
		return nil
	}
}

// WithRetain sets how many versions of the pool to keep (default RetainVersions).
func WithRetain(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("shardcast: retain %d, want >= 1", n)
		}
		c.retain = n
		return nil
	}
}

// WithAutoFetch makes the Service fetch every announced manifest newer than
// the newest it holds, and call onComplete (if not nil) when one is complete.
func WithAutoFetch(onComplete func(cid.Cid, *Manifest)) Option {
	return func(c *config) error { c.autoFetch = true; c.onComplete = onComplete; return nil }
}

// Stats counts a Service's traffic.
type Stats struct {
	BytesFetched  int64 // shard bytes received (including rejected ones)
	ShardsFetched int64 // shards received and verified
	BytesServed   int64
	ShardsServed  int64
	HashFailures  int64 // shards received whose bytes did not match their CID
	BadManifests  int64 // manifests received that did not verify
	Busy          int64 // requests answered Busy
	Failed        int64 // requests that failed otherwise (stall, reset, dial)
	Downloads     int   // shard downloads in progress now
	Uploads       int   // shard uploads in progress now
}

type counters struct {
	bytesFetched, shardsFetched, bytesServed, shardsServed, hashFailures, badManifests, busy, failed, downloads atomic.Int64
}

// tracked is what a Service knows about one manifest it holds or fetches.
type tracked struct {
	c       cid.Cid
	m       *Manifest // nil until known
	own     bitmap    // shards we hold (nil until m is known)
	holders map[peer.ID]bitmap
	// changed is closed (and replaced) whenever holders or own change.
	changed chan struct{}
	// haveDue: our have-map (or a want, if m is nil) should be advertised.
	haveDue  bool
	lastHave time.Time
	fetch    *fetchCall // in progress, or nil
	served   []int      // uploads started per shard
	unserved int        // shards never uploaded
	origin   bool       // published here
}

type shardRef struct {
	t *tracked
	i int
}

type fetchCall struct {
	done chan struct{}
	m    *Manifest
	err  error
}

func (t *tracked) signal() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Service runs shardcast for one pool on one host: it serves the Store on
// Protocol(pool), announces and advertises on the pool's checkpoint topic, and
// fetches manifests. One host serves one Store: if a host runs Services for
// several pools, they must share the Store.
type Service struct {
	h      host.Host
	ps     *pubsub.PubSub
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	store  *Store
	pool   string
	proto  protocol.ID // Protocol(pool)
	owner  crypto.PubKey
	cfg    config
	log    *slog.Logger
	src    *sources
	slots  chan struct{}
	queued atomic.Int64  // requests waiting for a slot
	burst  atomic.Int64  // announcements still to repeat every second after Publish
	rate   *rate.Limiter // nil: unlimited
	cnt    counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	tracked map[cid.Cid]*tracked
	index   map[cid.Cid][]shardRef // shard CID -> where it is in tracked manifests
	latest  cid.Cid                // newest complete manifest, re-announced
	latestV uint64
	// autoRunning counts auto-fetches in progress (at most maxAutoFetches).
	autoRunning int
	closed      bool
}

// New starts shardcast for pool on h, with ps's gossip and st's storage.
// owner is the pool owner's public key: only manifests it signed are fetched.
func New(h host.Host, ps *pubsub.PubSub, st *Store, pool string, owner crypto.PubKey, opts ...Option) (*Service, error) {
	cfg := config{
		log:              slog.Default(),
		parallel:         DefaultParallel,
		uploadSlots:      DefaultUploadSlots,
		stallTimeout:     DefaultStallTimeout,
		haveInterval:     DefaultHaveInterval,
		announceInterval: DefaultAnnounceInterval,
		retain:           RetainVersions,
		seed:             rand.Uint64(),
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if h == nil || ps == nil || st == nil || owner == nil {
		return nil, errors.New("shardcast: New needs a host, a pubsub, a store and the pool owner's key")
	}
	if err := checkPool(pool); err != nil {
		return nil, err
	}
	s := &Service{
		h: h, ps: ps, store: st, pool: pool, proto: Protocol(pool), owner: owner, cfg: cfg,
		log:     cfg.log.With("pool", pool),
		src:     newSources(cfg.seed, cfg.parallel),
		slots:   make(chan struct{}, cfg.uploadSlots),
		tracked: map[cid.Cid]*tracked{},
		index:   map[cid.Cid][]shardRef{},
	}
	if cfg.uploadRate > 0 {
		s.rate = rate.NewLimiter(rate.Limit(cfg.uploadRate), rateBurst)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.loadHeld(); err != nil {
		return nil, err
	}
	name := TopicName(pool)
	if err := ps.RegisterTopicValidator(name, s.validate); err != nil {
		return nil, fmt.Errorf("shardcast: validator for %s: %w", name, err)
	}
	topic, err := ps.Join(name)
	if err != nil {
		_ = ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("shardcast: join %s: %w", name, err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		_ = topic.Close()
		_ = ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("shardcast: subscribe %s: %w", name, err)
	}
	s.topic, s.sub = topic, sub
	h.SetStreamHandler(s.proto, s.handleStream)
	s.wg.Add(2)
	go s.readGossip()
	go s.advertise()
	return s, nil
}

// loadHeld tracks the pool's manifests already in the store, so that the
// Service serves and advertises them after a restart.
func (s *Service) loadHeld() error {
	all, err := s.store.List()
	if err != nil {
		return err
	}
	for _, e := range all {
		if e.Manifest.Pool != s.pool || !e.Manifest.Owner.Equals(s.owner) {
			continue
		}
		t := s.trackLocked(e.CID)
		own := newBitmap(len(e.Manifest.Shards))
		for i, sh := range e.Manifest.Shards {
			if s.store.HasShard(sh.CID, int64(sh.Size)) {
				own.set(i)
			}
		}
		s.setManifestLocked(t, e.Manifest, own)
		if e.Complete() && (!s.latest.Defined() || e.Manifest.Version > s.latestV) {
			s.latest, s.latestV = e.CID, e.Manifest.Version
		}
	}
	return nil
}

// Close stops the Service: its goroutines, its topic and its stream handler.
// Fetches in progress return ErrClosed.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.h.RemoveStreamHandler(s.proto)
	s.sub.Cancel()
	s.wg.Wait()
	err := s.topic.Close()
	_ = s.ps.UnregisterTopicValidator(TopicName(s.pool))
	if err != nil {
		return fmt.Errorf("shardcast: close topic: %w", err)
	}
	return nil
}

// Stats returns the traffic counters.
func (s *Service) Stats() Stats {
	return Stats{
		BytesFetched:  s.cnt.bytesFetched.Load(),
		ShardsFetched: s.cnt.shardsFetched.Load(),
		BytesServed:   s.cnt.bytesServed.Load(),
		ShardsServed:  s.cnt.shardsServed.Load(),
		HashFailures:  s.cnt.hashFailures.Load(),
		BadManifests:  s.cnt.badManifests.Load(),
		Busy:          s.cnt.busy.Load(),
		Failed:        s.cnt.failed.Load(),
		Downloads:     int(s.cnt.downloads.Load()),
		Uploads:       len(s.slots),
	}
}

// Peers returns what the Service knows about its sources.
func (s *Service) Peers() map[peer.ID]PeerScore { return s.src.snapshot() }

// Store is the Service's store.
func (s *Service) Store() *Store { return s.store }

// Progress reports the shards held of manifest c, and its total, or false
// if c is not known yet.
func (s *Service) Progress(c cid.Cid) (have, total int, haveBytes, totalBytes uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracked[c]
	if t == nil || t.m == nil {
		return 0, 0, 0, 0, false
	}
	for i, sh := range t.m.Shards {
		if t.own.has(i) {
			have++
			haveBytes += uint64(sh.Size)
		}
	}
	return have, len(t.m.Shards), haveBytes, t.m.TotalSize(), true
}

// setManifestLocked records that t's manifest is m and we hold own.
func (s *Service) setManifestLocked(t *tracked, m *Manifest, own bitmap) {
	if t.m == nil {
		for i, sh := range m.Shards {
			s.index[sh.CID] = append(s.index[sh.CID], shardRef{t, i})
		}
		t.served = make([]int, len(m.Shards))
		// Counted per distinct CID: admit serves by CID.
		distinct := map[cid.Cid]bool{}
		for _, sh := range m.Shards {
			distinct[sh.CID] = true
		}
		t.unserved = len(distinct)
	}
	t.m, t.own = m, own
}

func (s *Service) trackLocked(c cid.Cid) *tracked {
	t := s.tracked[c]
	if t == nil {
		t = &tracked{c: c, holders: map[peer.ID]bitmap{}, changed: make(chan struct{})}
		s.tracked[c] = t
	}
	return t
}

// Publish builds a checkpoint from src (see Build), stores it, and announces
// it on the pool's topic. key must be the pool owner's private key.
func (s *Service) Publish(ctx context.Context, key crypto.PrivKey, version uint64, src string, opts ...BuildOption) (cid.Cid, *Manifest, error) {
	if !key.GetPublic().Equals(s.owner) {
		return cid.Undef, nil, fmt.Errorf("shardcast: publish: %w", ErrWrongSigner)
	}
	m, c, err := Build(ctx, s.store, key, s.pool, version, src, opts...)
	if err != nil {
		return cid.Undef, nil, err
	}
	s.mu.Lock()
	t := s.trackLocked(c)
	own := newBitmap(len(m.Shards))
	for i := range m.Shards {
		own.set(i)
	}
	s.setManifestLocked(t, m, own)
	t.origin = true
	t.haveDue = true
	if !s.latest.Defined() || version >= s.latestV {
		s.latest, s.latestV = c, version
	}
	s.mu.Unlock()
	if err := s.announce(ctx, c, version); err != nil {
		return c, m, err
	}
	s.burst.Store(3) // gossip may miss a peer once; repeat soon

	s.prune()
	return c, m, nil
}

func (s *Service) announce(ctx context.Context, c cid.Cid, version uint64) error {
	msg := gossipMsg{typ: gossipAnnounce, cid: c, version: version}
	if err := s.topic.Publish(ctx, msg.encode()); err != nil {
		return fmt.Errorf("shardcast: announce %v: %w", c, err)
	}
	return nil
}

// prune applies retention and forgets removed manifests.
func (s *Service) prune() {
	removed, err := s.store.Prune(s.pool, s.cfg.retain)
	if err != nil {
		s.log.Warn("shardcast: prune", "err", err)
	}
	s.mu.Lock()
	for _, c := range removed {
		if t := s.tracked[c]; t != nil && t.m != nil {
			for _, sh := range t.m.Shards {
				refs := s.index[sh.CID][:0]
				for _, r := range s.index[sh.CID] {
					if r.t != t {
						refs = append(refs, r)
					}
				}
				if len(refs) == 0 {
					delete(s.index, sh.CID)
				} else {
					s.index[sh.CID] = refs
				}
			}
		}
		delete(s.tracked, c)
	}
	s.mu.Unlock()
}

// validate is the topic validator: malformed messages are rejected (and
// lower the sender's gossipsub score).
func (s *Service) validate(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if _, err := decodeGossip(msg.Data); err != nil {
		return pubsub.ValidationReject
	}
	return pubsub.ValidationAccept
}

func (s *Service) readGossip() {
	defer s.wg.Done()
	for {
		msg, err := s.sub.Next(s.ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == s.h.ID() && msg.GetFrom() == s.h.ID() {
			continue
		}
		g, err := decodeGossip(msg.Data)
		if err != nil {
			continue
		}
		s.handleGossip(msg.GetFrom(), g)
	}
}

func (s *Service) handleGossip(from peer.ID, g gossipMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tracked[g.cid]
	switch g.typ {
	case gossipAnnounce:
		if t == nil {
			if t = s.autoFetchLocked(g.cid, g.version); t == nil {
				return
			}
		}
		// The announcer holds the whole manifest.
		if _, ok := t.holders[from]; !ok && len(t.holders) < maxTrackedPeers {
			t.holders[from] = nil // nil: everything
			t.signal()
		}
	case gossipHave:
		if t == nil && g.shards > 0 {
			// A have-map is an announcement too: a node that missed the
			// announcement learns of the checkpoint from its fetchers.
			t = s.autoFetchLocked(g.cid, g.version)
		}
		if t == nil {
			return
		}
		if g.shards == 0 { // a want
			if t.own != nil && t.own.count() > 0 {
				t.haveDue = true
			}
			return
		}
		if t.m != nil && g.shards != len(t.m.Shards) {
			return // a have-map of another shape: malformed for this manifest
		}
		prev, known := t.holders[from]
		if !known {
			if len(t.holders) >= maxTrackedPeers {
				return
			}
			// A peer we did not know: tell it what we have.
			if t.own != nil && t.own.count() > 0 {
				t.haveDue = true
			}
		}
		t.holders[from] = bitmap(g.bitmap)
		// Wake the fetch only if it can do something new: every have-map
		// of every peer waking every download worker costs more CPU than
		// the transfers themselves in a large swarm.
		if t.fetch != nil && (!known || t.own == nil || newForUs(prev, g.bitmap, t.own)) {
			t.signal()
		}
	}
}

// newForUs reports whether next has a shard that prev had not and own lacks.
func newForUs(prev, next, own bitmap) bool {
	if prev == nil { // "everything" before: nothing can be new
		return false
	}
	for k := range next {
		if k < len(prev) && k < len(own) && next[k]&^prev[k]&^own[k] != 0 {
			return true
		}
	}
	return false
}

// autoFetchLocked starts fetching manifest c of the claimed version if
// auto-fetch is on and the version is newer than the newest held; it
// returns the tracked entry, or nil.
func (s *Service) autoFetchLocked(c cid.Cid, version uint64) *tracked {
	if !s.cfg.autoFetch || s.closed || (s.latest.Defined() && version <= s.latestV) {
		return nil
	}
	// Anyone may announce anything: bound what announcements can start.
	if s.autoRunning >= maxAutoFetches {
		return nil
	}
	s.autoRunning++
	t := s.trackLocked(c)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(s.ctx)
		defer cancel()
		// A manifest nobody serves (a bogus announcement) is given up.
		watchdog := time.AfterFunc(autoManifestTimeout, func() {
			s.mu.Lock()
			if t.m == nil {
				cancel()
			}
			s.mu.Unlock()
		})
		m, err := s.Fetch(ctx, c)
		watchdog.Stop()
		s.mu.Lock()
		s.autoRunning--
		if err != nil && t.m == nil && t.fetch == nil {
			delete(s.tracked, c)
		}
		s.mu.Unlock()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("shardcast: auto-fetch failed", "manifest", c, "err", err)
			}
			return
		}
		if s.cfg.onComplete != nil {
			s.cfg.onComplete(c, m)
		}
	}()
	return t
}

// advertise publishes due have-maps, at most one per manifest per
// haveInterval, and re-announces the newest complete manifest.
func (s *Service) advertise() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.haveInterval)
	defer tick.Stop()
	lastAnnounce := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			var msgs [][]byte
			s.mu.Lock()
			for _, t := range s.tracked {
				if !t.haveDue || now.Sub(t.lastHave) < s.cfg.haveInterval {
					continue
				}
				t.haveDue, t.lastHave = false, now
				g := gossipMsg{typ: gossipHave, cid: t.c}
				if t.m != nil {
					g.version, g.shards, g.bitmap = t.m.Version, len(t.m.Shards), append([]byte(nil), t.own...)
				}
				msgs = append(msgs, g.encode())
			}
			latest, latestV := s.latest, s.latestV
			s.mu.Unlock()
			every := s.cfg.announceInterval
			if s.burst.Load() > 0 {
				every = min(every, time.Second)
			}
			if latest.Defined() && now.Sub(lastAnnounce) >= every {
				lastAnnounce = now
				s.burst.Add(-1)
				msgs = append(msgs, gossipMsg{typ: gossipAnnounce, cid: latest, version: latestV}.encode())
			}
			for _, b := range msgs {
				if err := s.topic.Publish(s.ctx, b); err != nil && s.ctx.Err() == nil {
					s.log.Debug("shardcast: publish have-map", "err", err)
				}
			}
		}
	}
}
