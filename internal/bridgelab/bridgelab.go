// Package bridgelab builds the plain network lab the throughput benchmarks
// use: every node is a Linux network namespace attached by a veth pair to a
// bridge in a switch namespace, and both ends of every veth are shaped with
// tc tbf to the same rate, so each node has that rate up and down. The
// kernel forwards every frame; unlike internal/netlab there is no userspace
// emulator (no latency or loss). The forwarding still costs CPU, a lot on
// virtual machines whose interrupts are costly: a benchmark picks its rate
// so that the links, not the machine, limit throughput, and shows it with
// SampleCPU and Busy. Processes run inside the nodes and are driven by one
// command per line on stdin.
//
// Nothing outside the lab's namespaces is touched, and they are deleted when
// the test ends. It needs root, ip and tc; without them the test is skipped.
package bridgelab

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Lab is a star of shaped links around one bridge.
type Lab struct {
	tag   string
	sw    string
	nodes []string // namespace names
	ips   []string
	procs []*Proc
}

// Proc is a process running in one node, driven through stdin and stdout.
type Proc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// New creates n node namespaces on a star whose every link is shaped to
// mbit Mbit/s each way, with tbf's queue bounded to queue of latency.
func New(t testing.TB, n, mbit int, queue time.Duration) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("the lab needs tc")
	}
	l := &Lab{tag: fmt.Sprintf("bl%04x", rand.IntN(1<<16))}
	l.sw = l.tag + "sw"
	t.Cleanup(l.destroy)
	sh(t, "ip", "netns", "add", l.sw)
	sh(t, "ip", "-n", l.sw, "link", "add", "br0", "type", "bridge")
	sh(t, "ip", "-n", l.sw, "link", "set", "br0", "up")
	rate := fmt.Sprintf("%dmbit", mbit)
	// The burst must hold a few full-size segments at this rate; the queue
	// (latency) bounds how much TCP can buffer in the shaper.
	burst := fmt.Sprintf("%dkb", max(64, mbit/8))
	latency := fmt.Sprintf("%dms", max(1, queue.Milliseconds()))
	for i := range n {
		ns := fmt.Sprintf("%sn%d", l.tag, i)
		ip := fmt.Sprintf("10.77.%d.%d", (i+1)/250, (i+1)%250+1)
		l.nodes = append(l.nodes, ns)
		l.ips = append(l.ips, ip)
		host, port := l.hostDev(i), l.portDev(i)
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "-n", ns, "link", "add", host, "type", "veth", "peer", "name", port, "netns", l.sw)
		sh(t, "ip", "-n", ns, "addr", "add", ip+"/16", "dev", host)
		sh(t, "ip", "-n", ns, "link", "set", host, "up")
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", l.sw, "link", "set", port, "master", "br0")
		sh(t, "ip", "-n", l.sw, "link", "set", port, "up")
		sh(t, "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", host, "root", "tbf", "rate", rate, "burst", burst, "latency", latency)
		sh(t, "ip", "netns", "exec", l.sw, "tc", "qdisc", "add", "dev", port, "root", "tbf", "rate", rate, "burst", burst, "latency", latency)
	}
	return l
}

func (l *Lab) hostDev(i int) string { return fmt.Sprintf("%sh%d", l.tag, i) }
func (l *Lab) portDev(i int) string { return fmt.Sprintf("%sp%d", l.tag, i) }

// Len is the number of nodes.
func (l *Lab) Len() int { return len(l.nodes) }

// IP is node i's address.
func (l *Lab) IP(i int) string { return l.ips[i] }

// TCStats is tc's statistics of node i's uplink and downlink shapers.
func (l *Lab) TCStats(i int) string {
	up, _ := exec.Command("ip", "netns", "exec", l.nodes[i], "tc", "-s", "qdisc", "show", "dev", l.hostDev(i)).CombinedOutput()
	down, _ := exec.Command("ip", "netns", "exec", l.sw, "tc", "-s", "qdisc", "show", "dev", l.portDev(i)).CombinedOutput()
	return fmt.Sprintf("node %d uplink:\n%sdownlink:\n%s", i, up, down)
}

// Start runs argv in node i. Its stderr goes to the test's; its stdout
// lines are read by Expect. The lab asks it to stop with a QUIT line at the
// end of the test, and kills it if it has not stopped 5 s later.
func (l *Lab) Start(t testing.TB, i int, argv ...string) *Proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.nodes[i]}, argv...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, in: in, lines: make(chan string, 64)}
	l.procs = append(l.procs, p)
	go func() { // owned by the process: ends when its stdout closes
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// Send writes one command line.
func (p *Proc) Send(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// Expect waits for a line starting with prefix and returns it; a line
// starting with ERR, the process's exit or the timeout fail the test.
func (p *Proc) Expect(t testing.TB, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("lab process exited waiting for %s", prefix)
			}
			if strings.HasPrefix(line, "ERR") {
				t.Fatalf("lab process: %s", line)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-deadline.C:
			t.Fatalf("no %s within %v", prefix, timeout)
		}
	}
}

func (l *Lab) destroy() {
	for _, p := range l.procs {
		_, _ = io.WriteString(p.in, "QUIT\n")
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
	for _, ns := range append(l.nodes, l.sw) {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// CPUTimes is a sample of the machine's CPU time counters (/proc/stat's
// first line, in clock ticks): total (with time stolen by a hypervisor)
// and idle (idle plus iowait).
type CPUTimes struct{ total, idle uint64 }

// SampleCPU reads the machine's CPU counters; on a read error it returns
// zeros, and Busy then reports -1.
func SampleCPU() CPUTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return CPUTimes{}
	}
	var c CPUTimes
	// user nice system idle iowait irq softirq steal; guest time that
	// follows is counted in user time already.
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return CPUTimes{}
		}
		c.total += v
		if i == 3 || i == 4 { // idle, iowait
			c.idle += v
		}
	}
	return c
}

// Busy is the fraction of the machine's CPU time that was not idle between
// the sample since and now: near 1, the lab measured the machine, not its
// links. It is -1 when the counters could not be read.
func (since CPUTimes) Busy() float64 {
	now := SampleCPU()
	if since.total == 0 || now.total <= since.total {
		return -1
	}
	return 1 - float64(now.idle-since.idle)/float64(now.total-since.total)
}
