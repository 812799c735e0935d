#!/usr/bin/env bash
# TOPLOC benchmarks: prove and verify throughput as a ratio of the memory
# read bandwidth measured in the same run (target: prove >= 0.25), and the
# proof size per 32 tokens (the paper: about 258 bytes). "ratio" compares
# wall times of the pass and of a plain read of the same buffer, interleaved
# iteration by iteration; "cpu-time ratio" (one core, Linux) compares the
# thread's CPU time instead, which is what to trust on a loaded machine.
#
#   scripts/bench-toploc.sh            # Go benchmarks + the 1 GiB lab test
#   BENCHTIME=20x scripts/bench-toploc.sh
set -euo pipefail
cd "$(dirname "$0")/.."

benchtime=${BENCHTIME:-10x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== machine load before: $(uptime)"
echo "== Go benchmarks (64 MiB of bf16 activations, hidden 4096, chunk 32, topk 128; benchtime $benchtime)"
go test -count=1 ./toploc/ -run '^$' -bench . -benchtime "$benchtime" | tee "$out"

echo
echo "== lab: 1 GiB of activations (hidden 8192)"
go test -count=1 -tags lab ./toploc/ -run TestLab -v -timeout 20m | grep -E 'goroutines=|^(ok|FAIL|---)' | tee -a "$out"

echo
echo "== summary"
awk '
/^Benchmark(Prove|Verify)/ {
	name=$1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "ratio_to_membw") r=$i
		if ($(i+1) == "cpu_ratio_to_membw") cr=$i
		if ($(i+1) == "MB/s") mbs=$i
		if ($(i+1) == "membw_GB/s") bw=$i
		if ($(i+1) == "proof_bytes/chunk") pb=$i
	}
	printf "%-24s %8.0f MB/s  memory %6.2f GB/s  ratio %.3f%s%s\n", name, mbs, bw, r, (cr != "" ? sprintf("  cpu-time ratio %.3f", cr) : ""), (name ~ /Prove/ ? (r >= 0.25 ? "  (target >= 0.25: met)" : "  (target >= 0.25: MISSED)") : "")
	cr=""
	if (pb != "") proof=pb
}
END { if (proof != "") printf "proof size per 32-token chunk: %s bytes (paper: ~258)\n", proof }
' "$out"
echo "== machine load after: $(uptime)"
