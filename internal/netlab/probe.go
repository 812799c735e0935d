package netlab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probes measure the lab from inside it: their sockets are opened in the
// nodes' namespaces (Node.Do) and driven from this process, so they need no
// tool in the namespaces.

// PingResult is the outcome of Ping.
type PingResult struct {
	Sent, Received int
	// RTTs of the answered probes, in order of sending.
	RTTs []time.Duration
}

// Mean is the mean round-trip time of the answered probes.
func (r PingResult) Mean() time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range r.RTTs {
		s += d
	}
	return s / time.Duration(len(r.RTTs))
}

// StdDev is the standard deviation of the round-trip times.
func (r PingResult) StdDev() time.Duration {
	if len(r.RTTs) < 2 {
		return 0
	}
	m := float64(r.Mean())
	var s float64
	for _, d := range r.RTTs {
		s += (float64(d) - m) * (float64(d) - m)
	}
	return time.Duration(math.Sqrt(s / float64(len(r.RTTs)-1)))
}

// Quantile returns the q-quantile (0 <= q <= 1) of the round-trip times.
func (r PingResult) Quantile(q float64) time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	s := slices.Clone(r.RTTs)
	slices.Sort(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

// Loss is the fraction of probes not answered.
func (r PingResult) Loss() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 1 - float64(r.Received)/float64(r.Sent)
}

// probeSize is the UDP payload of a probe: sequence number and send time
// (Unix nanoseconds); an echo adds how long the echo server held it.
const (
	probeSize = 16
	echoSize  = probeSize + 8
)

// udpProbe is a UDP socket in each of two nodes: src in the sender,
// connected to dst, which listens in the receiver. Its goroutines end when
// close closes the sockets.
type udpProbe struct {
	src, dst *net.UDPConn
	wg       sync.WaitGroup
}

// newUDPProbe opens the sockets, with forced 8 MiB buffers (past
// net.core.rmem_max: a probe must not lose datagrams in its own sockets
// when this process is slow to read) and kernel receive timestamps
// (SO_TIMESTAMPNS: a probe measures when a datagram arrived, not when this
// process got round to reading it).
func newUDPProbe(from, to *Node) (*udpProbe, error) {
	p := &udpProbe{}
	err := to.Do(func() (err error) {
		p.dst, err = net.ListenUDP("udp4", &net.UDPAddr{IP: to.Addr.AsSlice()})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: probe listen on node %d: %w", to.Index, err)
	}
	err = from.Do(func() (err error) {
		port := uint16(p.dst.LocalAddr().(*net.UDPAddr).Port)
		p.src, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.Public, port)))
		return err
	})
	if err != nil {
		p.dst.Close()
		return nil, fmt.Errorf("netlab: probe dial from node %d: %w", from.Index, err)
	}
	for _, c := range []*net.UDPConn{p.src, p.dst} {
		if err := setSockopts(c, map[int]int{unix.SO_RCVBUFFORCE: 8 << 20, unix.SO_SNDBUFFORCE: 8 << 20, unix.SO_TIMESTAMPNS: 1}); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func setSockopts(c *net.UDPConn, opts map[int]int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for o, v := range opts {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, v); err != nil {
				serr = fmt.Errorf("netlab: probe setsockopt %d: %w", o, err)
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// serve runs a reader of c until the sockets close: handle gets each
// datagram with its kernel receive time and its sender.
func (p *udpProbe) serve(c *net.UDPConn, handle func(b []byte, at time.Time, from netip.AddrPort)) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf, oob := make([]byte, 64), make([]byte, 128)
		for {
			n, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
			if refused(err) {
				continue
			}
			if err != nil {
				return
			}
			at, ok := rxTime(oob[:oobn])
			if !ok {
				at = time.Now()
			}
			handle(buf[:n], at, from)
		}
	}()
}

// send sends count probes (sequence number, send time), one every
// interval, then waits wait for the last to arrive; it returns how many
// it sent.
func (p *udpProbe) send(ctx context.Context, count int, interval, wait time.Duration) (int, error) {
	sent := 0
	err := paced(ctx, count, interval, func(i int) error {
		var b [probeSize]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		binary.BigEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
		_, err := p.src.Write(b[:])
		sent++
		if refused(err) {
			err = nil
		}
		return err
	})
	if err != nil {
		return sent, err
	}
	sleepCtx(ctx, wait)
	return sent, ctx.Err()
}

func (p *udpProbe) close() {
	if p.src != nil {
		p.src.Close()
	}
	p.dst.Close()
	p.wg.Wait()
}

// Ping sends count UDP probes from one node to another's public address,
// one every interval, the other node echoing each; it waits up to wait
// after the last for answers. Probes lost either way count as lost. The
// round-trip time runs from just before the send to the kernel's receive
// time of the echo, less the time the echo server held the probe.
func Ping(ctx context.Context, from, to *Node, count int, interval, wait time.Duration) (PingResult, error) {
	p, err := newUDPProbe(from, to)
	if err != nil {
		return PingResult{}, err
	}
	defer p.close()
	p.serve(p.dst, func(b []byte, at time.Time, peer netip.AddrPort) { // the echo server
		if len(b) != probeSize {
			return
		}
		var echo [echoSize]byte
		copy(echo[:], b)
		binary.BigEndian.PutUint64(echo[probeSize:], uint64(time.Since(at)))
		_, _ = p.dst.WriteToUDPAddrPort(echo[:], peer)
	})
	rtts := make([]time.Duration, count)
	got := make([]bool, count)
	var mu sync.Mutex
	p.serve(p.src, func(b []byte, at time.Time, _ netip.AddrPort) {
		if len(b) != echoSize {
			return
		}
		seq := binary.BigEndian.Uint64(b)
		sent := time.Unix(0, int64(binary.BigEndian.Uint64(b[8:])))
		held := time.Duration(binary.BigEndian.Uint64(b[probeSize:]))
		mu.Lock()
		defer mu.Unlock()
		if seq < uint64(count) && !got[seq] {
			got[seq], rtts[seq] = true, at.Sub(sent)-held
		}
	})
	res := PingResult{}
	res.Sent, err = p.send(ctx, count, interval, wait)
	mu.Lock()
	defer mu.Unlock()
	for i := range count {
		if got[i] {
			res.Received++
			res.RTTs = append(res.RTTs, rtts[i])
		}
	}
	return res, err
}

// rxTime returns the kernel receive time from a datagram's control data.
func rxTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			var ts unix.Timespec
			copy((*[unsafe.Sizeof(ts)]byte)(unsafe.Pointer(&ts))[:], m.Data)
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

// SendResult is the outcome of Send.
type SendResult struct{ Sent, Received int }

// Loss is the fraction of datagrams that did not arrive.
func (r SendResult) Loss() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 1 - float64(r.Received)/float64(r.Sent)
}

