#!/usr/bin/env bash
# Membership benchmark: failure detection and deathrattle propagation times as
# multiples of the heartbeat interval, and gossip bytes per node per second,
# at N = 10, 50 and 100 real nodes on loopback.
#   OPENPOOL_BENCH_INTERVAL=2s scripts/bench-membership.sh
set -euo pipefail
cd "$(dirname "$0")/.."
go test -tags lab -count=1 -timeout 30m -run TestMembershipBenchmark ./node/ -v 2>&1 | grep -v '^\s*bench_membership_test.go' | sed -n '/membership benchmark/,$p'
