package netlab

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxSlack bounds how early the scheduler may release a frame to make up
// for timer overshoot.
const maxSlack = time.Millisecond

// batchSize is how many frames one recvmmsg/sendmmsg call moves.
const batchSize = 64

// socketBuffer is the kernel buffer of each raw socket, each way: a burst
// of about 1400 full-size frames.
const socketBuffer = 4 << 20

// mmsghdr is struct mmsghdr (x/sys/unix has no recvmmsg wrapper).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// rawPort is one AF_PACKET socket bound to a router-side veth end.
type rawPort struct {
	name string
	file *os.File // owns the socket; Close unblocks the reader
	conn syscall.RawConn
}

// openRawPort opens the raw socket of dev in the current thread's network
// namespace (the router's: the caller runs it through inNetns).
func openRawPort(dev string) (*rawPort, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("netlab: port %s: %w", dev, err)
	}
	// Protocol 0 receives nothing until bind names the interface, so no
	// frame of another port slips in before.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlab: port %s: socket: %w", dev, err)
	}
	for _, o := range []struct{ level, opt, v int }{
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer},
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("netlab: port %s: setsockopt %d/%d: %w", dev, o.level, o.opt, err)
		}
	}
	all := int(htons(unix.ETH_P_ALL))
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(all), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlab: port %s: bind: %w", dev, err)
	}
	file := os.NewFile(uintptr(fd), dev)
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("netlab: port %s: %w", dev, err)
	}
	return &rawPort{name: dev, file: file, conn: conn}, nil
}

