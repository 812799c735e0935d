#!/usr/bin/env bash
# The network lab (internal/netlab, build tag lab). Needs root, ip and tc
# (Linux network namespaces); installs iptables and ping if missing.
#
#   scripts/netlab-check.sh [validation]  the WAN emulator against its
#       configuration (TestNetlab*): RTT and jitter (UDP echo and iputils
#       ping), Bernoulli loss over 40000 datagrams, TCP goodput through
#       tbf, partitions, NAT, cleanup; prints the figures.
#   scripts/netlab-check.sh scenario  the real openpool binary in the lab
#       (TestScenario*): a bootstrap node and 4 `openpool join --trainer
#       toy` workers over 80 ms RTT, all direct, one or two behind NAT,
#       with 1% loss, one worker cut and one killed mid-training, a late
#       joiner catching up, a partition that heals, and a checkpoint
#       publisher that goes offline; each ends with every surviving node on
#       the same weights (or checkpoint bytes); prints each worker's outer
#       steps. NETLAB_OPENPOOL may name a prebuilt binary.
#   scripts/netlab-check.sh utilization  DiLoCo compute utilization (time
#       training / total time) at H = 100 and 500 with a configured per-step
#       compute time (TestUtilizationDiLoCo; knobs NETLAB_UTIL_*).
#   scripts/netlab-check.sh all       validation and scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-validation}" in
validation) run='^TestNetlab' ;;
scenario) run='^TestScenario' ;;
utilization) run='^TestUtilization' ;;
all) run='^(TestNetlab|TestScenario)' ;;
*) echo "usage: $0 [validation|scenario|utilization|all]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	echo "netlab-check: skipped (needs root, ip and tc)"
	exit 0
fi
bash scripts/netlab-setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -tags lab -p 1 -run "$run" ./internal/netlab/ -v -count=1 -timeout 20m >"$log" 2>&1 || status=$?
grep -E '^\s+\S+_test\.go:[0-9]+: ' "$log" | grep -vE ': (link [0-9]+|emulator): ' || true
echo
echo "== netlab figures"
grep -E '^(FIGURE|SCENARIO) ' "$log" | sed -E 's/^(FIGURE|SCENARIO) //' || true
grep -E '^BENCH ' "$log" || true
grep -E '^\s*(--- |ok|FAIL|panic)' "$log" || true
exit "$status"
