//go:build lab

package diloco

// Heavy measurements behind the lab build tag; scripts/bench-diloco.sh runs
// them and prints the ratios. Environment: DILOCO_BENCH_PEERS (default
// "4,8"), DILOCO_BENCH_MIB (default "256,1024"), DILOCO_BENCH_REPEATS
// (default 3), DILOCO_BENCH_LANES (default 2).

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/openpool/openpool/internal/swarmtest"
)

func envInts(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("min %.3f median %.3f max %.3f", s[0], s[len(s)/2], s[len(s)-1])
}

// rawTCPRing sends bytes over n concurrent loopback TCP connections arranged
// as a ring and returns the per-link throughput in bytes/s.
func rawTCPRing(t *testing.T, n int, bytes int64) float64 {
	lns := make([]net.Listener, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns[i] = ln
	}
	buf := make([]byte, 1<<20)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(2)
		go func() { // receiver on i
			defer wg.Done()
			c, err := lns[i].Accept()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Error(err)
			}
		}()
		go func() { // sender i -> i+1
			defer wg.Done()
			c, err := net.Dial("tcp", lns[(i+1)%n].Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for sent := int64(0); sent < bytes; {
				k, err := c.Write(buf[:min(int64(len(buf)), bytes-sent)])
				if err != nil {
					t.Error(err)
					return
				}
				sent += int64(k)
			}
		}()
	}
	wg.Wait()
	return float64(bytes) / time.Since(start).Seconds()
}

const benchProto = "/openpool/diloco/bench/1.0.0"

// libp2pRing does the same over one libp2p stream per ring link (TLS 1.3
// with AES-GCM, yamux): the transport's own ceiling.
func libp2pRing(t *testing.T, hs []host.Host, bytes int64) float64 {
	n := len(hs)
	var wg sync.WaitGroup
	for _, h := range hs {
		h.SetStreamHandler(benchProto, func(s network.Stream) {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, s)
			_ = s.Close()
		})
	}
	buf := make([]byte, 1<<20)
	wg.Add(2 * n)
	start := time.Now()
	for i := range n {
		go func() {
			defer wg.Done()
			s, err := hs[i].NewStream(context.Background(), hs[(i+1)%n].ID(), benchProto)
			if err != nil {
				t.Error(err)
				return
			}
			for sent := int64(0); sent < bytes; {
				k, err := s.Write(buf[:min(int64(len(buf)), bytes-sent)])
				if err != nil {
					t.Error(err)
					return
				}
				sent += int64(k)
			}
			_ = s.CloseWrite()
			_, _ = io.Copy(io.Discard, s)
		}()
	}
	wg.Wait()
	return float64(bytes) / time.Since(start).Seconds()
}

// cpuTime is the CPU time (user + system) this process has used. On a
// shared machine a wall-clock throughput depends on what else runs; the CPU
// one measurement costs does not, and when both ends are CPU-bound (as on
// loopback) the ratio of CPU costs is the throughput ratio an idle machine
// would show.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchValue(peer, k int) float32 {
	return float32((k*7+peer*13)%1000-500) * 1e-3
}