// kernelDrops returns the frames the kernel dropped on this socket since
// the last call (reading PACKET_STATISTICS resets it).
func (p *rawPort) kernelDrops() uint64 {
	var drops uint64
	_ = p.conn.Control(func(fd uintptr) {
		if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			drops = uint64(st.Drops)
		}
	})
	return drops
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// emulator is the userspace WAN: a reader goroutine per port feeds the
// core, and one scheduler goroutine releases frames when they are due and
// writes them out in batches.
type emulator struct {
	log   *slog.Logger
	clock clock
	ports []*rawPort

	mu   sync.Mutex
	core *core

	// late sums how long after its due time each frame was written, the
	// emulator's own error (scheduler and timer), guarded by mu.
	late lateness

	wake chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newEmulator(log *slog.Logger, ports []*rawPort, cfgs []LinkConfig, seed uint64) *emulator {
	e := &emulator{
		log:   log,
		clock: clock{start: time.Now()},
		ports: ports,
		core:  newCore(len(ports), cfgs, seed),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	e.wg.Add(len(ports) + 1)
	for i := range ports {
		go e.readLoop(i)
	}
	go e.scheduleLoop()
	return e
}

// Close stops every goroutine, closes the sockets and frees queued frames.
func (e *emulator) Close() {
	e.once.Do(func() {
		close(e.stop)
		for _, p := range e.ports {
			p.file.Close()
		}
		e.wg.Wait()
		e.mu.Lock()
		e.core.drain()
		e.mu.Unlock()
	})
}

func (e *emulator) update(fn func(c *core)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(e.core)
}

// readLoop moves frames from port i's socket into the core, a batch per
// system call, until the socket is closed.
func (e *emulator) readLoop(i int) {
	defer e.wg.Done()
	raisePriority()
	p := e.ports[i]
	var (
		frames [batchSize]*frame
		iovs   [batchSize]unix.Iovec
		names  [batchSize]unix.RawSockaddrLinklayer
		msgs   [batchSize]mmsghdr
	)
	e.mu.Lock()
	for j := range frames {
		frames[j] = e.core.getFrame()
	}
	e.mu.Unlock()
	for {
		for j := range msgs {
			iovs[j] = unix.Iovec{Base: &frames[j].buf[0]}
			iovs[j].SetLen(frameCap)
			msgs[j] = mmsghdr{hdr: unix.Msghdr{
				Name:    (*byte)(unsafe.Pointer(&names[j])),
				Namelen: uint32(unsafe.Sizeof(names[j])),
				Iov:     &iovs[j],
			}}
			msgs[j].hdr.SetIovlen(1)
		}
		var n int
		var errno syscall.Errno
		err := p.conn.Read(func(fd uintptr) bool {
			r, _, en := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), batchSize, unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
			n, errno = int(r), en
			return en != unix.EAGAIN
		})
		if err != nil {
			// The socket was closed: stopping.
			e.mu.Lock()
			for _, f := range frames {
				e.core.putFrame(f)
			}
			e.mu.Unlock()
			return
		}
		if errno != 0 {
			if errno != unix.EINTR {
				// A socket error (the link went down) is reported once;
				// the pause bounds the loop should one repeat.
				e.log.Warn("netlab: recvmmsg", "port", p.name, "err", errno)
				select {
				case <-e.stop:
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		now := e.clock.now()
		wake := false
		e.mu.Lock()
		for j := range n {
			f := frames[j]
			frames[j] = e.core.getFrame()
			if names[j].Pkttype == unix.PACKET_OUTGOING {
				e.core.putFrame(f)
				continue
			}
			// MSG_TRUNC makes len the frame's real length.
			if f.n = int(msgs[j].len); f.n > frameCap {
				e.core.ports[i].stats.Oversize++
				e.core.putFrame(f)
				continue
			}
			if e.core.ingress(i, f, now) {
				wake = true
			}
		}
		e.mu.Unlock()
		if wake {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
}

// emulatorNice is the nice value of the emulator's threads: the network
// should not wait for the CPU behind the programs that use it.
const emulatorNice = -10

// raisePriority locks the calling goroutine to its thread and raises that
// thread's priority (nice is per thread on Linux). The goroutine never
// unlocks, so the thread ends with it rather than returning to Go's pool
// with its priority. Without the privilege it just runs at normal
// priority.
func raisePriority() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), emulatorNice)
}

// lateness summarises how late frames left the emulator.
type lateness struct {
	n        uint64
	sum, max time.Duration
}

func (l *lateness) add(d time.Duration) {
	l.n++
	l.sum += d
	l.max = max(l.max, d)
}

// scheduleLoop releases due frames and sends them, then sleeps until the
// next deadline or until a reader queues an earlier one.
func (e *emulator) scheduleLoop() {
	defer e.wg.Done()
	raisePriority()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	out := make([][]*frame, len(e.ports))
	deliver := func(port int, f *frame) { out[port] = append(out[port], f) }
	var msgs []mmsghdr
	var iovs []unix.Iovec
	// Timers fire late (by about a millisecond on a busy machine); frames
	// due within the recent mean overshoot, up to maxSlack, leave on this
	// wake-up rather than one late wake-up later, so that the emulator's
	// mean error stays near zero.
	var target, overshoot int64
	for {
		e.mu.Lock()
		now := e.clock.now()
		if target > 0 {
			overshoot += (max(now-target, 0) - overshoot) / 8
			target = 0
		}
		next, ok := e.core.advance(now+min(overshoot, int64(maxSlack)), deliver)
		e.mu.Unlock()
		for i, fs := range out {
			if len(fs) == 0 {
				continue
			}
			failed := e.send(i, fs, &msgs, &iovs)
			sent := e.clock.now()
			e.mu.Lock()
			for _, f := range fs {
				e.late.add(time.Duration(sent - f.due))
			}
			e.core.ports[i].stats.SendErrors += failed
			for j, f := range fs {
				e.core.putFrame(f)
				fs[j] = nil
			}
			e.mu.Unlock()
			out[i] = fs[:0]
		}
		if ok {
			timer.Reset(time.Duration(next - e.clock.now()))
		}
		select {
		case <-e.stop:
			return
		case <-e.wake:
		case <-timer.C:
			target = next
		}
	}
}

// send writes frames to port i with sendmmsg, never waiting: a frame the
// kernel refuses (socket buffer or tbf queue full) is counted and skipped.
func (e *emulator) send(i int, fs []*frame, msgs *[]mmsghdr, iovs *[]unix.Iovec) (failed uint64) {
	if cap(*msgs) < len(fs) {
		*msgs = make([]mmsghdr, len(fs))
		*iovs = make([]unix.Iovec, len(fs))
	}
	ms, vs := (*msgs)[:len(fs)], (*iovs)[:len(fs)]
	for j, f := range fs {
		vs[j] = unix.Iovec{Base: &f.buf[0]}
		vs[j].SetLen(f.n)
		ms[j] = mmsghdr{hdr: unix.Msghdr{Iov: &vs[j]}}
		ms[j].hdr.SetIovlen(1)
	}
	for off := 0; off < len(ms); {
		var r uintptr
		var errno syscall.Errno
		err := e.ports[i].conn.Write(func(fd uintptr) bool {
			chunk := min(len(ms)-off, batchSize)
			r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&ms[off])), uintptr(chunk), unix.MSG_DONTWAIT, 0, 0)
			return true
		})
		switch {
		case err != nil:
			return failed + uint64(len(ms)-off) // closed: stopping
		case errno == unix.EINTR:
		case errno != 0:
			if !errors.Is(errno, unix.EAGAIN) && !errors.Is(errno, unix.ENOBUFS) {
				e.log.Debug("netlab: sendmmsg", "port", e.ports[i].name, "err", errno)
			}
			failed++
			off++
		default:
			off += max(int(r), 1)
		}
	}
	return failed
}
