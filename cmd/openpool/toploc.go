package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openpool/openpool/toploc"
	"github.com/openpool/openpool/toploc/tensorfile"
)

// exitRejected is the exit code of `toploc verify` when the proof does not
// match the activations (0 accepted, 1 error, 2 usage or unreadable input).
const exitRejected = 3

// maxProofFile bounds the proof file read by verify.
const maxProofFile = 64 << 20

func newToplocCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "toploc",
		Short: "Prove and verify inference with TOPLOC proofs over last hidden states",
		Long: `TOPLOC commits to the top-k last hidden states of an inference, per chunk of
tokens, as a polynomial over GF(65497); proofs are byte-compatible with the
reference implementation (Prime Intellect's toploc package).

Activations are a safetensors or .npy file holding the last hidden states
(bf16, fp16, or fp32, which is rounded to bf16) as [tokens, hidden] (a
leading batch dimension of 1 is dropped). Rows 0..prompt-len-1 are the
prompt. A safetensors file may instead hold tensors "prefill" and "decode".

Exit codes: 0 accepted (or proof written), 1 error, 2 bad usage or
unreadable input, 3 proof rejected.`,
	}
	cmd.AddCommand(newToplocProveCmd(g), newToplocVerifyCmd(g))
	return cmd
}

// actFlags are the flags that say how to read an activations file.
type actFlags struct {
	tensor    string
	promptLen int
}

func (a *actFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.tensor, "tensor", "", "tensor name in a safetensors file (default: the only tensor, or \"prefill\"+\"decode\")")
	cmd.Flags().IntVar(&a.promptLen, "prompt-len", 0, "number of prompt rows (needed for the prefill proof unless the file has \"prefill\"/\"decode\")")
}

func paramFlags(cmd *cobra.Command, p *toploc.Params) {
	cmd.Flags().IntVar(&p.ChunkSize, "chunk", toploc.DefaultParams.ChunkSize, "generated tokens per proof (decode_batching_size)")
	cmd.Flags().IntVar(&p.TopK, "topk", toploc.DefaultParams.TopK, "committed values per chunk")
	cmd.Flags().BoolVar(&p.SkipPrefill, "skip-prefill", false, "no separate proof for the prompt: chunk every row from row 0")
}

func newToplocProveCmd(g *globals) *cobra.Command {
	var (
		out    string
		format string
		params toploc.Params
		af     actFlags
	)
	cmd := &cobra.Command{
		Use:   "prove <activations> -o <proof>",
		Short: "Write the TOPLOC proof of an activations file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("toploc prove: -o <proof file> is required (\"-\" for stdout)")
			}
			if format != "json" && format != "binary" {
				return usagef("toploc prove: --format %q: want json or binary", format)
			}
			seq, err := readActivations(args[0], af, params.SkipPrefill)
			if err != nil {
				return err
			}
			proof, err := toploc.Prove(cmd.Context(), seq, toploc.WithParams(params))
			if errors.Is(err, toploc.ErrInvalidInput) || errors.Is(err, toploc.ErrTooFewValues) {
				return usagef("%s: %v", args[0], err)
			}
			if err != nil {
				return err
			}
			var b []byte
			if format == "binary" {
				b, err = proof.MarshalBinary()
			} else {
				b, err = json.MarshalIndent(proof, "", " ")
				b = append(b, '\n')
			}
			if err != nil {
				return err
			}
			if out == "-" {
				_, err = g.stdout.Write(b)
				return err
			}
			if err := writeFileAtomic(out, b); err != nil {
				return fmt.Errorf("toploc prove: %w", err)
			}
			g.logger().Info("proof written", "file", out, "chunks", len(proof.Chunks), "rows", seq.Rows(),
				"dtype", seq.DType, "bytes", len(b))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "proof file to write (\"-\" for stdout)")
	cmd.Flags().StringVar(&format, "format", "json", "proof file format: json (the reference's base64 proofs) or binary")
	paramFlags(cmd, &params)
	af.register(cmd)
	return cmd
}

