package diloco

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/openpool/openpool/internal/swarmtest"
)

func newRings(t testing.TB, hs []host.Host, opts ...RingOption) []*Ring {
	t.Helper()
	rs := make([]*Ring, len(hs))
	for i, h := range hs {
		r, err := NewRing(h, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		rs[i] = r
	}
	return rs
}

func sortedIDs(hs []host.Host) []peer.ID {
	ids := make([]peer.ID, len(hs))
	for i, h := range hs {
		ids[i] = h.ID()
	}
	slices.Sort(ids)
	return ids
}

func roundID(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// runAll runs one all-reduce on every ring concurrently and returns each error.
func runAll(ctx context.Context, rs []*Ring, rd Round, data [][]float32) []error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rs[i].AllReduce(ctx, rd, data[i])
		}()
	}
	wg.Wait()
	return errs
}

func randomVectors(seed uint64, peers, n int, scale float64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	data := make([][]float32, peers)
	for i := range data {
		data[i] = make([]float32, n)
		for k := range data[i] {
			data[i][k] = float32(r.NormFloat64() * scale * float64(1+i%3))
		}
	}
	return data
}

// TestAllReduce8Peers: 8 real loopback hosts; fp32 equals the exact mean
// within float32 rounding and int8 stays within the documented bound; every
// peer ends with the same bits.
func TestAllReduce8Peers(t *testing.T) {
	hs := swarmtest.Hosts(t, 8)
	swarmtest.ConnectAll(t, hs)
	rs := newRings(t, hs, WithChunkElems(4096), WithLanes(2), WithReadTimeout(20*time.Second))
	group := sortedIDs(hs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		mode Mode
		n    int
	}{{Float32, 100_003}, {Int8, 100_003}, {Float32, 5}, {Int8, 13}} {
		t.Run(fmt.Sprintf("%v-%d", tc.mode, tc.n), func(t *testing.T) {
			data := randomVectors(uint64(tc.n), len(hs), tc.n, 1e-3)
			orig := make([][]float32, len(data))
			for i := range data {
				orig[i] = slices.Clone(data[i])
			}
			// ranks follow the sorted group, hosts are in creation order
			byHost := make([][]float32, len(hs))
			for i, h := range hs {
				byHost[i] = data[slices.Index(group, h.ID())]
			}
			rd := Round{ID: roundID(t.Name()), Group: group, Mode: tc.mode}
			for i, err := range runAll(ctx, rs, rd, byHost) {
				if err != nil {
					t.Fatalf("peer %d: %v", i, err)
				}
			}
			var sumAbsMax float64
			for _, o := range orig {
				var a float64
				for _, x := range o {
					a = max(a, math.Abs(float64(x)))
				}
				sumAbsMax += a
			}
			bound := Int8ErrorBound(len(hs), sumAbsMax)
			var worst, sq, ref float64
			for k := range tc.n {
				var exact, absSum float64
				for _, o := range orig {
					exact += float64(o[k])
					absSum += math.Abs(float64(o[k]))
				}
				exact /= float64(len(orig))
				got := float64(data[0][k])
				for i := range data {
					if math.Float32bits(data[i][k]) != math.Float32bits(data[0][k]) {
						t.Fatalf("peer %d differs at %d: %v vs %v", i, k, data[i][k], data[0][k])
					}
				}
				d := math.Abs(got - exact)
				worst = max(worst, d)
				sq += d * d
				ref += exact * exact
				switch tc.mode {
				case Float32:
					if tol := 0x1p-23*absSum + 0x1p-24*math.Abs(exact); d > tol {
						t.Fatalf("fp32 value %d: got %v, exact mean %v (tolerance %v)", k, got, exact, tol)
					}
				case Int8:
					if d > bound {
						t.Fatalf("int8 value %d: got %v, exact mean %v, error %v > bound %v", k, got, exact, d, bound)
					}
				}
			}
			t.Logf("%v: worst abs error %.3g (int8 bound %.3g), relative L2 error %.3g", tc.mode, worst, bound, math.Sqrt(sq/max(ref, 1e-300)))
		})
	}
}

