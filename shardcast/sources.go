package shardcast

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Source-choice constants.
const (
	// emaAlpha weighs the newest observation, as in Prime Intellect's
	// shardcast client.
	emaAlpha = 0.3
	// explore is the chance of picking a source uniformly at random instead
	// of by weight, so that a peer measured slow once gets measured again.
	explore = 0.1
	// minSuccess keeps a failing peer's weight above zero: it recovers
	// slowly, through exploration and later successes.
	minSuccess = 0.05
	// busyBackoff is how long a peer that answered Busy is not asked again.
	busyBackoff = 100 * time.Millisecond
	// downBackoff is how long a peer we could not reach is not asked again;
	// it doubles per consecutive failure up to maxDownBackoff.
	downBackoff = 500 * time.Millisecond
	// maxPerSource bounds this node's requests in flight to one peer, so
	// that its downloads spread over several uplinks instead of queueing
	// on the one that has the rarest shards. When there are at least as
	// many sources as download workers, the bound is 1: every request goes
	// to a different uplink (lab, N=16: 1.43-1.48 of S/B in 5 runs against
	// 1.48-1.55 with 2). With fewer sources the second request keeps a
	// long link busy while the first one's answer is on its way.
	maxPerSource   = 2
	maxDownBackoff = 30 * time.Second
)

// peerStats is what a fetcher knows about one source.
type peerStats struct {
	throughput float64 // EMA, bytes per second; 0 = not measured
	success    float64 // EMA of 1 (success) and 0 (failure)
	inflight   int     // requests from us in progress
	fails      int     // consecutive failures
	notBefore  time.Time
	banned     bool // sent bytes that did not match a CID
}

// sources tracks peer quality for one Service. It is safe for concurrent use.
type sources struct {
	mu       sync.Mutex
	peers    map[peer.ID]*peerStats
	rng      *rand.Rand
	parallel int // download workers per fetch
}

func newSources(seed uint64, parallel int) *sources {
	return &sources{peers: map[peer.ID]*peerStats{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), parallel: parallel}
}

// perSource is the bound on requests in flight to one of n candidates.
func (s *sources) perSource(n int) int {
	if n >= s.parallel {
		return 1
	}
	return maxPerSource
}

func (s *sources) get(p peer.ID) *peerStats {
	st := s.peers[p]
	if st == nil {
		st = &peerStats{success: 1}
		s.peers[p] = st
	}
	return st
}

// pick chooses one of candidates, or "" if none may be asked now.
// Weight: EMA(throughput) x EMA(success) / (1 + requests in flight);
// unmeasured peers get the best measured throughput so they are tried.
func (s *sources) pick(candidates []peer.ID, now time.Time) peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best float64
	for _, p := range candidates {
		if st := s.peers[p]; st != nil && st.throughput > best {
			best = st.throughput
		}
	}
	if best == 0 {
		best = 1
	}
	limit := s.perSource(len(candidates))
	eligible := candidates[:0:0]
	weights := make([]float64, 0, len(candidates))
	var total float64
	for _, p := range candidates {
		st := s.get(p)
		if st.banned || now.Before(st.notBefore) || st.inflight >= limit {
			continue
		}
		tp := st.throughput
		if tp == 0 {
			tp = best
		}
		w := tp * max(st.success, minSuccess) / float64(1+st.inflight*st.inflight)
		eligible = append(eligible, p)
		weights = append(weights, w)
		total += w
	}
	if len(eligible) == 0 {
		return ""
	}
	if s.rng.Float64() < explore {
		return eligible[s.rng.IntN(len(eligible))]
	}
	x := s.rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return eligible[i]
		}
		x -= w
	}
	return eligible[len(eligible)-1]
}

func (s *sources) start(p peer.ID) {
	s.mu.Lock()
	s.get(p).inflight++
	s.mu.Unlock()
}

// done records the end of one request to p that moved n bytes in d.
func (s *sources) done(p peer.ID, n int64, d time.Duration, err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(p)
	st.inflight--
	switch {
	case err == nil:
		st.fails = 0
		st.success = emaAlpha + (1-emaAlpha)*st.success
		if n > 0 && d > 0 {
			tp := float64(n) / d.Seconds()
			if st.throughput == 0 {
				st.throughput = tp
			} else {
				st.throughput = emaAlpha*tp + (1-emaAlpha)*st.throughput
			}
		}
	case errors.Is(err, ErrPeerDefer):
		// Not a verdict on the peer: it has other shards to give.
	case isBusy(err):
		st.notBefore = now.Add(busyBackoff)
	default:
		st.fails++
		st.success = (1 - emaAlpha) * st.success
		back := downBackoff << min(st.fails-1, 8)
		st.notBefore = now.Add(min(back, maxDownBackoff))
	}
}

func (s *sources) ban(p peer.ID) {
	s.mu.Lock()
	s.get(p).banned = true
	s.mu.Unlock()
}

// penalize lowers p's success rate as for a failure, without a ban.
func (s *sources) penalize(p peer.ID) {
	s.mu.Lock()
	st := s.get(p)
	st.success = (1 - emaAlpha) * st.success
	s.mu.Unlock()
}

// PeerScore is a snapshot of what a Service knows about one source.
type PeerScore struct {
	Throughput float64 // EMA, bytes per second
	Success    float64 // EMA of successes, 0..1
	Banned     bool
}

func (s *sources) snapshot() map[peer.ID]PeerScore {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]PeerScore, len(s.peers))
	for p, st := range s.peers {
		out[p] = PeerScore{Throughput: st.throughput, Success: st.success, Banned: st.banned}
	}
	return out
}
