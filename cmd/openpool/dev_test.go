package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDevCommand runs the README's main command in-process: the swarm
// converges, trains the toy model to bit-identical weights on every worker,
// and a clean exit reaches every node.
func TestDevCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("dev swarm skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut strings.Builder
	code := run(ctx, []string{"--home", t.TempDir(), "dev", "--nodes", "3", "--outer-steps", "3", "--inner-steps", "20"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("dev exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"membership converged", "outer step   2", "all 3 workers hold bit-identical weights", "every node saw the deathrattle"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "NOT applied") {
		t.Errorf("an outer step was not applied:\n%s", out.String())
	}
}
