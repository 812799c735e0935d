#!/usr/bin/env bash
# Soak test of a bootstrap node: the real `openpool bootstrap` process under
# several hundred churning in-process peers; heap (live after GC),
# goroutines and open file descriptors must stay flat (node/soak_test.go).
# Usage: scripts/soak-bootstrap.sh [duration] [peers]
#   defaults 10m and 300; also OPENPOOL_SOAK_SAMPLE (30s),
#   OPENPOOL_SOAK_WARMUP (2m), OPENPOOL_SOAK_LIFETIME (2m).
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENPOOL_SOAK_DURATION="${1:-${OPENPOOL_SOAK_DURATION:-10m}}"
export OPENPOOL_SOAK_PEERS="${2:-${OPENPOOL_SOAK_PEERS:-300}}"
# go test's own deadline: the run plus 10 minutes to build, ramp up and stop.
d="$OPENPOOL_SOAK_DURATION"
case "$d" in
  *h) secs=$(( ${d%h} * 3600 )) ;;
  *m) secs=$(( ${d%m} * 60 )) ;;
  *s) secs=${d%s} ;;
  *) echo "soak-bootstrap: duration $d: use a whole number with s, m or h (e.g. 10m)" >&2; exit 2 ;;
esac
exec go test -tags lab -p 1 -count=1 -v -timeout "$(( secs + 600 ))s" -run '^TestSoakBootstrap$' ./node/
