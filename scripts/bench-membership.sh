#!/usr/bin/env bash
# Membership benchmark: failure detection and deathrattle propagation times as
# multiples of the heartbeat interval, and membership bytes per node per
# second (gossipsub + SWIM probes), at N = 10, 50 and 100 real nodes on
# loopback, for both membership modes (heartbeat and swim), with the swim /
# heartbeat byte ratio per N.
#   OPENPOOL_BENCH_INTERVAL=2s OPENPOOL_BENCH_MODES=swim OPENPOOL_BENCH_SIZES=10,50 scripts/bench-membership.sh
# OPENPOOL_BENCH_SIZES_HEARTBEAT / OPENPOOL_BENCH_SIZES_SWIM override the
# sizes of one mode (gossiping heartbeats at N=100 in one process does not
# converge on a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
# Progress lines are dropped; failures (did not converge, missing events) stay.
go test -tags lab -count=1 -timeout 60m -run TestMembershipBenchmark ./node/ -v 2>&1 |
	grep -v -E '^=== RUN|converging:|worst node:|N=[0-9]+ converged$'
