#!/usr/bin/env bash
# Validates the network lab's WAN emulator (internal/netlab, build tag lab)
# against its configuration and prints the figures: RTT and jitter (UDP
# echo and iputils ping), Bernoulli loss over 40000 datagrams, TCP goodput
# through tbf, then partitions, NAT and cleanup. Needs root, ip and tc
# (Linux network namespaces); installs iptables and ping if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	echo "netlab-check: skipped (needs root, ip and tc)"
	exit 0
fi
bash scripts/netlab-setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -tags lab -p 1 -run TestNetlab ./internal/netlab/ -v -count=1 -timeout 15m 2>&1 | tee "$log" || status=$?
echo
echo "== netlab figures"
grep -E '^FIGURE' "$log" | sed 's/^FIGURE //' || true
grep -E '^(--- |ok|FAIL)' "$log" || true
exit "$status"
