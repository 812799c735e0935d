package ledger_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/openpool/openpool/ledger/internal/artifacts"
)

// TestBindingsMatchArtifacts regenerates the Go bindings from the
// committed ABIs and bytecode and requires them to equal the committed
// bindings. It needs no node/npm, so it always runs.
func TestBindingsMatchArtifacts(t *testing.T) {
	for _, name := range artifacts.Contracts {
		want, err := artifacts.Generate("contracts/build", name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("bindings", artifacts.FileName(name)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("bindings/%s is stale: run `go generate ./ledger/...`", artifacts.FileName(name))
		}
	}
}

// TestArtifactsMatchSources recompiles the contracts with the pinned solc
// and requires the committed ABIs and bytecode to match. It needs node and
// the npm packages (`npm ci` in ledger/contracts, as
// scripts/ledger-check-generated.sh does); without them it skips, unless
// OPENPOOL_REQUIRE_SOLC=1 (set by that script) makes that a failure.
func TestArtifactsMatchSources(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("OPENPOOL_REQUIRE_SOLC") == "1" {
		skip = t.Fatalf
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		skip("node not installed; run scripts/ledger-check-generated.sh to compare the committed bytecode with a fresh solc build")
		return
	}
	if _, err := os.Stat("contracts/node_modules/solc/package.json"); err != nil {
		skip("ledger/contracts/node_modules missing (run `npm ci` there, or scripts/ledger-check-generated.sh)")
		return
	}
	out := t.TempDir()
	cmd := exec.Command(nodeBin, "compile.js", out)
	cmd.Dir = "contracts"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compile: %v\n%s", err, b)
	}
	for _, name := range artifacts.Contracts {
		for _, ext := range []string{".abi", ".bin"} {
			fresh, err := os.ReadFile(filepath.Join(out, name+ext))
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("contracts", "build", name+ext))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Errorf("contracts/build/%s%s differs from a fresh compile: run `go generate ./ledger/...`", name, ext)
			}
		}
	}
}
