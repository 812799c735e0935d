package toploc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpool/openpool/toploc/tensorfile"
)

// The round trip with an independent implementation: scripts/toploc-ref.py,
// Python and NumPy written from FORMAT.md alone (the reference package is
// not installable here: it is not on Debian and PyPI is unreachable).

const refScript = "../scripts/toploc-ref.py"

// pythonWithNumPy finds an interpreter that can import numpy, or skips.
func pythonWithNumPy(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	t.Skip("python3 with numpy not found: install Debian's python3-numpy (apt-get install -y python3-numpy) to run the Python round trip")
	return ""
}

func runPython(t *testing.T, py string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{refScript}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		if ee.ExitCode() != 3 {
			t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errb.String())
		}
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("%v: %v", args, err)
	return 0, ""
}

func writeNPY(t *testing.T, path string, s Sequence) {
	t.Helper()
	data := make([]byte, 2*len(s.States))
	for i, b := range s.States {
		binary.LittleEndian.PutUint16(data[2*i:], b)
	}
	var buf bytes.Buffer
	if err := tensorfile.WriteNPY(&buf, tensorfile.Tensor{DType: tensorfile.BF16, Shape: []int{s.Rows(), s.Hidden}, Data: data}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPythonRoundTrip(t *testing.T) {
	py := pythonWithNumPy(t)
	if _, err := os.Stat(vectorsPath); err == nil {
		if code, out := runPython(t, py, "vectors", vectorsPath); code != 0 {
			t.Fatalf("the Python implementation fails the shared vectors: %s", out)
		}
	}
	s := newSimulation(t)
	dir := t.TempDir()
	honest := filepath.Join(dir, "honest.npy")
	writeNPY(t, honest, s.honest)
	noisy := filepath.Join(dir, "noisy.npy")
	writeNPY(t, noisy, Jitter(bf16Sequence(s.model.forward(s.tokens, precBF16, 16), simD, simPrompt), 3, 1))
	otherPrompt := filepath.Join(dir, "other.npy")
	writeNPY(t, otherPrompt, bf16Sequence(s.model.forward(append(randomTokens(3, simPrompt, simVocab), s.tokens[simPrompt:]...), precBF16, 1), simD, simPrompt))

	// Go proves; Python decodes both containers and verifies.
	jsonProof, _ := s.proof.MarshalJSON()
	binProof, _ := s.proof.MarshalBinary()
	for name, b := range map[string][]byte{"proof.json": jsonProof, "proof.bin": binProof} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for acts, wantCode := range map[string]int{honest: 0, noisy: 0, otherPrompt: 3} {
			code, out := runPython(t, py, "verify", path, acts, "--prompt-len", "16")
			if code != wantCode {
				t.Fatalf("python verify %s against %s: exit %d, want %d\n%s", name, filepath.Base(acts), code, wantCode, out)
			}
			var res struct {
				Chunks []struct {
					Exp  int     `json:"exp_mismatches"`
					Mean float64 `json:"mant_err_mean"`
				} `json:"chunks"`
				Proofs []string `json:"proofs"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			for i, p := range res.Proofs {
				if p != s.proof.Chunks[i].String() {
					t.Fatalf("python decoded chunk %d as %s, Go encoded %s", i, p, s.proof.Chunks[i])
				}
			}
			// Both implementations compute the same statistics.
			seq := mustRead(t, acts)
			goRes, err := Verify(context.Background(), s.proof, seq)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range res.Chunks {
				if c.Exp != goRes.Chunks[i].ExpMismatches || c.Mean != goRes.Chunks[i].MantErrMean {
					t.Fatalf("%s chunk %d: python (%d, %v), go (%d, %v)", filepath.Base(acts), i, c.Exp, c.Mean, goRes.Chunks[i].ExpMismatches, goRes.Chunks[i].MantErrMean)
				}
			}
		}
	}

	// Python proves; Go decodes and verifies, and the bytes are identical.
	pyProof := filepath.Join(dir, "py.json")
	if code, out := runPython(t, py, "prove", honest, "-o", pyProof, "--prompt-len", "16"); code != 0 {
		t.Fatal(out)
	}
	b, err := os.ReadFile(pyProof)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProof(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Chunks {
		if p.Chunks[i].String() != s.proof.Chunks[i].String() {
			t.Fatalf("chunk %d: python proved %s, Go %s", i, p.Chunks[i], s.proof.Chunks[i])
		}
	}
	res, err := Verify(context.Background(), p, Jitter(s.honest, 5, 0.5))
	if err != nil || !res.Accepted {
		t.Fatalf("python proof against noisy activations: %+v %v", res, err)
	}
}

func mustRead(t *testing.T, path string) Sequence {
	t.Helper()
	tt, err := tensorfile.ReadFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	bits, err := tt.Uint16s()
	if err != nil {
		t.Fatal(err)
	}
	return Sequence{DType: BF16, Hidden: tt.Shape[1], PromptLen: simPrompt, States: bits}
}
