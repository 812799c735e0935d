package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Pool records: descriptors live in the DHT under /oppool/<id> and are
// gossiped on one global topic, together with member-count summaries.
const (
	// PoolsTopic is the global gossip topic for pool descriptors.
	PoolsTopic = "/openpool/pools/1.0.0"
	// PoolRecordNamespace is the DHT namespace of pool descriptors.
	PoolRecordNamespace = "oppool"
	// PoolListProtocol serves a node's pool catalog to a peer that asks.
	PoolListProtocol = protocol.ID("/openpool/pools/list/1.0.0")

	poolMsgDescriptor = 1
	poolMsgSummary    = 2
	maxPoolSummary    = 128
	// MaxPoolCatalog bounds how many pools a node remembers.
	MaxPoolCatalog = 1024
	maxListBytes   = 4 << 20
)

// Registry errors.
var (
	// ErrPoolNotFound is returned when no descriptor for a pool ID is known.
	ErrPoolNotFound = errors.New("pool not found")
	// ErrNotStored means a descriptor was accepted and gossiped but not yet
	// stored in the DHT; the registry keeps trying.
	ErrNotStored = errors.New("pool descriptor not stored in the DHT yet")
)

// PoolRecordKey is the DHT key of a pool's descriptor.
func PoolRecordKey(id string) string { return "/" + PoolRecordNamespace + "/" + id }

// PoolRecordValidator is the DHT record validator for pool descriptors: a
// record is valid when it decodes, its owner signature verifies and its ID
// is the key's; among valid records the highest sequence number wins.
type PoolRecordValidator struct {
	// Sink, when set, receives every descriptor that validates.
	Sink func(*PoolDescriptor)
}

// Validate implements record.Validator.
func (v PoolRecordValidator) Validate(key string, value []byte) error {
	id, ok := strings.CutPrefix(key, "/"+PoolRecordNamespace+"/")
	if !ok {
		return fmt.Errorf("%w: key %q is not in the %s namespace", ErrBadDescriptor, key, PoolRecordNamespace)
	}
	d, err := DecodePoolDescriptor(value)
	if err != nil {
		return err
	}
	if d.ID != id {
		return fmt.Errorf("%w: record for %s stored under %s", ErrBadDescriptor, d.ID, id)
	}
	if v.Sink != nil {
		v.Sink(d)
	}
	return nil
}

// Select implements record.Validator.
func (v PoolRecordValidator) Select(key string, values [][]byte) (int, error) {
	best, bestIdx := (*PoolDescriptor)(nil), -1
	for i, val := range values {
		d, err := DecodePoolDescriptor(val)
		if err != nil || PoolRecordKey(d.ID) != key {
			continue
		}
		if d.Newer(best) {
			best, bestIdx = d, i
		}
	}
	if bestIdx < 0 {
		return 0, fmt.Errorf("%w: no valid record for %s", ErrBadDescriptor, key)
	}
	return bestIdx, nil
}

// PoolSummary is a member's report of a pool's state, gossiped so that
// nodes outside the pool can list it with a member count.
type PoolSummary struct {
	Pool              string    `json:"pool"`
	Reporter          peer.ID   `json:"reporter"`
	Members           uint32    `json:"members"`
	OuterStep         uint64    `json:"outer_step"`
	CheckpointVersion uint64    `json:"checkpoint_version"`
	Time              time.Time `json:"time"`
}

func (s *PoolSummary) marshal() []byte {
	b := []byte{poolMsgSummary}
	b = appendBytes(b, []byte(s.Pool))
	b = binary.AppendUvarint(b, uint64(s.Members))
	b = binary.AppendUvarint(b, s.OuterStep)
	b = binary.AppendUvarint(b, s.CheckpointVersion)
	return binary.AppendUvarint(b, uint64(max(s.Time.UnixMilli(), 0)))
}

func decodePoolSummary(data []byte, from peer.ID) (*PoolSummary, error) {
	if len(data) > maxPoolSummary {
		return nil, fmt.Errorf("%w: pool summary of %d bytes", ErrMalformed, len(data))
	}
	r := newWireReader(data)
	if r.U8() != poolMsgSummary {
		return nil, fmt.Errorf("%w: not a pool summary", ErrMalformed)
	}
	s := PoolSummary{Reporter: from}
	s.Pool = string(r.Bytes(maxPoolIDLen))
	s.Members = uint32(r.UvarintMax(1 << 24))
	s.OuterStep = r.Uvarint()
	s.CheckpointVersion = r.Uvarint()
	ms := r.UvarintMax(1 << 50)
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.B) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes in pool summary", ErrMalformed)
	}
	if err := ValidatePoolID(s.Pool); err != nil {
		return nil, err
	}
	s.Time = time.UnixMilli(int64(ms))
	return &s, nil
}