// TestLabBusBandwidth measures ring all-reduce bus bandwidth (fp32, vectors
// in mmapped files) against raw TCP and libp2p streams in the same run.
func TestLabBusBandwidth(t *testing.T) {
	repeats := envInts("DILOCO_BENCH_REPEATS", []int{3})[0]
	lanes := envInts("DILOCO_BENCH_LANES", []int{2})[0]
	for _, n := range envInts("DILOCO_BENCH_PEERS", []int{4, 8}) {
		for _, mib := range envInts("DILOCO_BENCH_MIB", []int{256, 1024}) {
			t.Run(fmt.Sprintf("peers=%d/size=%dMiB", n, mib), func(t *testing.T) {
				elems := mib << 18
				S := int64(elems) * 4
				B := S * 2 * int64(n-1) / int64(n) // bytes per ring link
				hs := swarmtest.Hosts(t, n)
				swarmtest.ConnectAll(t, hs)
				rs := newRings(t, hs, WithLanes(lanes), WithReadTimeout(time.Minute), WithHelloTimeout(time.Minute))
				group := sortedIDs(hs)
				vecs := make([]*MappedVector, n)
				for _, h := range hs {
					v, err := MapVector(filepath.Join(t.TempDir(), "v"), elems)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = v.Close() })
					vecs[slices.Index(group, h.ID())] = v
				}
				var rTCP, rLibp2p, rCeil, rAEAD, cTCP, cLibp2p []float64
				for rep := range repeats {
					for r, v := range vecs {
						for k := range v.Data {
							v.Data[k] = benchValue(r, k)
						}
					}
					c0 := cpuTime()
					tcp := rawTCPRing(t, n, B)
					c1 := cpuTime()
					lp := libp2pRing(t, hs, B)
					c2 := cpuTime()
					data := make([][]float32, n)
					for i, h := range hs {
						data[i] = vecs[slices.Index(group, h.ID())].Data
					}
					c3 := cpuTime()
					start := time.Now()
					for i, err := range runAll(context.Background(), rs, Round{ID: roundID(fmt.Sprint(t.Name(), rep)), Group: group, Mode: Float32}, data) {
						if err != nil {
							t.Fatalf("peer %d: %v", i, err)
						}
					}
					busBW := float64(B) / time.Since(start).Seconds()
					cAR := cpuTime() - c3
					cpuTCP, cpuLP := (c1 - c0).Seconds(), (c2 - c1).Seconds()
					// correctness: identical bits everywhere, sampled values equal the mean
					h0 := sha256.Sum256(f32bytes(vecs[0].Data))
					for i := 1; i < n; i++ {
						if sha256.Sum256(f32bytes(vecs[i].Data)) != h0 {
							t.Fatalf("peer %d result differs", i)
						}
					}
					for k := 0; k < elems; k += 4099 {
						var mean float64
						for r := range n {
							mean += float64(benchValue(r, k))
						}
						mean /= float64(n)
						if d := math.Abs(float64(vecs[0].Data[k]) - mean); d > 1e-6 {
							t.Fatalf("value %d = %v, mean %v", k, vecs[0].Data[k], mean)
						}
					}
					rTCP = append(rTCP, busBW/tcp)
					rLibp2p = append(rLibp2p, busBW/lp)
					rCeil = append(rCeil, lp/tcp)
					rAEAD = append(rAEAD, swarmtest.EncryptedCeiling(t, c1-c0, int64(n)*B, 0))
					cTCP = append(cTCP, cpuTCP/cAR.Seconds())
					cLibp2p = append(cLibp2p, cpuLP/cAR.Seconds())
					t.Logf("rep %d: bus bandwidth %.0f MB/s; raw TCP per link %.0f MB/s; libp2p stream per link %.0f MB/s; ratio vs TCP %.3f, vs libp2p %.3f; CPU for B bytes per link: raw TCP %.2f s, libp2p stream %.2f s, all-reduce %.2f s",
						rep, busBW/1e6, tcp/1e6, lp/1e6, busBW/tcp, busBW/lp, cpuTCP, cpuLP, cAR.Seconds())
				}
				fmt.Printf("RATIO busbw/rawtcp peers=%d size=%dMiB lanes=%d: %s (target >= 0.8)\n", n, mib, lanes, spread(rTCP))
				fmt.Printf("RATIO busbw/libp2p-stream peers=%d size=%dMiB lanes=%d: %s\n", n, mib, lanes, spread(rLibp2p))
				fmt.Printf("RATIO libp2p-stream/rawtcp peers=%d size=%dMiB lanes=%d: %s (one encrypted libp2p stream per link: the most busbw/rawtcp can reach over libp2p here)\n", n, mib, lanes, spread(rCeil))
				fmt.Printf("RATIO aesgcm-ceiling/rawtcp peers=%d size=%dMiB lanes=%d: %s (the most any transport encrypting with AES-GCM can reach here: raw TCP's CPU per byte plus sealing and opening it, measured in this run)\n", n, mib, lanes, spread(rAEAD))
				fmt.Printf("RATIO cpu rawtcp/allreduce peers=%d size=%dMiB lanes=%d: %s (CPU seconds for the same bytes per link; load-independent)\n", n, mib, lanes, spread(cTCP))
				fmt.Printf("RATIO cpu libp2p-stream/allreduce peers=%d size=%dMiB lanes=%d: %s\n", n, mib, lanes, spread(cLibp2p))
			})
		}
	}
}

