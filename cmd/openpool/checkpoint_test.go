package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineWith waits until out has a line starting with prefix and returns it.
func lineWith(t *testing.T, out *syncBuffer, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q line within %v; output:\n%s", prefix, timeout, out.String())
	return ""
}

var localNode = []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--nat=false", "--status-addr", "", "--heartbeat", "100ms"}

func TestCheckpointPublishFetchLs(t *testing.T) {
	pubHome, fetchHome := t.TempDir(), t.TempDir()
	src := filepath.Join(t.TempDir(), "ckpt")
	files := map[string]string{
		"model.bin":       strings.Repeat("weights!", 40_000),
		"conf/model.json": `{"layers": 2}`,
	}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	pubCtx, stopPub := context.WithCancel(ctx)
	var pubOut, pubErr syncBuffer
	pubDone := make(chan int, 1)
	go func() {
		args := append([]string{"--home", pubHome, "checkpoint", "publish", "demo", src, "--shard-kib", "64"}, localNode...)
		pubDone <- run(pubCtx, args, &pubOut, &pubErr)
	}()
	t.Cleanup(func() { stopPub(); <-pubDone })
	cidLine := lineWith(t, &pubOut, "published ", 30*time.Second)
	c := strings.TrimPrefix(cidLine, "published ")
	owner := strings.TrimPrefix(lineWith(t, &pubOut, "owner ", 5*time.Second), "owner ")
	addr := strings.TrimPrefix(lineWith(t, &pubOut, "serving at ", 5*time.Second), "serving at ")

	out := filepath.Join(t.TempDir(), "out")
	var fOut, fErr syncBuffer
	args := append([]string{"--home", fetchHome, "checkpoint", "fetch", c, "--pool", "demo", "--owner", owner,
		"--out", out, "--bootstrap", addr, "--quiet"}, localNode...)
	if code := run(ctx, args, &fOut, &fErr); code != 0 {
		t.Fatalf("fetch exited %d: %s%s", code, fOut.String(), fErr.String())
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
		if err != nil || string(got) != body {
			t.Fatalf("%s: fetched copy differs (%v)", name, err)
		}
	}
	if !strings.Contains(fOut.String(), "fetched "+c) {
		t.Fatalf("fetch output: %s", fOut.String())
	}

	// ls on the fetcher shows the checkpoint, complete.
	var lsOut, lsErr syncBuffer
	if code := run(ctx, []string{"--home", fetchHome, "checkpoint", "ls", "--json"}, &lsOut, &lsErr); code != 0 {
		t.Fatalf("ls exited %d: %s", code, lsErr.String())
	}
	var e checkpointEntry
	if err := json.Unmarshal([]byte(strings.TrimSpace(lsOut.String())), &e); err != nil {
		t.Fatalf("ls --json: %v: %q", err, lsOut.String())
	}
	if e.CID != c || e.Pool != "demo" || e.Version != 1 || !e.Complete || e.Owner != owner || e.Files != 2 {
		t.Fatalf("ls entry %+v", e)
	}
	// A second fetch finds everything in the store: nothing is downloaded.
	var f2Out, f2Err syncBuffer
	if code := run(ctx, args, &f2Out, &f2Err); code != 0 {
		t.Fatalf("second fetch exited %d: %s", code, f2Err.String())
	}
	if !strings.Contains(f2Out.String(), "(0 downloaded)") {
		t.Fatalf("second fetch downloaded again: %s", f2Out.String())
	}

	stopPub()
	if code := <-pubDone; code != 0 {
		t.Fatalf("publish exited %d: %s", code, pubErr.String())
	}
	pubDone <- 0 // for the cleanup
	if !strings.Contains(pubOut.String(), "served ") {
		t.Fatalf("publish output: %s", pubOut.String())
	}
}

func TestCheckpointLsEmpty(t *testing.T) {
	var out, errb syncBuffer
	home := t.TempDir()
	if code := run(t.Context(), []string{"--home", home, "checkpoint", "ls"}, &out, &errb); code != 0 {
		t.Fatalf("ls exited %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "no checkpoints in ") {
		t.Fatalf("ls output %q", out.String())
	}
}

func TestCheckpointUsageErrors(t *testing.T) {
	home := t.TempDir()
	id := "12D3KooWLTwWd1zF6bkVR7LbwAknWTLEbUYJaAKiQsYAyoHDtJQc"
	boot := "/ip4/127.0.0.1/tcp/4001/p2p/" + id
	cid := "bafkreihbaqlxcxsdftdjq3qcaosjupcqrf7226yzwkwtja555ecwrra4gm"
	cases := [][]string{
		{"checkpoint", "fetch", "not-a-cid", "--pool", "p", "--owner", id, "--bootstrap", boot},
		{"checkpoint", "fetch", cid, "--owner", id, "--bootstrap", boot},
		{"checkpoint", "fetch", cid, "--pool", "p", "--bootstrap", boot},
		{"checkpoint", "fetch", cid, "--pool", "p", "--owner", "nobody", "--bootstrap", boot},
		{"checkpoint", "fetch", cid, "--pool", "bad/pool", "--owner", id, "--bootstrap", boot},
		{"checkpoint", "fetch", cid, "--pool", "p", "--owner", id},
		{"checkpoint", "publish", "p", filepath.Join(home, "missing")},
		{"checkpoint", "publish", "bad/pool", home},
		{"checkpoint", "publish", "p", home, "--shard-kib", "1"},
		{"checkpoint", "publish", "p", home, "--owner-key", filepath.Join(home, "missing.key")},
		{"checkpoint", "ls", "extra"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			var out, errb syncBuffer
			code := run(t.Context(), append([]string{"--home", home}, args...), &out, &errb)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errb.String())
			}
			msg := strings.TrimRight(errb.String(), "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("want a one-line error, got %q", msg)
			}
		})
	}
}