// PoolEntry is what a node knows of one pool.
type PoolEntry struct {
	Descriptor *PoolDescriptor `json:"descriptor"`
	Summary    *PoolSummary    `json:"summary,omitempty"`
	Seen       time.Time       `json:"seen"`
}

// PoolRegistryConfig tunes a PoolRegistry. Zero values take defaults.
type PoolRegistryConfig struct {
	// GossipInterval is how often descriptors this node publishes or keeps
	// are gossiped again (default 30 s).
	GossipInterval time.Duration
	// DHTInterval is how often they are stored in the DHT again (default
	// 10 min; DHT records expire after a day and a half).
	DHTInterval time.Duration
	// SummaryMaxAge drops summaries older than this from listings
	// (default 3 gossip intervals).
	SummaryMaxAge time.Duration
	Logger        *slog.Logger
}

// PoolRegistry keeps this node's catalog of pools: it validates descriptors
// arriving by gossip, by the list protocol and from the DHT, keeps the newest
// per pool, and republishes the descriptors this node owns or keeps.
type PoolRegistry struct {
	cfg   PoolRegistryConfig
	h     host.Host
	ps    *pubsub.PubSub
	dht   *dht.IpfsDHT
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	entries  map[string]*PoolEntry
	kept     map[string]bool // descriptors republished by this node
	reports  map[string]func() *PoolSummary
	watchers map[chan *PoolDescriptor]struct{}
	rejected map[string]uint64
}

// NewPoolRegistry joins the global pools topic and serves the list protocol.
// d may be nil (no DHT storage). Close stops it.
func NewPoolRegistry(h host.Host, ps *pubsub.PubSub, d *dht.IpfsDHT, cfg PoolRegistryConfig) (*PoolRegistry, error) {
	if cfg.GossipInterval <= 0 {
		cfg.GossipInterval = 30 * time.Second
	}
	if cfg.DHTInterval <= 0 {
		cfg.DHTInterval = 10 * time.Minute
	}
	if cfg.SummaryMaxAge <= 0 {
		cfg.SummaryMaxAge = 3 * cfg.GossipInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &PoolRegistry{
		cfg: cfg, h: h, ps: ps, dht: d, log: cfg.Logger,
		entries:  make(map[string]*PoolEntry),
		kept:     make(map[string]bool),
		reports:  make(map[string]func() *PoolSummary),
		watchers: make(map[chan *PoolDescriptor]struct{}),
		rejected: make(map[string]uint64),
	}
	if err := ps.RegisterTopicValidator(PoolsTopic, r.validate); err != nil {
		return nil, fmt.Errorf("p2p: pools topic validator: %w", err)
	}
	topic, err := ps.Join(PoolsTopic)
	if err != nil {
		_ = ps.UnregisterTopicValidator(PoolsTopic)
		return nil, fmt.Errorf("p2p: join pools topic: %w", err)
	}
	if err := topic.SetScoreParams(TopicScoreParams()); err != nil {
		r.log.Warn("pools topic scoring disabled", "err", err)
	}
	sub, err := topic.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		_ = topic.Close()
		_ = ps.UnregisterTopicValidator(PoolsTopic)
		return nil, fmt.Errorf("p2p: subscribe pools topic: %w", err)
	}
	r.topic, r.sub = topic, sub
	h.SetStreamHandler(PoolListProtocol, r.serveList)
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx, r.cancel = ctx, cancel
	r.wg.Add(2)
	go r.receive(ctx)
	go r.republish(ctx)
	return r, nil
}

// Close stops gossip, republishing and the list protocol.
func (r *PoolRegistry) Close() {
	r.h.RemoveStreamHandler(PoolListProtocol)
	r.cancel()
	r.sub.Cancel()
	r.wg.Wait()
	_ = r.topic.Close()
	_ = r.ps.UnregisterTopicValidator(PoolsTopic)
	r.mu.Lock()
	for ch := range r.watchers {
		close(ch)
		delete(r.watchers, ch)
	}
	r.mu.Unlock()
}

func (r *PoolRegistry) count(reason string) {
	r.mu.Lock()
	r.rejected[reason]++
	r.mu.Unlock()
}

// Rejected counts refused pool messages by reason ("malformed",
// "bad_signature", "stale").
func (r *PoolRegistry) Rejected() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.rejected))
	for k, v := range r.rejected {
		out[k] = v
	}
	return out
}

