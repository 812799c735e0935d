package shardcast

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/openpool/openpool/internal/swarmtest"
)

const benchStreamProto = "/openpool/shardcast/bench-stream/1.0.0"

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs f and returns its wall-clock and CPU time.
func timed(f func()) (wall, cpu time.Duration) {
	c0, t0 := cpuTime(), time.Now()
	f()
	return time.Since(t0), cpuTime() - c0
}

// BenchmarkShardTransferVsTCP moves one shard over a libp2p stream between
// two loopback hosts (security, muxer, the client hashing what it receives;
// the server sends a shard its store hashed when it stored it without
// hashing it again) and the same bytes over a plain TCP socket between the
// same process's goroutines, alternately, and reports the ratio of the
// median throughputs (target >= 0.8). It also moves the bytes over a plain
// libp2p stream between the same hosts (no shardcast, no hashing), the
// ceiling the transport (TLS 1.3, yamux) sets: stream-MB/s, stream/tcp and
// shard/stream show where the gap is. The cpu-* metrics divide the CPU time
// the process spent on a raw TCP transfer by that of a shard (or plain
// stream) transfer: on a machine shared with other work the wall-clock
// ratios move with the load, the CPU ones much less, and with both ends
// CPU-bound (as on loopback) they are the ratio an idle machine would show.
func BenchmarkShardTransferVsTCP(b *testing.B) {
	for _, size := range []int{DefaultShardSize, MaxShardSize} {
		b.Run(sizeName(size), func(b *testing.B) { benchTransfer(b, size) })
	}
}

func sizeName(n int) string {
	return map[int]string{DefaultShardSize: "shard=4MiB", MaxShardSize: "shard=64MiB"}[n]
}

func benchTransfer(b *testing.B, size int) {
	owner := newKey(b)
	hs := swarmtest.Hosts(b, 2)
	swarmtest.Connect(b, hs[0], hs[1])
	pss := swarmtest.GossipSubs(b, hs)
	st0, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st1, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	src, err := New(hs[0], pss[0], st0, testPool, owner.GetPublic(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = src.Close() })
	dst, err := New(hs[1], pss[1], st1, testPool, owner.GetPublic(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = dst.Close() })
	data := randomBytes(b, size)
	c := ShardCID(data)
	if err := src.store.PutShard(c, data); err != nil {
		b.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = conn.Write(data)
			}()
		}
	}()
	rawOnce := func() {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		n, err := io.Copy(io.Discard, conn)
		if err != nil || n != int64(size) {
			b.Fatalf("raw tcp: %d bytes, %v", n, err)
		}
	}
	shardOnce := func() {
		h := sha256.New()
		n, err := dst.requestShard(b.Context(), hs[0].ID(), c, 0, uint64(size), h)
		if err != nil || n != int64(size) {
			b.Fatalf("shard: %d bytes, %v", n, err)
		}
		if !cidFromDigest(h.Sum(nil)).Equals(c) {
			b.Fatal("hash mismatch")
		}
	}
	hs[0].SetStreamHandler(benchStreamProto, func(st network.Stream) {
		defer st.Close()
		_, _ = st.Write(data)
	})
	b.Cleanup(func() { hs[0].RemoveStreamHandler(benchStreamProto) })
	streamOnce := func() {
		st, err := hs[1].NewStream(b.Context(), hs[0].ID(), benchStreamProto)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		_ = st.CloseWrite()
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{st}, make([]byte, chunkSize))
		if err != nil || n != int64(size) {
			b.Fatalf("libp2p stream: %d bytes, %v", n, err)
		}
	}
	shardOnce() // dial, negotiate, warm up
	rawOnce()
	streamOnce()
	var raw, shard, stream, rawCPU, shardCPU, streamCPU []time.Duration
	add := func(walls, cpus *[]time.Duration, f func()) {
		w, c := timed(f)
		*walls, *cpus = append(*walls, w), append(*cpus, c)
	}
	b.ResetTimer()
	for range b.N {
		add(&shard, &shardCPU, shardOnce)
		add(&raw, &rawCPU, rawOnce)
		add(&stream, &streamCPU, streamOnce)
	}
	b.StopTimer()
	// Medians: robust to the other processes on a shared machine.
	median := func(ds []time.Duration) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	mbps := func(ds []time.Duration) float64 { return float64(size) / median(ds).Seconds() / 1e6 }
	rawM, shardM, streamM := mbps(raw), mbps(shard), mbps(stream)
	b.ReportMetric(median(rawCPU).Seconds()/median(shardCPU).Seconds(), "cpu-tcp/shard")
	b.ReportMetric(median(rawCPU).Seconds()/median(streamCPU).Seconds(), "cpu-tcp/stream")
	b.ReportMetric(shardM, "shard-MB/s")
	b.ReportMetric(rawM, "tcp-MB/s")
	b.ReportMetric(streamM, "stream-MB/s")
	b.ReportMetric(shardM/rawM, "ratio")
	b.ReportMetric(streamM/rawM, "stream/tcp")
	b.ReportMetric(shardM/streamM, "shard/stream")
	// The most any transport that encrypts with AES-GCM, and a receiver
	// that checks SHA-256, can reach against raw TCP when both ends are
	// CPU-bound, from CPU costs measured now on this machine.
	b.ReportMetric(swarmtest.EncryptedCeiling(b, median(rawCPU), int64(size), 0), "aesgcm-ceiling")
	b.ReportMetric(swarmtest.EncryptedCeiling(b, median(rawCPU), int64(size), swarmtest.SHA256CostPerByte(b)), "aesgcm+sha256-ceiling")
	b.SetBytes(int64(size))
}
