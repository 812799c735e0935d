package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxOutput bounds the output a Process keeps: past it the oldest half is
// dropped.
const maxOutput = 4 << 20

// Process is a command running inside a node's namespace, started with
// Lab.Start. Its stdout and stderr are captured together.
type Process struct {
	Node *Node
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
	err  error
}

// output is a bounded buffer that wakes waiters on every write. Offsets
// are absolute (bytes written since the start), so readers keep their
// place when the front is dropped.
type output struct {
	mu      sync.Mutex
	buf     []byte
	dropped int64 // bytes dropped from the front
	changed chan struct{}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if len(o.buf) > maxOutput {
		cut := len(o.buf) - maxOutput/2
		o.dropped += int64(cut)
		o.buf = append(o.buf[:0], o.buf[cut:]...)
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// since returns a copy of the output from absolute offset pos (or from
// the oldest byte kept), that copy's offset, and a channel closed on the
// next write.
func (o *output) since(pos int64) ([]byte, int64, chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pos = max(pos, o.dropped)
	return bytes.Clone(o.buf[pos-o.dropped:]), pos, o.changed
}

// Start runs argv inside node n's network namespace (through `ip netns
// exec`, which also gives it the namespace's /etc/netns files). The process
// is killed, with its process group, when ctx ends or the lab closes.
func (l *Lab) Start(ctx context.Context, n *Node, argv ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("netlab: start: empty command")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("netlab: start: the lab is closed")
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns}, argv...)...)
	out := &output{changed: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: start %s on node %d: %w", argv[0], n.Index, err)
	}
	p := &Process{Node: n, cmd: cmd, out: out, done: make(chan struct{})}
	l.procs[p] = struct{}{}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		l.mu.Lock()
		delete(l.procs, p)
		l.mu.Unlock()
	}()
	return p, nil
}

// Exec runs argv inside node n's namespace to completion and returns its
// combined output.
func (l *Lab) Exec(ctx context.Context, n *Node, argv ...string) ([]byte, error) {
	p, err := l.Start(ctx, n, argv...)
	if err != nil {
		return nil, err
	}
	err = p.Wait(ctx)
	out := p.Output()
	if err != nil {
		return out, fmt.Errorf("netlab: node %d: %s: %w: %s", n.Index, strings.Join(argv, " "), err, bytes.TrimSpace(lastLines(out, 5)))
	}
	return out, nil
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process has written so far (the last 2–4 MiB).
func (p *Process) Output() []byte {
	b, _, _ := p.out.since(0)
	return b
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its error (nil for exit
// status 0), or ctx's error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitOutput waits until a line of the output contains substr and returns
// that line; it fails when the process exits first or ctx ends. Each byte
// is scanned once.
func (p *Process) WaitOutput(ctx context.Context, substr string) (string, error) {
	var pos int64
	for {
		exited := false
		select {
		case <-p.done:
			exited = true
		default:
		}
		b, at, changed := p.out.since(pos)
		// Only complete lines, unless no more output can come.
		end := bytes.LastIndexByte(b, '\n') + 1
		if exited {
			end = len(b)
		}
		for line := range strings.SplitSeq(string(b[:end]), "\n") {
			if strings.Contains(line, substr) {
				return line, nil
			}
		}
		pos = at + int64(end)
		if exited {
			return "", fmt.Errorf("netlab: node %d: process exited (%v) before printing %q", p.Node.Index, p.err, substr)
		}
		select {
		case <-changed:
		case <-p.done:
		case <-ctx.Done():
			return "", fmt.Errorf("netlab: node %d: waiting for %q: %w", p.Node.Index, substr, ctx.Err())
		}
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the exit.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