func (r *PoolRegistry) validate(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	data := msg.GetData()
	if len(data) == 0 || len(data) > MaxDescriptorSize+1 {
		r.count(RejectMalformed)
		return pubsub.ValidationReject
	}
	switch data[0] {
	case poolMsgDescriptor:
		d, err := DecodePoolDescriptor(data[1:])
		if err != nil {
			if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrNotOwner) {
				r.count("bad_signature")
			} else {
				r.count(RejectMalformed)
			}
			r.log.Debug("rejected pool descriptor", "from", msg.GetFrom(), "err", err)
			return pubsub.ValidationReject
		}
		r.mu.Lock()
		old := r.entries[d.ID]
		r.mu.Unlock()
		if old != nil && old.Descriptor.Newer(d) {
			// Older descriptors (replays) are dropped without penalising the
			// relay, which may simply have been late. Republished copies of
			// the current one pass, so they reach nodes that missed it.
			if d.Seq < old.Descriptor.Seq {
				r.count(RejectStale)
			}
			return pubsub.ValidationIgnore
		}
		msg.ValidatorData = d
		return pubsub.ValidationAccept
	case poolMsgSummary:
		s, err := decodePoolSummary(data, msg.GetFrom())
		if err != nil {
			r.count(RejectMalformed)
			return pubsub.ValidationReject
		}
		if time.Since(s.Time).Abs() > 2*time.Minute {
			r.count(RejectReplay)
			return pubsub.ValidationIgnore
		}
		msg.ValidatorData = s
		return pubsub.ValidationAccept
	}
	r.count(RejectMalformed)
	return pubsub.ValidationReject
}

func (r *PoolRegistry) receive(ctx context.Context) {
	defer r.wg.Done()
	for {
		msg, err := r.sub.Next(ctx)
		if err != nil {
			return
		}
		switch v := msg.ValidatorData.(type) {
		case *PoolDescriptor:
			r.add(v)
		case *PoolSummary:
			r.mu.Lock()
			if e := r.entries[v.Pool]; e != nil && (e.Summary == nil || v.Time.After(e.Summary.Time)) {
				e.Summary = v
			}
			r.mu.Unlock()
		}
	}
}

// Offer adds a descriptor that was verified elsewhere (for example by the
// DHT record validator) when it is newer than the known one.
func (r *PoolRegistry) Offer(d *PoolDescriptor) { r.add(d) }

// add stores d when it is newer than what is known and tells watchers. It
// reports whether d was stored.
func (r *PoolRegistry) add(d *PoolDescriptor) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.entries[d.ID]
	if old != nil && !d.Newer(old.Descriptor) {
		if d.Seq == old.Descriptor.Seq {
			old.Seen = time.Now()
		}
		return false
	}
	if old == nil && len(r.entries) >= MaxPoolCatalog {
		r.evictLocked()
	}
	e := &PoolEntry{Descriptor: d, Seen: time.Now()}
	if old != nil {
		e.Summary = old.Summary
	}
	r.entries[d.ID] = e
	for ch := range r.watchers {
		select {
		case ch <- d:
		default:
		}
	}
	return true
}

// evictLocked drops the least recently seen pool this node does not keep.
func (r *PoolRegistry) evictLocked() {
	var victim string
	var oldest time.Time
	for id, e := range r.entries {
		if r.kept[id] {
			continue
		}
		if victim == "" || e.Seen.Before(oldest) {
			victim, oldest = id, e.Seen
		}
	}
	if victim != "" {
		delete(r.entries, victim)
	}
}

// Watch returns a channel of descriptors as they are accepted (new pools and
// updates). Slow readers miss updates rather than block the registry. The
// channel closes when ctx ends or the registry closes.
func (r *PoolRegistry) Watch(ctx context.Context, buf int) <-chan *PoolDescriptor {
	ch := make(chan *PoolDescriptor, max(buf, 1))
	r.mu.Lock()
	r.watchers[ch] = struct{}{}
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-ctx.Done():
		case <-r.ctx.Done():
		}
		r.mu.Lock()
		if _, ok := r.watchers[ch]; ok {
			delete(r.watchers, ch)
			close(ch)
		}
		r.mu.Unlock()
	}()
	return ch
}

