package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` keeps its named namespace handles.
const netnsDir = "/run/netns"

// inNetns runs fn on an OS thread that has joined the network namespace
// ns. Sockets fn creates belong to ns for their whole life, whichever
// thread uses them later; goroutines fn starts do not run in ns. The thread
// returns to the caller's namespace afterwards, or is discarded if it
// cannot.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: open own netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join(netnsDir, ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: open netns %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: enter netns %s: %w", ns, err)
			return
		}
		err = fn()
		// Leaving the thread locked when restoring fails makes the runtime
		// discard it when this goroutine exits.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// run executes a command (ip, tc, iptables) and returns its error with the
// command line and output in it.
func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: %s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// writeSysctl sets a /proc/sys/net value inside ns; those files are
// per-namespace, chosen by the namespace of the thread that opens them.
func writeSysctl(ns, key, value string) error {
	return inNetns(ns, func() error {
		p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return fmt.Errorf("netlab: sysctl %s=%s in %s: %w", key, value, ns, err)
		}
		return nil
	})
}

// ifreqData is struct ifreq with its union used as ifr_data.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// disableOffloads turns off checksum offload, TSO, GSO and GRO on dev in
// ns (what `ethtool -K dev tx off tso off gso off gro off` does), so that
// every frame the emulator sees is a finished wire frame of at most one MTU
// with a valid checksum: a veth otherwise hands over 64 KiB super-frames
// with checksums left to "hardware", which a raw socket cannot forward.
func disableOffloads(ns, dev string) error {
	return inNetns(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netlab: ethtool socket: %w", err)
		}
		defer unix.Close(fd)
		for _, cmd := range []uint32{unix.ETHTOOL_STSO, unix.ETHTOOL_SGSO, unix.ETHTOOL_SGRO, unix.ETHTOOL_STXCSUM} {
			v := ethtoolValue{cmd: cmd}
			var ifr ifreqData
			copy(ifr.name[:], dev)
			ifr.data = unsafe.Pointer(&v)
			_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
			runtime.KeepAlive(&v)
			if errno != 0 {
				return fmt.Errorf("netlab: ethtool cmd %#x on %s in %s: %w", cmd, dev, ns, errno)
			}
		}
		return nil
	})
}