// TestAllReduceBadPeer: a peer whose frames are wrong (length, round tag,
// sequence, garbage values) makes its right neighbour fail the round with a
// *PeerError that blames it as a protocol violation; nobody panics.
func TestAllReduceBadPeer(t *testing.T) {
	corruptions := map[string]func(phase, chunk int, frame []byte) []byte{
		"wrong-length": func(phase, chunk int, f []byte) []byte {
			if phase == 1 {
				f[16]++
			}
			return f
		},
		"wrong-round": func(phase, chunk int, f []byte) []byte {
			if phase == 0 {
				f[0] ^= 0xff
			}
			return f
		},
		"wrong-sequence": func(phase, chunk int, f []byte) []byte {
			if phase == 2 {
				f[4]++
			}
			return f
		},
		"garbage-values": func(phase, chunk int, f []byte) []byte {
			if phase == 1 {
				for i := frameHeaderSize; i < len(f); i++ {
					f[i] = 0xff // NaN
				}
			}
			return f
		},
		"garbage-values-all-gather": func(phase, chunk int, f []byte) []byte {
			if phase == 4 { // the values land in the vector before the check
				for i := frameHeaderSize + 40; i < len(f); i += 4 {
					copy(f[i:], []byte{0, 0, 0x80, 0x7f}) // +Inf
				}
			}
			return f
		},
	}
	for name, mutate := range corruptions {
		t.Run(name, func(t *testing.T) {
			hs := swarmtest.Hosts(t, 4)
			swarmtest.ConnectAll(t, hs)
			group := sortedIDs(hs)
			bad := group[1]
			rs := make([]*Ring, len(hs))
			for i, h := range hs {
				opts := []RingOption{WithChunkElems(512), WithReadTimeout(5 * time.Second), WithHelloTimeout(5 * time.Second)}
				if h.ID() == bad {
					opts = append(opts, withFrameMutator(mutate))
				}
				rs[i] = newRings(t, []host.Host{h}, opts...)[0]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			data := randomVectors(1, len(hs), 5000, 1)
			errs := runAll(ctx, rs, Round{ID: roundID(name), Group: group, Mode: Float32}, data)
			blamed := false
			for i, err := range errs {
				if err == nil && name == "garbage-values-all-gather" && allFinite(data[i]) {
					// The corrupt frame is caught by the peer it is sent to,
					// which forwards nothing; a peer that already had all its
					// frames may finish, with clean values. The rounds'
					// commit (every member's result hash) keeps it from
					// applying them.
					t.Logf("peer %d finished with finite values before the abort reached it", i)
					continue
				}
				if err == nil {
					t.Errorf("peer %d completed a round with a corrupt peer", i)
					continue
				}
				var pe *PeerError
				if errors.As(err, &pe) && pe.Violation && pe.Peer == bad && errors.Is(err, ErrProtocol) {
					blamed = true
					t.Logf("peer %d: %v", i, err)
				}
			}
			if !blamed {
				t.Fatalf("nobody blamed the bad peer %s: %v", bad, errs)
			}
		})
	}
}

// TestAllReduceDeadPeer: a peer that stops mid-round makes every other peer
// fail within the read timeout rather than hang.
func TestAllReduceDeadPeer(t *testing.T) {
	hs := swarmtest.Hosts(t, 4)
	swarmtest.ConnectAll(t, hs)
	group := sortedIDs(hs)
	stall := make(chan struct{})
	rs := make([]*Ring, len(hs))
	for i, h := range hs {
		opts := []RingOption{WithChunkElems(512), WithReadTimeout(time.Second), WithHelloTimeout(5 * time.Second)}
		if h.ID() == group[2] {
			opts = append(opts, withFrameMutator(func(phase, chunk int, f []byte) []byte {
				if phase == 3 {
					select { // hang mid-round, as a stalled process would
					case <-stall:
					case <-time.After(4 * time.Second):
					}
				}
				return f
			}))
		}
		rs[i] = newRings(t, []host.Host{h}, opts...)[0]
	}
	defer close(stall)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := runAll(ctx, rs, Round{ID: roundID("dead"), Group: group, Mode: Int8}, randomVectors(2, 4, 20000, 1))
	for i, err := range errs {
		if hs[i].ID() == group[2] {
			continue
		}
		if err == nil {
			t.Errorf("peer %d completed despite a stalled peer", i)
		}
	}
}

// addF32 and checkFinite find an Inf or NaN at any position of any length
// (they test blocks of 8 values branch-free, then the tail) and accept the
// largest and smallest finite values.
func TestAddF32RejectsNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.MaxFloat32, -math.MaxFloat32, 0, math.SmallestNonzeroFloat32, -1.5} {
		finite := !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v))
		for n := 1; n <= 19; n++ {
			for k := range n {
				src := make([]float32, n)
				src[k] = v
				dst := make([]float32, n)
				for i := range dst {
					dst[i] = 1
				}
				errAdd := addF32(dst, f32bytes(src))
				errCheck := checkFinite(src)
				if (errAdd == nil) != finite || (errCheck == nil) != finite {
					t.Fatalf("value %v at %d of %d: addF32 %v, checkFinite %v", v, k, n, errAdd, errCheck)
				}
				if finite && dst[k] != 1+v {
					t.Fatalf("value %v at %d of %d: sum %v", v, k, n, dst[k])
				}
			}
		}
	}
}

func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
