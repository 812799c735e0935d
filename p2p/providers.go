package p2p

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ProviderTTL is how long a DHT server keeps a provider record. Nodes
// re-provide their pools every 10 minutes, so three missed rounds drop a
// record; kad-dht's default (48 h, with the provider's addresses kept 24 h
// in the peerstore) made a bootstrap node's heap grow with every peer that
// ever passed through, for two days.
const ProviderTTL = 30 * time.Minute

// Bounds of the provider store: a flood of keys or providers evicts the
// records closest to expiry instead of growing memory.
const (
	maxProviderKeys    = 1 << 16
	maxProvidersPerKey = 1024
	maxProviderAddrs   = 16
)

// providerStore is the DHT's provider record store (kad-dht's
// records.ProviderStore): in memory, records expire after ttl, bounded in
// keys, providers per key and addresses per provider; the addresses live
// with the record, not in the peerstore.
type providerStore struct {
	ttl  time.Duration
	now  func() time.Time
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	keys map[string]map[peer.ID]providerEntry
}

type providerEntry struct {
	addrs   []ma.Multiaddr
	expires time.Time
}

// newProviderStore starts a store whose expired records are swept every
// ttl/4; Close stops the sweeper.
func newProviderStore(ttl time.Duration) *providerStore {
	ctx, cancel := context.WithCancel(context.Background())
	s := &providerStore{ttl: ttl, now: time.Now, stop: cancel, done: make(chan struct{}), keys: map[string]map[peer.ID]providerEntry{}}
	go s.sweep(ctx)
	return s
}

func (s *providerStore) sweep(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(max(s.ttl/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expire()
		}
	}
}

// expire drops every expired record.
func (s *providerStore) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, provs := range s.keys {
		for p, e := range provs {
			if !now.Before(e.expires) {
				delete(provs, p)
			}
		}
		if len(provs) == 0 {
			delete(s.keys, k)
		}
	}
}

// AddProvider records (or refreshes) prov as a provider of key.
func (s *providerStore) AddProvider(_ context.Context, key []byte, prov peer.AddrInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	provs, ok := s.keys[string(key)]
	if !ok {
		if len(s.keys) >= maxProviderKeys {
			s.evictKey()
		}
		provs = map[peer.ID]providerEntry{}
		s.keys[string(key)] = provs
	}
	if _, ok := provs[prov.ID]; !ok && len(provs) >= maxProvidersPerKey {
		evictSoonest(provs)
	}
	addrs := prov.Addrs
	if len(addrs) > maxProviderAddrs {
		addrs = addrs[:maxProviderAddrs]
	}
	if len(addrs) == 0 {
		addrs = provs[prov.ID].addrs // a refresh without addresses keeps the known ones
	}
	provs[prov.ID] = providerEntry{addrs: slices.Clone(addrs), expires: s.now().Add(s.ttl)}
	return nil
}

// GetProviders returns the unexpired providers of key with their addresses.
func (s *providerStore) GetProviders(_ context.Context, key []byte) ([]peer.AddrInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []peer.AddrInfo
	for p, e := range s.keys[string(key)] {
		if now.Before(e.expires) {
			out = append(out, peer.AddrInfo{ID: p, Addrs: slices.Clone(e.addrs)})
		}
	}
	return out, nil
}

// Close stops the sweeper; the DHT calls it when it closes.
func (s *providerStore) Close() error {
	s.stop()
	<-s.done
	return nil
}

// evictSoonest drops the provider closest to expiry.
func evictSoonest(provs map[peer.ID]providerEntry) {
	var victim peer.ID
	var at time.Time
	for p, e := range provs {
		if victim == "" || e.expires.Before(at) {
			victim, at = p, e.expires
		}
	}
	delete(provs, victim)
}

// evictKey drops the key whose newest record expires first; the caller
// holds s.mu.
func (s *providerStore) evictKey() {
	var victim string
	var at time.Time
	found := false
	for k, provs := range s.keys {
		var newest time.Time
		for _, e := range provs {
			if e.expires.After(newest) {
				newest = e.expires
			}
		}
		if !found || newest.Before(at) {
			victim, at, found = k, newest, true
		}
	}
	delete(s.keys, victim)
}
