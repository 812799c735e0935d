package shardcast

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSourcesPerSourceBound: with at least as many candidates as download
// workers a peer with a request in flight is not asked again; with fewer,
// up to maxPerSource requests go to one peer.
func TestSourcesPerSourceBound(t *testing.T) {
	const parallel = 4
	now := time.Now()
	for _, tc := range []struct{ n, inflight int }{{parallel, 1}, {parallel + 3, 1}, {parallel - 1, 1}, {1, 1}, {1, maxPerSource}, {parallel - 1, maxPerSource}} {
		s := newSources(1, parallel)
		var cands []peer.ID
		for i := range tc.n {
			p := peer.ID(fmt.Sprintf("peer-%d", i))
			cands = append(cands, p)
			for range tc.inflight {
				s.start(p)
			}
		}
		got := s.pick(cands, now)
		want := tc.n < parallel && tc.inflight < maxPerSource
		if (got != "") != want {
			t.Errorf("%d candidates with %d requests in flight each: pick = %q, want a peer: %v", tc.n, tc.inflight, got, want)
		}
	}
}
