#!/usr/bin/env bash
# Runs the real openpool binary in the network lab (internal/netlab,
# build tag lab): a bootstrap node and 4 `openpool join --trainer toy`
# workers over links of 20 ms one-way delay (80 ms RTT between nodes):
# all direct, with one worker behind NAT, with 1% loss per link, and with
# one worker's link cut mid-training (the other three must finish as a
# group of 3). Prints each worker's outer steps. Needs root, ip and tc.
# NETLAB_OPENPOOL may name a prebuilt binary; otherwise the test builds
# ./cmd/openpool.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	echo "netlab-scenario: skipped (needs root, ip and tc)"
	exit 0
fi
bash scripts/netlab-setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -tags lab -p 1 -run TestScenario ./internal/netlab/ -v -count=1 -timeout 15m 2>&1 | tee "$log" >/dev/null || status=$?
grep -E '^SCENARIO' "$log" | sed 's/^SCENARIO //' || true
grep -E '^(\s*--- |ok|FAIL)|scenario_test.go' "$log" || true
exit "$status"
