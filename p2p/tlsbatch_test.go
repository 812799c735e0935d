package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

const echoProto = "/openpool/test/echo/1.0.0"

func loopbackHost(t testing.TB, security libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		security,
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func connectHosts(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// TestBatchedTLSInterop: a node with batched TLS and one with go-libp2p's
// plain TLS agree on /tls/1.0.0 and move data both ways intact, over
// several concurrent streams and writes of every size class (below the
// batching threshold, one record, many records, beyond one batch).
func TestBatchedTLSInterop(t *testing.T) {
	plain := libp2p.Security(libp2ptls.ID, libp2ptls.New)
	for _, tc := range []struct {
		name string
		a, b libp2p.Option
	}{
		{"batched-batched", Security(), Security()},
		{"batched-plain", Security(), plain},
		{"plain-batched", plain, Security()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := loopbackHost(t, tc.a), loopbackHost(t, tc.b)
			b.SetStreamHandler(echoProto, func(s network.Stream) {
				defer s.Close()
				_, _ = io.Copy(s, s)
			})
			connectHosts(t, a, b)
			sizes := []int{1, 100, minTLSBatch - 1, minTLSBatch, 16 << 10, 64<<10 + 7, maxTLSBatch + 12345, 3 << 20}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- echoRoundTrip(a, b.ID(), sizes, w)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			conns := a.Network().ConnsToPeer(b.ID())
			if len(conns) == 0 || conns[0].ConnState().Security != libp2ptls.ID {
				t.Fatalf("security %v, want %s", conns, libp2ptls.ID)
			}
		})
	}
}

func echoRoundTrip(a host.Host, to peer.ID, sizes []int, seed int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := a.NewStream(ctx, to, echoProto)
	if err != nil {
		return err
	}
	defer s.Close()
	var sent []byte
	for i := range sizes {
		b := make([]byte, sizes[(i+seed)%len(sizes)])
		_, _ = rand.Read(b)
		sent = append(sent, b...)
	}
	got := make(chan []byte, 1)
	go func() { // owned: ends when the echo side closes
		b, _ := io.ReadAll(s)
		got <- b
	}()
	for off := 0; off < len(sent); {
		n := sizes[(off+seed)%len(sizes)]
		n = min(n, len(sent)-off)
		if _, err := s.Write(sent[off : off+n]); err != nil {
			return err
		}
		off += n
	}
	if err := s.CloseWrite(); err != nil {
		return err
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, sent) {
			return errors.New("echo differs from what was sent")
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recordingConn counts the writes that reach the socket.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	fail   error
	out    bytes.Buffer
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.fail != nil {
		return 0, c.fail
	}
	return c.out.Write(b)
}

func TestBatchConnGathersAndKeepsErrors(t *testing.T) {
	rc := &recordingConn{}
	bc := &batchConn{Conn: rc}
	if _, err := bc.Write([]byte("direct")); err != nil || rc.writes != 1 {
		t.Fatalf("unbatched write: %d writes, %v", rc.writes, err)
	}
	bc.begin()
	for range 4 {
		if _, err := bc.Write(make([]byte, 16<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if rc.writes != 1 {
		t.Fatalf("%d writes reached the socket while batching, want none", rc.writes-1)
	}
	if err := bc.end(); err != nil || rc.writes != 2 || rc.out.Len() != len("direct")+64<<10 {
		t.Fatalf("after end: %d writes, %d bytes, %v", rc.writes, rc.out.Len(), err)
	}
	// a batch beyond maxTLSBatch goes out in pieces, in order
	bc.begin()
	var want []byte
	for i := range 40 {
		b := bytes.Repeat([]byte{byte(i)}, 16<<10)
		want = append(want, b...)
		if _, err := bc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := bc.end(); err != nil {
		t.Fatal(err)
	}
	if got := rc.out.Bytes()[len("direct")+64<<10:]; !bytes.Equal(got, want) {
		t.Fatal("a large batch reached the socket out of order")
	}
	if cap(bc.buf) > maxTLSBatch+maxTLSBatch/8 {
		t.Fatalf("batch buffer kept %d bytes", cap(bc.buf))
	}
	// a failed write sticks: nothing may follow records TLS counted as sent
	boom := errors.New("boom")
	rc.fail = boom
	bc.begin()
	_, _ = bc.Write([]byte("lost"))
	if err := bc.end(); !errors.Is(err, boom) {
		t.Fatalf("end = %v, want the write error", err)
	}
	rc.fail = nil
	if _, err := bc.Write([]byte("after")); !errors.Is(err, boom) {
		t.Fatalf("write after a failure = %v, want the kept error", err)
	}
}

// TestBatchConnCloseBreaksBlockedWrite: crypto/tls closes the socket to
// break a Write blocked on it; the batching layer must not stand in the way,
// whether the blocked write is a plain one or a batch's flush.
func TestBatchConnCloseBreaksBlockedWrite(t *testing.T) {
	for _, batching := range []bool{false, true} {
		a, b := net.Pipe() // writes block until the other end reads
		bc := &batchConn{Conn: a}
		done := make(chan error, 1)
		go func() {
			if batching {
				bc.begin()
				_, _ = bc.Write(make([]byte, 100))
				done <- bc.end()
				return
			}
			_, err := bc.Write(make([]byte, 100))
			done <- err
		}()
		// wait (bounded) until the writer holds the lock, blocked in the pipe
		for i := 0; bc.mu.TryLock(); i++ {
			bc.mu.Unlock()
			if i == 10000 {
				t.Fatal("the writer never blocked")
			}
			time.Sleep(time.Millisecond)
		}
		if err := bc.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("batching=%v: write on a closed socket succeeded", batching)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("batching=%v: Close did not break the blocked write", batching)
		}
		_ = b.Close()
	}
}

// BenchmarkSecureStream: one libp2p stream between two hosts on loopback,
// by secure channel, against raw TCP measured in the same run.
func BenchmarkSecureStream(b *testing.B) {
	const total = 512 << 20
	for _, tc := range []struct {
		name string
		sec  libp2p.Option
	}{
		{"tls-batched", Security()},
		{"tls-plain", libp2p.Security(libp2ptls.ID, libp2ptls.New)},
		{"noise", libp2p.Security(noise.ID, noise.New)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, c := loopbackHost(b, tc.sec), loopbackHost(b, tc.sec)
			c.SetStreamHandler(echoProto, func(s network.Stream) {
				_, _ = io.Copy(io.Discard, s)
				_ = s.Close()
			})
			connectHosts(b, a, c)
			buf := make([]byte, 1<<20)
			c0 := cpuTime()
			tcp := rawTCPThroughput(b, total)
			cpuTCP := cpuTime() - c0
			b.SetBytes(total)
			b.ResetTimer()
			start, c1 := time.Now(), cpuTime()
			for range b.N {
				s, err := a.NewStream(context.Background(), c.ID(), echoProto)
				if err != nil {
					b.Fatal(err)
				}
				for sent := 0; sent < total; sent += len(buf) {
					if _, err := s.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				_ = s.CloseWrite()
				_, _ = io.Copy(io.Discard, s)
			}
			rate := float64(total) * float64(b.N) / time.Since(start).Seconds()
			cpuStream := (cpuTime() - c1) / time.Duration(b.N)
			b.ReportMetric(rate/tcp, "stream/tcp")
			// CPU seconds for the same bytes: what the throughput ratio
			// would be on an idle machine with both ends CPU-bound
			b.ReportMetric(cpuTCP.Seconds()/cpuStream.Seconds(), "cpu-tcp/stream")
			b.ReportMetric(tcp/1e6, "tcp-MB/s")
		})
	}
}

func rawTCPThroughput(b *testing.B, total int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for sent := 0; sent < total; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.Close()
	<-done
	return float64(total) / time.Since(start).Seconds()
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
