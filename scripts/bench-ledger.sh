#!/usr/bin/env bash
# bench-ledger.sh: the ledger's heavy checks and figures.
#  1. Gas per operation and the per-node cost of one outer step at 100
#     nodes (simulated chain, mainnet fork rules), with the work
#     submission's ratio to its storage floor measured in the same run.
#  2. The integration test against a real `geth --dev` built from the
#     pinned go-ethereum (cached after the first build; set OPENPOOL_GETH
#     to use a prebuilt binary).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== gas table (BenchmarkLedgerGas) =="
go test -run '^$' -bench BenchmarkLedgerGas -benchtime 1x ./ledger/
echo "== geth --dev integration (TestGethDev, lab) =="
go test -tags lab -count=1 -timeout 20m -run TestGethDev -v ./ledger/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS|\s+geth_lab_test)'
