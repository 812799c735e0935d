// Package toploc proves and verifies LLM inference with TOPLOC
// (arXiv 2501.16007), byte-compatible with the reference implementation,
// Prime Intellect's toploc package (commit 7ab7bcd; see
// ../shared/toploc/FORMAT.md).
//
// A prover commits to the last hidden states of an inference (the output of
// the final norm): for each chunk of tokens, the k values of largest
// magnitude are interpolated, as (index mod m, 16-bit pattern), by a
// polynomial over GF(65497); the chunk's proof is m and the k coefficients,
// 2+2k bytes (258 for k = 128). A verifier recomputes the hidden states with
// one prefill pass over prompt plus completion, takes its own top-k,
// evaluates the polynomial at those indices and compares bf16 exponents and
// mantissas. The statistics absorb GPU non-determinism but not a different
// model, prompt or precision.
//
// # Use
//
//	proof, err := toploc.Prove(ctx, seq)                  // seq: Sequence of bf16 rows
//	b, _ := proof.MarshalBinary()                         // or json.Marshal(proof)
//	...
//	p, err := toploc.ParseProof(b)                        // bounded, never panics
//	res, err := toploc.Verify(ctx, p, mySeq, toploc.WithParams(toploc.DefaultParams))
//	if err != nil { /* malformed input */ }
//	if !res.Accepted { /* res.Reason, res.Chunks[i] statistics; res.Err() wraps ErrRejected */ }
//
// A node that pays for inference should: carry the proof (binary container,
// about 258 bytes per 32 tokens) with each work submission; have validators
// sample a configurable fraction of submissions, recompute the activations of
// the sampled ones and call Verify with WithParams set to the pool's
// parameters (never trusting the proof's own); run CheckGeneration on the
// returned tokens; and treat ErrInvalidProof as a rejection of the worker.
//
// # Choices where the reference is silent or differs
//
//   - Ties at the k-th place go to the lower index (torch leaves the order
//     unspecified). Only a tie straddling the boundary can differ from the
//     reference, and it costs the verifier one or two exponent mismatches.
//   - |x| is ordered by the sign-cleared bit pattern, so NaNs rank above
//     Inf, as torch's topk ranks them.
//   - The verifier evaluates at index mod m. The reference's C++ path does
//     too; its Python path (lists of tensors, or skip_prefill false)
//     evaluates at the raw index, which differs whenever m != 65497 (about
//     6% of 32×4096 chunks) and then reports mismatches for honest work.
//   - MantErrMedian is the upper median, as the C++ path; MantErrMedianMid
//     is the Python path's statistics.median.
//   - fp16 is proved and compared with the same bf16 bit split (the
//     reference proves fp16 but cannot verify it); fp32 is rounded to bf16
//     (nearest even, as torch) before proving, as the reference requires.
//   - A null proof (modulus 0) is rejected; the reference's C++ verifier
//     would divide by zero.
//   - Decoders refuse what the reference silently accepts: odd lengths,
//     k = 0, k > MaxTopK (1024), chunk counts above MaxChunks. Verification
//     costs about k² field operations per chunk, so the limit on k is a
//     limit on the work a proof can demand.
//   - Thresholds are the paper's (mean mantissa error 10, median 8, at least
//     90 of 128 exponents equal), scaled to other k by the same fraction.
//   - The reference has no container for the list of chunk proofs: Proof's
//     JSON form uses its parameter names and base64 text, and the binary
//     form is a 14-byte header ("TPLC", version, flags, chunk size, topk,
//     count) followed by the reference bytes of every chunk.
package toploc
