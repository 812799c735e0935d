package trainerapi_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openpool/openpool/diloco"
	"github.com/openpool/openpool/diloco/trainerapi"
	"github.com/openpool/openpool/internal/swarmtest"
)

// pythonWithNumpy finds a python3 that can import numpy (CI: Debian's
// python3-numpy under /usr/bin).
func pythonWithNumpy(t *testing.T) string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	t.Skip("skipping: no python3 with numpy (install Debian's python3-numpy to run the Python client test)")
	return ""
}

// TestPythonClient runs examples/python/test_openpool_trainer.py against a
// real node: one libp2p host with gossipsub, ring and rounds (alone in its
// group), the outer loop, and the trainer API on a unix socket.
func TestPythonClient(t *testing.T) {
	py := pythonWithNumpy(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "python", "test_openpool_trainer.py")

	hs := swarmtest.Hosts(t, 1)
	ps := swarmtest.GossipSubs(t, hs)
	ring, err := diloco.NewRing(hs[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ring.Close() })
	rounds, err := diloco.NewRounds(hs[0], ps[0], "py", ring, diloco.WithMode(diloco.Float32), diloco.WithReadyWindow(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rounds.Close() })
	srv, err := trainerapi.NewServer(5)
	if err != nil {
		t.Fatal(err)
	}
	w, err := diloco.NewWorker(rounds, srv, diloco.WithInnerSteps(5), diloco.WithMaxSteps(2))
	if err != nil {
		t.Fatal(err)
	}
	addr := "unix:" + filepath.Join(t.TempDir(), "api.sock")
	ln, err := trainerapi.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	ran := make(chan error, 1)
	go func() { _, err := w.Run(ctx); ran <- err }()

	out, err := exec.CommandContext(ctx, py, script, addr).CombinedOutput()
	if err != nil {
		t.Fatalf("python client test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatalf("python output: %s", out)
	}
	if err := <-ran; err != nil {
		t.Fatalf("worker: %v", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, a := range []string{"0.0.0.0:0", "8.8.8.8:80", "example.com:1", "nonsense"} {
		if ln, err := trainerapi.Listen(a); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted", a)
		}
	}
	ln, err := trainerapi.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}