// Publish stores d (signed by its owner) in the catalog, the DHT and on the
// pools topic, and keeps republishing it until Forget or Close. It fails
// when d is not newer than the descriptor already known for its ID.
func (r *PoolRegistry) Publish(ctx context.Context, d *PoolDescriptor) error {
	d0 := d
	raw, err := d.MarshalBinary()
	if err != nil {
		return fmt.Errorf("p2p: publish pool: %w", err)
	}
	if _, err := DecodePoolDescriptor(raw); err != nil {
		return fmt.Errorf("p2p: publish pool: %w", err)
	}
	if !r.add(d) {
		return fmt.Errorf("p2p: publish pool %s: sequence %d is not newer than the known descriptor", d.ID, d.Seq)
	}
	r.mu.Lock()
	r.kept[d.ID] = true
	r.mu.Unlock()
	// A node that has just started has an empty routing table for a moment:
	// wait a little for it rather than leave the DHT copy to the next
	// republish.
	if r.dht != nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for wctx.Err() == nil && len(r.dht.RoutingTable().ListPeers()) == 0 {
			select {
			case <-wctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		cancel()
	}
	r.gossip(ctx, raw)
	// Gossip sent just after peers meet can miss some of them: repeat it a
	// few times soon after, before the regular republish interval.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(d):
			}
			if cur, ok := r.Get(d0.ID); ok && cur.Seq == d0.Seq {
				r.gossip(r.ctx, raw)
			}
		}
	}()
	if err := r.putDHT(ctx, d.ID, raw); err != nil {
		// Gossip and the republish loop still spread it; the caller decides
		// whether a missing DHT copy matters.
		return fmt.Errorf("%w: %w", ErrNotStored, err)
	}
	return nil
}

// Keep makes this node republish the newest descriptor of id (a pool it is a
// member of), so the pool stays findable while its owner is offline.
func (r *PoolRegistry) Keep(id string, report func() *PoolSummary) {
	r.mu.Lock()
	r.kept[id] = true
	if report != nil {
		r.reports[id] = report
	}
	r.mu.Unlock()
}

// Forget stops republishing id.
func (r *PoolRegistry) Forget(id string) {
	r.mu.Lock()
	delete(r.kept, id)
	delete(r.reports, id)
	r.mu.Unlock()
}

func (r *PoolRegistry) gossip(ctx context.Context, raw []byte) {
	msg := append([]byte{poolMsgDescriptor}, raw...)
	if err := r.topic.Publish(ctx, msg); err != nil && ctx.Err() == nil {
		r.log.Debug("pool descriptor not gossiped", "err", err)
	}
}

func (r *PoolRegistry) putDHT(ctx context.Context, id string, raw []byte) error {
	if r.dht == nil {
		return nil
	}
	if len(r.dht.RoutingTable().ListPeers()) == 0 {
		r.log.Debug("pool descriptor not stored in DHT yet: routing table empty", "pool", id)
		return errors.New("DHT routing table is empty")
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.dht.PutValue(pctx, PoolRecordKey(id), raw); err != nil {
		r.log.Debug("pool descriptor not stored in DHT", "pool", id, "err", err)
		return err
	}
	return nil
}

// republish gossips owned descriptors and summaries every GossipInterval,
// and stores kept descriptors in the DHT (and gossips them) every
// DHTInterval or when they change.
func (r *PoolRegistry) republish(ctx context.Context) {
	defer r.wg.Done()
	gossipT := time.NewTicker(r.cfg.GossipInterval)
	defer gossipT.Stop()
	lastDHT := time.Now()
	stored := map[string]uint64{} // seq last stored in the DHT per pool
	for {
		select {
		case <-ctx.Done():
			return
		case <-gossipT.C:
		}
		dhtDue := time.Since(lastDHT) >= r.cfg.DHTInterval
		if dhtDue {
			lastDHT = time.Now()
		}
		type item struct {
			id     string
			raw    []byte
			seq    uint64
			owned  bool
			report func() *PoolSummary
		}
		var items []item
		r.mu.Lock()
		for id := range r.kept {
			e := r.entries[id]
			if e == nil {
				continue
			}
			raw, err := e.Descriptor.MarshalBinary()
			if err != nil {
				continue
			}
			items = append(items, item{id, raw, e.Descriptor.Seq, e.Descriptor.OwnerID() == r.h.ID(), r.reports[id]})
		}
		r.mu.Unlock()
		for _, it := range items {
			// Owners gossip every interval; members that keep a pool only
			// with the DHT refresh, so a big pool does not flood the topic.
			if it.owned || dhtDue {
				r.gossip(ctx, it.raw)
			}
			if dhtDue || stored[it.id] != it.seq {
				if r.putDHT(ctx, it.id, it.raw) == nil {
					stored[it.id] = it.seq
				}
			}
			if it.report != nil {
				if s := it.report(); s != nil {
					s.Pool, s.Time = it.id, time.Now()
					if err := r.topic.Publish(ctx, s.marshal()); err != nil && ctx.Err() == nil {
						r.log.Debug("pool summary not gossiped", "err", err)
					}
				}
			}
		}
	}
}

// Get returns the newest known descriptor of id from the catalog.
func (r *PoolRegistry) Get(id string) (*PoolDescriptor, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil {
		return nil, false
	}
	return e.Descriptor, true
}

// Lookup finds id's descriptor: from the DHT when there is one (so that an
// update this node missed is seen), else from the catalog.
func (r *PoolRegistry) Lookup(ctx context.Context, id string) (*PoolDescriptor, error) {
	if err := ValidatePoolID(id); err != nil {
		return nil, err
	}
	if _, ok := SplitPoolID(id); !ok {
		return nil, fmt.Errorf("%w: %q is a plain pool name without a descriptor", ErrPoolNotFound, id)
	}
	if r.dht != nil && len(r.dht.RoutingTable().ListPeers()) > 0 {
		gctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		raw, err := r.dht.GetValue(gctx, PoolRecordKey(id))
		cancel()
		if err == nil {
			if d, derr := DecodePoolDescriptor(raw); derr == nil && d.ID == id {
				r.add(d)
			}
		} else {
			r.log.Debug("pool descriptor not found in DHT", "pool", id, "err", err)
		}
	}
	if d, ok := r.Get(id); ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrPoolNotFound, id)
}

