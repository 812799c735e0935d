package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func testPeerIDs(t *testing.T, n int) []peer.ID {
	t.Helper()
	out := make([]peer.ID, n)
	for i := range out {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i], _ = peer.IDFromPublicKey(pub)
	}
	return out
}

// TestProviderStoreExpiresAndBounds: records expire after the TTL (a
// refresh extends them), keep their addresses, and a flood of providers
// for one key stays bounded.
func TestProviderStoreExpiresAndBounds(t *testing.T) {
	s := newProviderStore(time.Hour)
	defer s.Close()
	now := time.Unix(1_000_000, 0)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	ids := testPeerIDs(t, 2)
	addr := ma.StringCast("/ip4/10.0.0.1/tcp/4001")
	key := []byte("pool-key")
	if err := s.AddProvider(ctx, key, peer.AddrInfo{ID: ids[0], Addrs: []ma.Multiaddr{addr}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(40 * time.Minute)
	_ = s.AddProvider(ctx, key, peer.AddrInfo{ID: ids[1]})
	got, _ := s.GetProviders(ctx, key)
	if len(got) != 2 {
		t.Fatalf("providers %v, want 2", got)
	}
	for _, ai := range got {
		if ai.ID == ids[0] && (len(ai.Addrs) != 1 || !ai.Addrs[0].Equal(addr)) {
			t.Fatalf("provider addresses %v, want %v", ai.Addrs, addr)
		}
	}
	now = now.Add(30 * time.Minute) // ids[0] is 70 min old, ids[1] 30 min
	got, _ = s.GetProviders(ctx, key)
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("after the TTL: %v, want only the refreshed provider", got)
	}
	_ = s.AddProvider(ctx, key, peer.AddrInfo{ID: ids[1]}) // refresh
	now = now.Add(50 * time.Minute)
	if got, _ = s.GetProviders(ctx, key); len(got) != 1 {
		t.Fatalf("a refreshed provider expired early: %v", got)
	}
	now = now.Add(11 * time.Minute)
	s.expire()
	if len(s.keys) != 0 {
		t.Fatalf("expired records still held: %v", s.keys)
	}

	many := testPeerIDs(t, maxProvidersPerKey+50)
	for i, p := range many {
		now = now.Add(time.Millisecond)
		_ = s.AddProvider(ctx, key, peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/10.0.%d.%d/tcp/1", i/250, i%250))}})
	}
	if got, _ = s.GetProviders(ctx, key); len(got) != maxProvidersPerKey {
		t.Fatalf("%d providers held for one key, want the bound %d", len(got), maxProvidersPerKey)
	}
	held := map[peer.ID]bool{}
	for _, ai := range got {
		held[ai.ID] = true
	}
	if held[many[0]] || !held[many[len(many)-1]] {
		t.Fatal("the bound evicted the newest provider instead of the oldest")
	}
}
