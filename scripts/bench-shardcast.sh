#!/usr/bin/env bash
# Shardcast benchmarks. Prints ratios against limits measured in the same run:
#  1. one shard transfer over libp2p on loopback / raw TCP between the same
#     process's goroutines (Go benchmark; target >= 0.8), with a plain
#     libp2p stream between the same hosts as the transport's ceiling, and
#     the ceiling for any transport encrypting with AES-GCM (plus the
#     receiver's SHA-256 check) from CPU costs measured in the same run,
#  2. network lab (needs root, ip, tc; build tag lab): one shard transfer /
#     raw TCP between the same two processes over a tbf-shaped link, and
#     the time for a checkpoint of S bytes to reach all N = 8 and N = 16
#     nodes over links of rate B, divided by S/B (target <= 1.5).
# Knobs: BENCHTIME (default 10x); SHARDCAST_LAB_MBIT, SHARDCAST_LAB_MIB,
# SHARDCAST_LAB_SHARD_KIB, SHARDCAST_LAB_PAIR_MBIT (see shardcast/lab_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== loopback: shard transfer vs raw TCP (same process, same run)"
go test -run '^$' -bench 'BenchmarkShardTransferVsTCP' -benchtime "${BENCHTIME:-10x}" ./shardcast/ |
	grep -E '^Benchmark' |
	awk '{ for (i = 1; i <= NF; i++) m[$(i)] = $(i-1)
	       printf "%s: shard %s MB/s, raw TCP %s MB/s, ratio %s (target >= 0.8); plain libp2p stream %s MB/s: stream/tcp %s, shard/stream %s; CPU time raw TCP/shard %s, raw TCP/stream %s; ceiling here for any AES-GCM transport %s, and with the SHA-256 check every shard needs %s\n",
	              $1, m["shard-MB/s"], m["tcp-MB/s"], m["ratio"], m["stream-MB/s"], m["stream/tcp"], m["shard/stream"], m["cpu-tcp/shard"], m["cpu-tcp/stream"], m["aesgcm-ceiling"], m["aesgcm+sha256-ceiling"] }'

if [ "$(id -u)" != 0 ] || ! command -v tc >/dev/null; then
	echo "== network lab skipped (needs root and tc)"
	exit 0
fi
echo "== network lab: shard transfer vs raw TCP over one shaped link"
go test -tags lab -run 'TestLabShardTransfer' -count=1 -v ./shardcast/ | grep -E '^LAB|FAIL' || true
echo "== network lab: broadcast to N nodes / (S/B)"
go test -tags lab -run 'TestLabBroadcast' -count=1 -timeout 20m -v ./shardcast/ | grep -E '^LAB|FAIL' || true