// Send sends count numbered UDP datagrams one way, one every interval,
// and counts the distinct ones that arrive within wait after the last.
func Send(ctx context.Context, from, to *Node, count int, interval, wait time.Duration) (SendResult, error) {
	p, err := newUDPProbe(from, to)
	if err != nil {
		return SendResult{}, err
	}
	defer p.close()
	seen := make([]bool, count)
	var mu sync.Mutex
	res := SendResult{}
	p.serve(p.dst, func(b []byte, _ time.Time, _ netip.AddrPort) {
		if len(b) != probeSize {
			return
		}
		seq := binary.BigEndian.Uint64(b)
		mu.Lock()
		defer mu.Unlock()
		if seq < uint64(count) && !seen[seq] {
			seen[seq] = true
			res.Received++
		}
	})
	sent, err := p.send(ctx, count, interval, wait)
	mu.Lock()
	defer mu.Unlock()
	res.Sent = sent
	return res, err
}

// refused reports an ICMP unreachable that an earlier datagram of a
// connected UDP socket drew (a NAT with no mapping answers so): the probe
// counts as lost, the run goes on.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// paced calls send count times, at most one per interval on average
// (catching up in bursts when the sender falls behind).
func paced(ctx context.Context, count int, interval time.Duration, send func(i int) error) error {
	start := time.Now()
	for i := range count {
		if d := time.Duration(i)*interval - time.Since(start); d > time.Millisecond {
			sleepCtx(ctx, d)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := send(i); err != nil {
			return fmt.Errorf("netlab: probe %d: %w", i, err)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ThroughputResult is the outcome of Throughput.
type ThroughputResult struct {
	// Bytes received during the measured window (after warm-up).
	Bytes int64
	// Window is the measured time.
	Window time.Duration
}

// BitsPerSecond is the TCP goodput over the window.
func (r ThroughputResult) BitsPerSecond() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / r.Window.Seconds()
}

// Throughput streams TCP from one node to another for warmup+window and
// measures the goodput the receiver sees during the window, leaving slow
// start out.
func Throughput(ctx context.Context, from, to *Node, warmup, window time.Duration) (ThroughputResult, error) {
	var ln net.Listener
	err := to.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(to.Addr, 0).String())
		return err
	})
	if err != nil {
		return ThroughputResult{}, fmt.Errorf("netlab: throughput listen on node %d: %w", to.Index, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var conn net.Conn
	err = from.Do(func() (err error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err = d.DialContext(ctx, "tcp4", netip.AddrPortFrom(to.Public, uint16(port)).String())
		return err
	})
	if err != nil {
		return ThroughputResult{}, fmt.Errorf("netlab: throughput dial from node %d: %w", from.Index, err)
	}
	defer conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		return ThroughputResult{}, err
	}
	defer peer.Close()
	deadline := time.Now().Add(warmup + window + 5*time.Second)
	_ = conn.SetDeadline(deadline)
	_ = peer.SetDeadline(deadline)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { // the sender: until the receiver closes
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	}()
	defer conn.Close() // before wg.Wait: stops the sender
	buf := make([]byte, 64<<10)
	start := time.Now()
	var res ThroughputResult
	var mark time.Time
	for {
		n, err := peer.Read(buf)
		now := time.Now()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return res, fmt.Errorf("netlab: throughput: %w", err)
		}
		switch el := now.Sub(start); {
		case el < warmup:
		case mark.IsZero():
			mark = now
		case el < warmup+window:
			res.Bytes += int64(n)
		default:
			res.Window = now.Sub(mark)
			return res, ctx.Err()
		}
	}
}