// TestLabQuantThroughput: int8 quantize+dequantize of a 256 MiB buffer
// against memcpy of the same buffer.
func TestLabQuantThroughput(t *testing.T) {
	const elems = 64 << 20
	const chunk = 256 << 10
	src := make([]float32, elems)
	for k := range src {
		src[k] = benchValue(1, k)
	}
	dst := make([]float32, elems)
	copy(dst, src) // fault the pages in before timing
	q := make([]byte, int8Size(chunk))
	var ratios []float64
	for range envInts("DILOCO_BENCH_REPEATS", []int{5})[0] {
		t0 := time.Now()
		copy(dst, src)
		mem := time.Since(t0)
		t0 = time.Now()
		for lo := 0; lo < elems; lo += chunk {
			quantize(q, src[lo:lo+chunk])
			scale, _ := int8Scale(q)
			dequantize(dst[lo:lo+chunk], q, scale)
		}
		qd := time.Since(t0)
		ratios = append(ratios, mem.Seconds()/qd.Seconds())
		t.Logf("memcpy %.2f GB/s, int8 quantize+dequantize %.2f GB/s (of fp32 input)", float64(elems*4)/mem.Seconds()/1e9, float64(elems*4)/qd.Seconds()/1e9)
	}
	fmt.Printf("RATIO int8-quant+dequant/memcpy: %s (target >= 0.5)\n", spread(ratios))
}

// TestLabWireBytes: bytes one worker sends per outer step (one int8
// all-reduce) against data-parallel training that all-reduces fp32
// gradients every inner step, both measured on the wire, for H=500.
func TestLabWireBytes(t *testing.T) {
	const n, elems, H = 8, 16 << 20, 500
	hs := swarmtest.Hosts(t, n)
	swarmtest.ConnectAll(t, hs)
	rs := newRings(t, hs, WithReadTimeout(time.Minute))
	group := sortedIDs(hs)
	sent := func(mode Mode) int64 {
		data := make([][]float32, n)
		for i := range data {
			data[i] = make([]float32, elems)
			for k := range data[i] {
				data[i][k] = benchValue(i, k)
			}
		}
		stats := make([]Stats, n)
		var wg sync.WaitGroup
		for i := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				stats[i], err = rs[i].AllReduce(context.Background(), Round{ID: roundID(mode.String()), Group: group, Mode: mode}, data[i])
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var maxSent int64
		for _, s := range stats {
			maxSent = max(maxSent, s.BytesSent)
		}
		return maxSent
	}
	i8, f32 := sent(Int8), sent(Float32)
	ratio := float64(H) * float64(f32) / float64(i8)
	fmt.Printf("wire bytes per worker: int8 outer step %d B; fp32 gradient all-reduce %d B per inner step (%d params, %d peers)\n", i8, f32, elems, n)
	// 4 bytes become 1 and are sent once per H inner steps: the bound is
	// 4H; frame headers and per-chunk scales cost a little of it.
	fmt.Printf("RATIO data-parallel-bytes/diloco-bytes at H=%d: %.1f (target >= %d; 99%% of the exact 4x-per-value bound %d)\n", H, ratio, 4*H*99/100, 4*H)
}
