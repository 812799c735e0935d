package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The multi-process tests run the real openpool binary, built once per test
// run, as separate processes talking over loopback.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func openpoolBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openpool-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "openpool")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building openpool: %v", buildErr)
	}
	return binPath
}

// proc is one running openpool process whose stdout lines are collected.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  chan struct{}
	err   error
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(openpoolBinary(t), args...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(t.TempDir(), name+".stderr"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		stderr.Close()
		p.mu.Lock()
		close(p.done)
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(stderr.Name())
			t.Logf("--- %s stderr (last 2 KiB) ---\n%s", name, tail(b, 2048))
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitLine waits until a stdout line satisfies match and returns it.
func (p *proc) waitLine(timeout time.Duration, what string, match func(string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if match(p.lines[i]) {
				return p.lines[i]
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		default:
		}
		if time.Now().After(deadline) {
			for _, l := range p.lines[max(0, len(p.lines)-8):] {
				p.t.Log(l)
			}
			p.t.Fatalf("%s: no %s within %v", p.name, what, timeout)
		}
		p.cond.Wait()
	}
}

// event waits for a JSON event line of the given type about peer.
func (p *proc) event(timeout time.Duration, typ, peerID string) eventLine {
	p.t.Helper()
	line := p.waitLine(timeout, typ+" of "+peerID, func(l string) bool {
		var ev eventLine
		return json.Unmarshal([]byte(l), &ev) == nil && ev.Event == typ && ev.Peer == peerID
	})
	var ev eventLine
	_ = json.Unmarshal([]byte(line), &ev)
	return ev
}

func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v", p.name, timeout)
		return nil
	}
}

// TestProcessSwarm: a bootstrap process and 6 joiner processes on loopback.
// kill -9 of one joiner is seen as dead by every other; SIGTERM of another is
// seen through its deathrattle; the restarted node keeps its peer ID.
func TestProcessSwarm(t *testing.T) {
	const (
		pool      = "proc-pool"
		joiners   = 6
		heartbeat = 300 * time.Millisecond
	)
	root := t.TempDir()
	boot := startProc(t, "bootstrap", "--home", filepath.Join(root, "boot"), "bootstrap", "--listen", "/ip4/127.0.0.1/tcp/0", "--nat=false")
	bootAddr := boot.waitLine(30*time.Second, "bootstrap multiaddr", func(l string) bool { return strings.Contains(l, "/p2p/") })

	joinArgs := func(i int) []string {
		return []string{"--home", filepath.Join(root, "node", string(rune('a'+i))), "join", pool,
			"--bootstrap", bootAddr, "--listen", "/ip4/127.0.0.1/tcp/0", "--heartbeat", heartbeat.String(), "--nat=false", "--json"}
	}
	procs := make([]*proc, joiners)
	ids := make([]string, joiners)
	for i := range procs {
		procs[i] = startProc(t, "joiner"+string(rune('a'+i)), joinArgs(i)...)
	}
	for i, p := range procs {
		ids[i] = startedPeer(t, p)
	}
	for i, p := range procs {
		for j := range procs {
			if i != j {
				p.event(60*time.Second, "join", ids[j])
			}
		}
	}

	// kill -9: no deathrattle; every other joiner must declare it dead.
	crashed := joiners - 1
	if err := procs[crashed].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < crashed; i++ {
		procs[i].event(20*heartbeat+5*time.Second, "dead", ids[crashed])
	}

	// SIGTERM: a clean exit whose deathrattle every other joiner sees.
	leaver := joiners - 2
	if err := procs[leaver].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < leaver; i++ {
		ev := procs[i].event(3*heartbeat+5*time.Second, "leave", ids[leaver])
		if ev.State != "left" {
			t.Errorf("joiner %d: leave event with state %q", i, ev.State)
		}
	}
	if err := procs[leaver].wait(15 * time.Second); err != nil {
		t.Errorf("SIGTERM'd joiner exited with %v, want status 0", err)
	}

	// Restart the SIGTERM'd node with the same data directory: same peer ID,
	// and the others see it join again.
	restartAt := time.Now()
	again := startProc(t, "joiner-restarted", joinArgs(leaver)...)
	if id := startedPeer(t, again); id != ids[leaver] {
		t.Fatalf("restarted node has peer ID %s, want %s", id, ids[leaver])
	}
	for i := 0; i < leaver; i++ {
		procs[i].waitLine(60*time.Second, "rejoin of "+ids[leaver], func(l string) bool {
			var ev eventLine
			return json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "join" && ev.Peer == ids[leaver] && ev.Time.After(restartAt)
		})
	}
	countJoins := 0
	procs[0].mu.Lock()
	for _, l := range procs[0].lines {
		var ev eventLine
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "join" && ev.Peer == ids[leaver] {
			countJoins++
		}
	}
	procs[0].mu.Unlock()
	if countJoins < 2 {
		t.Errorf("joiner 0 saw %d joins of the restarted node, want 2", countJoins)
	}

	// `openpool status` reads the running node's status API.
	out, err := exec.Command(openpoolBinary(t), "--home", filepath.Join(root, "node", "a"), "status", "--json").Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var st struct {
		Peer  string                     `json:"peer"`
		Pools map[string]json.RawMessage `json:"pools"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status output: %v\n%s", err, out)
	}
	if st.Peer != ids[0] || st.Pools[pool] == nil {
		t.Errorf("status reports peer %s pools %v; want %s in %s", st.Peer, st.Pools, ids[0], pool)
	}
}

func startedPeer(t *testing.T, p *proc) string {
	t.Helper()
	line := p.waitLine(30*time.Second, "started line", func(l string) bool {
		var ev eventLine
		return json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "started"
	})
	var ev eventLine
	_ = json.Unmarshal([]byte(line), &ev)
	return ev.Peer
}

// TestCLIUsageErrors: bad flags and addresses give one line on stderr and
// exit code 2.
func TestCLIUsageErrors(t *testing.T) {
	bin := openpoolBinary(t)
	home := t.TempDir()
	cases := [][]string{
		{"join", "p", "--bootstrap", "/ip4/not-an-ip/tcp/1"},
		{"join", "p", "--bootstrap", "/ip4/127.0.0.1/tcp/4001"}, // no /p2p/ part
		{"join", "bad/pool", "--bootstrap", "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWLTwWd1zF6bkVR7LbwAknWTLEbUYJaAKiQsYAyoHDtJQc"},
		{"join", "p"},
		{"join", "p", "--no-such-flag"},
		{"join", "p", "--heartbeat", "banana"},
		{"join", "p", "--bootstrap", "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWLTwWd1zF6bkVR7LbwAknWTLEbUYJaAKiQsYAyoHDtJQc", "--membership", "gossip"},
		{"bootstrap", "--listen", "/garbage"},
		{"dev", "--nodes", "1"},
		{"no-such-command"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--home", home}, args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != exitUsage {
				t.Fatalf("exit: %v, want code %d; stderr: %s", err, exitUsage, stderr.String())
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("want a one-line error, got %q", msg)
			}
		})
	}
}
