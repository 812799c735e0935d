#!/usr/bin/env bash
# Runs the DiLoCo heavy tests and benchmarks (build tag lab) and prints the
# ratios against limits measured in the same run:
#   - all-reduce bus bandwidth / raw TCP (and / libp2p stream) per ring link,
#     4 and 8 peers, 256 MiB and 1 GiB fp32 vectors in mmapped files; also
#     the CPU time the process spends moving the same bytes per link over
#     raw TCP (and a libp2p stream) / the all-reduce's: on a shared machine
#     the wall-clock ratios move with the load, the CPU ones much less; and
#     the ceiling any transport encrypting with AES-GCM has on this machine
#   - the same bus bandwidth / raw TCP ring between the same processes in a
#     network lab whose links are shaped by tc tbf (TestLabBusBandwidthShaped,
#     needs root, ip and tc; skipped without): there the links, not the
#     CPU, are the limit (it prints the machine's CPU busy to show it)
#   - int8 quantize+dequantize throughput / memcpy of the same buffer
#   - wire bytes per worker: data-parallel fp32 every step / DiLoCo int8 at H=500
# Environment: DILOCO_BENCH_PEERS (default 4,8), DILOCO_BENCH_MIB (default
# 256,1024), DILOCO_BENCH_REPEATS (default 3), DILOCO_BENCH_LANES (default 2),
# DILOCO_LAB_MBIT (lab link rate, default 100), DILOCO_LAB_REPEATS (default 1).
# Needs about 2*peers*size of free disk for the mmapped vectors (in $TMPDIR).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -tags lab -count=1 -timeout 60m -v -run 'TestLab(QuantThroughput|WireBytes|BusBandwidth)' ./diloco/ | tee "$out" | grep -E '^(RATIO|wire bytes|--- FAIL|FAIL|ok)' || true
echo
echo "== summary =="
grep -E '^RATIO' "$out"
if grep -qE '^(--- FAIL|FAIL)' "$out"; then
	echo "bench-diloco: a measurement failed its correctness checks; see the output above" >&2
	exit 1
fi