// List returns the catalog sorted by pool ID. Summaries older than
// SummaryMaxAge are left out.
func (r *PoolRegistry) List() []PoolEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PoolEntry, 0, len(r.entries))
	for _, e := range r.entries {
		c := *e
		if c.Summary != nil && time.Since(c.Summary.Time) > r.cfg.SummaryMaxAge {
			c.Summary = nil
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b PoolEntry) int { return strings.Compare(a.Descriptor.ID, b.Descriptor.ID) })
	return out
}

// serveList writes the catalog: each descriptor as a length-prefixed pool
// message, then its summary when one is known.
func (r *PoolRegistry) serveList(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(15 * time.Second))
	w := bufio.NewWriter(s)
	total := 0
	for _, e := range r.List() {
		raw, err := e.Descriptor.MarshalBinary()
		if err != nil {
			continue
		}
		msgs := [][]byte{append([]byte{poolMsgDescriptor}, raw...)}
		if e.Summary != nil {
			msgs = append(msgs, e.Summary.marshal())
		}
		for _, m := range msgs {
			total += len(m)
			if total > maxListBytes {
				_ = w.Flush()
				return
			}
			if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(m)))); err != nil {
				return
			}
			if _, err := w.Write(m); err != nil {
				return
			}
		}
	}
	_ = w.Flush()
}

// FetchCatalog asks p for its pool catalog and adds every descriptor that
// verifies to this node's catalog. It returns how many were new or newer.
func (r *PoolRegistry) FetchCatalog(ctx context.Context, p peer.ID) (int, error) {
	s, err := r.h.NewStream(network.WithAllowLimitedConn(ctx, "pool list"), p, PoolListProtocol)
	if err != nil {
		return 0, fmt.Errorf("p2p: pool list from %s: %w", p, err)
	}
	defer s.Close()
	_ = s.CloseWrite()
	deadline := time.Now().Add(20 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.SetReadDeadline(deadline)
	br := bufio.NewReader(io.LimitReader(s, maxListBytes+64<<10))
	added, count := 0, 0
	var last *PoolDescriptor
	for count < 2*MaxPoolCatalog {
		n, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return added, nil
		}
		if err != nil {
			return added, fmt.Errorf("p2p: pool list from %s: %w", p, err)
		}
		if n == 0 || n > MaxDescriptorSize+1 {
			return added, fmt.Errorf("p2p: pool list from %s: %w: entry of %d bytes", p, ErrMalformed, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return added, fmt.Errorf("p2p: pool list from %s: %w", p, err)
		}
		count++
		switch buf[0] {
		case poolMsgDescriptor:
			d, err := DecodePoolDescriptor(buf[1:])
			if err != nil {
				r.count("bad_signature")
				return added, fmt.Errorf("p2p: pool list from %s: %w", p, err)
			}
			if r.add(d) {
				added++
			}
			last = d
		case poolMsgSummary:
			sum, err := decodePoolSummary(buf, p)
			if err != nil || last == nil || sum.Pool != last.ID {
				continue
			}
			r.mu.Lock()
			if e := r.entries[sum.Pool]; e != nil && e.Summary == nil {
				e.Summary = sum
			}
			r.mu.Unlock()
		default:
			return added, fmt.Errorf("p2p: pool list from %s: %w: unknown entry kind %d", p, ErrMalformed, buf[0])
		}
	}
	return added, nil
}