func newToplocVerifyCmd(g *globals) *cobra.Command {
	var (
		params   toploc.Params
		af       actFlags
		asJSON   bool
		maxExp   int
		maxMean  float64
		maxMed   float64
		parallel int
	)
	cmd := &cobra.Command{
		Use:   "verify <proof> <activations>",
		Short: "Check a TOPLOC proof against your own activations (exit 3 when rejected)",
		Long: `Check a TOPLOC proof against activations you computed yourself (one
prefill pass over prompt plus completion). Prints the statistics of every
chunk: exponent mismatches, mean and median mantissa error, top-k overlap.

The proof's own parameters are used unless --chunk, --topk or --skip-prefill
is given, in which case the proof must have exactly those. Thresholds default
to the paper's: reject a chunk when more than 38 of 128 exponents differ
(same fraction for other k), the mean mantissa error exceeds 10, or the
median exceeds 8.

Exit codes: 0 accepted, 1 error, 2 bad usage or unreadable input, 3 rejected.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			proof, err := readProof(args[0])
			if err != nil {
				return err
			}
			seq, err := readActivations(args[1], af, proof.SkipPrefill)
			if err != nil {
				return err
			}
			var opts []toploc.Option
			f := cmd.Flags()
			if f.Changed("chunk") || f.Changed("topk") || f.Changed("skip-prefill") {
				req := proof.Params
				if f.Changed("chunk") {
					req.ChunkSize = params.ChunkSize
				}
				if f.Changed("topk") {
					req.TopK = params.TopK
				}
				if f.Changed("skip-prefill") {
					req.SkipPrefill = params.SkipPrefill
				}
				opts = append(opts, toploc.WithParams(req))
			}
			th := toploc.DefaultThresholds(proof.TopK)
			if f.Changed("max-exp-mismatches") {
				th.MaxExpMismatches = maxExp
			}
			th.MaxMantErrMean, th.MaxMantErrMedian = maxMean, maxMed
			opts = append(opts, toploc.WithThresholds(th))
			if parallel > 0 {
				opts = append(opts, toploc.WithParallelism(parallel))
			}
			res, err := toploc.Verify(cmd.Context(), proof, seq, opts...)
			if errors.Is(err, toploc.ErrInvalidInput) || errors.Is(err, toploc.ErrTooFewValues) {
				return usagef("%v", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", " ")
				if err := enc.Encode(resultJSON(res)); err != nil {
					return err
				}
			} else {
				printResult(g.stdout, res)
			}
			if !res.Accepted {
				return exitError{exitRejected, res.Err()}
			}
			return nil
		},
	}
	paramFlags(cmd, &params)
	af.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&maxExp, "max-exp-mismatches", 38, "reject a chunk with more exponent mismatches (default: 38 per 128 of topk)")
	cmd.Flags().Float64Var(&maxMean, "max-mant-err-mean", 10, "reject a chunk with a larger mean mantissa error")
	cmd.Flags().Float64Var(&maxMed, "max-mant-err-median", 8, "reject a chunk with a larger median mantissa error")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "goroutines (default: all CPUs)")
	return cmd
}

func readProof(path string) (*toploc.Proof, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("proof: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProofFile+1))
	if err != nil {
		return nil, usagef("proof %s: %v", path, err)
	}
	if len(b) > maxProofFile {
		return nil, usagef("proof %s: larger than %d MiB", path, maxProofFile>>20)
	}
	p, err := toploc.ParseProof(b)
	if err != nil {
		return nil, usagef("proof %s: %v", path, err)
	}
	return p, nil
}

// readActivations loads a file into a Sequence. The safetensors pair
// "prefill"/"decode" gives the prompt length; otherwise --prompt-len does.
func readActivations(path string, af actFlags, skipPrefill bool) (toploc.Sequence, error) {
	var parts []tensorfile.Tensor
	promptLen := af.promptLen
	if af.tensor == "" {
		if pair, ok, err := prefillDecodePair(path); err != nil {
			return toploc.Sequence{}, usagef("%v", err)
		} else if ok {
			parts = pair
			if promptLen == 0 {
				promptLen = rowsOf(pair[0].Shape)
			}
		}
	}
	if parts == nil {
		t, err := tensorfile.ReadFile(path, af.tensor)
		if err != nil {
			return toploc.Sequence{}, usagef("activations: %v", err)
		}
		parts = []tensorfile.Tensor{t}
	}
	var seq toploc.Sequence
	for _, t := range parts {
		shape := t.Shape
		for len(shape) > 2 && shape[0] == 1 {
			shape = shape[1:]
		}
		if len(shape) == 0 || len(shape) > 2 {
			return seq, usagef("%s: tensor %q has shape %v; want [tokens, hidden]", path, t.Name, t.Shape)
		}
		hidden := shape[len(shape)-1]
		if seq.Hidden != 0 && hidden != seq.Hidden {
			return seq, usagef("%s: hidden size %d and %d differ", path, seq.Hidden, hidden)
		}
		seq.Hidden = hidden
		var (
			bits []uint16
			dt   toploc.DType
			err  error
		)
		switch t.DType {
		case tensorfile.BF16, tensorfile.F32:
			bits, err = t.BF16Bits()
			dt = toploc.BF16
		case tensorfile.F16:
			bits, err = t.Uint16s()
			dt = toploc.FP16
		default:
			err = fmt.Errorf("dtype %s", t.DType)
		}
		if err != nil {
			return seq, usagef("%s: %v", path, err)
		}
		if seq.DType != 0 && dt != seq.DType {
			return seq, usagef("%s: tensors of different precision", path)
		}
		seq.DType = dt
		seq.States = append(seq.States, bits...)
	}
	if skipPrefill {
		promptLen = 0
	} else if promptLen <= 0 {
		return seq, usagef("%s: the prompt's rows are unknown: pass --prompt-len N or store tensors \"prefill\" and \"decode\" (or prove with --skip-prefill)", path)
	}
	seq.PromptLen = promptLen
	if promptLen > seq.Rows() {
		return seq, usagef("%s: --prompt-len %d but only %d rows", path, promptLen, seq.Rows())
	}
	return seq, nil
}

func rowsOf(shape []int) int {
	if len(shape) == 0 {
		return 0
	}
	n := 1
	for _, d := range shape[:len(shape)-1] {
		n *= d
	}
	return n
}

// prefillDecodePair reads tensors "prefill" and "decode" from a safetensors
// file that has exactly those.
func prefillDecodePair(path string) ([]tensorfile.Tensor, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("activations: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	hdr, err := tensorfile.SafetensorsHeader(f, st.Size())
	if err != nil || len(hdr) != 2 || hdr[0].Name != "decode" || hdr[1].Name != "prefill" {
		return nil, false, nil // not such a file: let ReadFile report on it
	}
	pre, err := tensorfile.ReadSafetensors(f, st.Size(), "prefill")
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	dec, err := tensorfile.ReadSafetensors(f, st.Size(), "decode")
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return []tensorfile.Tensor{pre, dec}, true, nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".toploc-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func printResult(w io.Writer, res toploc.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "chunk\trows\texp_mismatches\tmant_err_mean\tmant_err_median\ttopk_overlap\tverdict")
	for i, c := range res.Chunks {
		verdict := "ok"
		if !c.Accepted {
			verdict = "REJECT: " + c.Reason
		}
		fmt.Fprintf(tw, "%d\t%d-%d\t%d\t%.3g\t%.3g\t%.3f\t%s\n", i, c.Start, c.End, c.ExpMismatches, c.MantErrMean, c.MantErrMedian, c.TopKOverlap, verdict)
	}
	tw.Flush()
	th := res.Thresholds
	fmt.Fprintf(w, "thresholds: exp_mismatches <= %d, mant_err_mean <= %g, mant_err_median <= %g (chunk %d, topk %d, skip_prefill %v)\n",
		th.MaxExpMismatches, th.MaxMantErrMean, th.MaxMantErrMedian, res.Params.ChunkSize, res.Params.TopK, res.Params.SkipPrefill)
	if res.Accepted {
		fmt.Fprintf(w, "accepted: %d chunks\n", len(res.Chunks))
	} else {
		fmt.Fprintf(w, "rejected: %s\n", res.Reason)
	}
}

// resultJSON is the --json form of a result.
func resultJSON(res toploc.Result) any {
	type chunk struct {
		Start            int     `json:"start"`
		End              int     `json:"end"`
		ExpMismatches    int     `json:"exp_mismatches"`
		MantErrMean      float64 `json:"mant_err_mean"`
		MantErrMedian    float64 `json:"mant_err_median"`
		MantErrMedianMid float64 `json:"mant_err_median_mid"`
		TopKOverlap      float64 `json:"topk_overlap"`
		Null             bool    `json:"null,omitempty"`
		Accepted         bool    `json:"accepted"`
		Reason           string  `json:"reason,omitempty"`
	}
	out := struct {
		Accepted         bool    `json:"accepted"`
		Reason           string  `json:"reason,omitempty"`
		ChunkSize        int     `json:"decode_batching_size"`
		TopK             int     `json:"topk"`
		SkipPrefill      bool    `json:"skip_prefill"`
		MaxExpMismatches int     `json:"threshold_exp_mismatches"`
		MaxMantErrMean   float64 `json:"threshold_mant_err_mean"`
		MaxMantErrMedian float64 `json:"threshold_mant_err_median"`
		ProofChunks      int     `json:"proof_chunks"`
		ExpectedChunks   int     `json:"expected_chunks"`
		Chunks           []chunk `json:"chunks"`
	}{res.Accepted, res.Reason, res.Params.ChunkSize, res.Params.TopK, res.Params.SkipPrefill,
		res.Thresholds.MaxExpMismatches, res.Thresholds.MaxMantErrMean, res.Thresholds.MaxMantErrMedian,
		res.ProofChunks, res.ExpectedChunks, []chunk{}}
	for _, c := range res.Chunks {
		out.Chunks = append(out.Chunks, chunk{c.Start, c.End, c.ExpMismatches, c.MantErrMean, c.MantErrMedian, c.MantErrMedianMid, c.TopKOverlap, c.Null, c.Accepted, c.Reason})
	}
	return out
}
