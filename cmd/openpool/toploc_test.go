package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openpool/openpool/toploc"
	"github.com/openpool/openpool/toploc/tensorfile"
)

// bf16Data makes rows×hidden random bf16 activations (normal-ish values).
func bf16Data(seed uint64, rows, hidden int) []uint16 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]uint16, rows*hidden)
	for i := range v {
		f := float32(r.NormFloat64())
		v[i] = tensorfile.F32ToBF16(math.Float32bits(f))
	}
	return v
}

func tensorOf(name string, shape []int, bits []uint16) tensorfile.Tensor {
	data := make([]byte, 2*len(bits))
	for i, b := range bits {
		binary.LittleEndian.PutUint16(data[2*i:], b)
	}
	return tensorfile.Tensor{Name: name, DType: tensorfile.BF16, Shape: shape, Data: data}
}

func writeST(t *testing.T, path string, ts ...tensorfile.Tensor) {
	t.Helper()
	var buf bytes.Buffer
	if err := tensorfile.WriteSafetensors(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestToplocProveVerify(t *testing.T) {
	dir := t.TempDir()
	const rows, hidden, prompt = 80, 256, 16
	acts := bf16Data(1, rows, hidden)
	actsPath := filepath.Join(dir, "acts.safetensors")
	writeST(t, actsPath, tensorOf("hidden_states", []int{1, rows, hidden}, acts))
	proofPath := filepath.Join(dir, "proof.json")

	code, _, stderr := runCLI(t, "toploc", "prove", actsPath, "-o", proofPath, "--prompt-len", "16")
	if code != 0 {
		t.Fatalf("prove: exit %d: %s", code, stderr)
	}
	// The file is the reference's parameters and base64 proofs, equal to the
	// library's proof.
	b, err := os.ReadFile(proofPath)
	if err != nil {
		t.Fatal(err)
	}
	var pj struct {
		Chunk  int      `json:"decode_batching_size"`
		TopK   int      `json:"topk"`
		Proofs []string `json:"proofs"`
	}
	if err := json.Unmarshal(b, &pj); err != nil || pj.Chunk != 32 || pj.TopK != 128 || len(pj.Proofs) != 3 {
		t.Fatalf("proof file %s: %v", b, err)
	}
	want, err := toploc.Prove(context.Background(), toploc.Sequence{DType: toploc.BF16, Hidden: hidden, PromptLen: prompt, States: acts})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range pj.Proofs {
		if s != want.Chunks[i].String() {
			t.Fatalf("chunk %d: %s, library says %s", i, s, want.Chunks[i])
		}
	}

	code, stdout, stderr := runCLI(t, "toploc", "verify", proofPath, actsPath, "--prompt-len", "16")
	if code != 0 || !strings.Contains(stdout, "accepted: 3 chunks") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}

	// Other activations: rejected with exit 3 and the statistics printed.
	otherPath := filepath.Join(dir, "other.safetensors")
	writeST(t, otherPath, tensorOf("hidden_states", []int{rows, hidden}, bf16Data(2, rows, hidden)))
	code, stdout, _ = runCLI(t, "toploc", "verify", proofPath, otherPath, "--prompt-len", "16", "--json")
	if code != exitRejected {
		t.Fatalf("other activations: exit %d, want %d\n%s", code, exitRejected, stdout)
	}
	var res struct {
		Accepted bool `json:"accepted"`
		Chunks   []struct {
			Exp int `json:"exp_mismatches"`
		} `json:"chunks"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Accepted || len(res.Chunks) != 3 || res.Chunks[0].Exp <= 38 {
		t.Fatalf("json result %s: %v", stdout, err)
	}

	// Requiring other parameters than the proof's rejects it.
	if code, _, _ := runCLI(t, "toploc", "verify", proofPath, actsPath, "--prompt-len", "16", "--topk", "64"); code != exitRejected {
		t.Fatalf("--topk 64 against a topk-128 proof: exit %d", code)
	}
}

func TestToplocFormats(t *testing.T) {
	dir := t.TempDir()
	const hidden = 64
	pre, dec := bf16Data(3, 5, hidden), bf16Data(4, 40, hidden)
	pairPath := filepath.Join(dir, "pair.safetensors")
	writeST(t, pairPath, tensorOf("prefill", []int{5, hidden}, pre), tensorOf("decode", []int{40, hidden}, dec))
	bin := filepath.Join(dir, "proof.bin")
	if code, _, e := runCLI(t, "toploc", "prove", pairPath, "-o", bin, "--format", "binary", "--chunk", "16", "--topk", "32"); code != 0 {
		t.Fatalf("prove pair: %d %s", code, e)
	}
	if b, _ := os.ReadFile(bin); !bytes.HasPrefix(b, []byte("TPLC")) || len(b) != 14+4*(2+64) {
		t.Fatalf("binary proof of %d bytes", len(b))
	}
	// The same rows as one .npy array with --prompt-len verify the proof.
	npyPath := filepath.Join(dir, "acts.npy")
	var buf bytes.Buffer
	if err := tensorfile.WriteNPY(&buf, tensorOf("", []int{45, hidden}, append(pre, dec...))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(npyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, e := runCLI(t, "toploc", "verify", bin, npyPath, "--prompt-len", "5"); code != 0 {
		t.Fatalf("verify npy: %d\n%s%s", code, out, e)
	}
	// With the wrong prompt length the chunks do not line up: rejected.
	if code, _, _ := runCLI(t, "toploc", "verify", bin, npyPath, "--prompt-len", "6"); code != exitRejected {
		t.Fatalf("wrong prompt length: exit %d", code)
	}
	// --skip-prefill to stdout.
	if code, out, e := runCLI(t, "toploc", "prove", npyPath, "-o", "-", "--skip-prefill"); code != 0 || !strings.Contains(out, `"skip_prefill": true`) {
		t.Fatalf("skip-prefill: %d %s %s", code, out, e)
	}
}

func TestToplocUsageErrors(t *testing.T) {
	dir := t.TempDir()
	acts := filepath.Join(dir, "a.safetensors")
	writeST(t, acts, tensorOf("h", []int{40, 64}, bf16Data(5, 40, 64)))
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a tensor file at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	proof := filepath.Join(dir, "p.json")
	if code, _, e := runCLI(t, "toploc", "prove", acts, "-o", proof, "--skip-prefill"); code != 0 {
		t.Fatalf("prove: %d %s", code, e)
	}
	for name, args := range map[string][]string{
		"no output":          {"toploc", "prove", acts},
		"missing file":       {"toploc", "prove", filepath.Join(dir, "nope"), "-o", proof},
		"junk activations":   {"toploc", "prove", junk, "-o", proof, "--skip-prefill"},
		"no prompt length":   {"toploc", "prove", acts, "-o", proof},
		"bad flag":           {"toploc", "prove", acts, "-o", proof, "--topk", "x"},
		"topk too large":     {"toploc", "prove", acts, "-o", proof, "--skip-prefill", "--topk", "5000"},
		"too few values":     {"toploc", "prove", acts, "-o", proof, "--prompt-len", "1", "--topk", "1000"},
		"bad format":         {"toploc", "prove", acts, "-o", proof, "--format", "xml"},
		"junk proof":         {"toploc", "verify", junk, acts},
		"missing proof":      {"toploc", "verify", filepath.Join(dir, "nope"), acts},
		"verify junk acts":   {"toploc", "verify", proof, junk},
		"wrong arg count":    {"toploc", "verify", proof},
		"tensor not in file": {"toploc", "verify", proof, acts, "--tensor", "x"},
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
}
