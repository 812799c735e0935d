#!/usr/bin/env bash
# ledger-check-generated.sh: CI check that the committed contract
# artifacts (ledger/contracts/build) equal a fresh compile with the pinned
# solc and OpenZeppelin from npm, and that the committed Go bindings equal
# abigen's output for them. Needs node and npm registry access.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ledger/contracts && npm ci --no-audit --no-fund --silent)
OPENPOOL_REQUIRE_SOLC=1 go test -count=1 -run 'TestBindingsMatchArtifacts|TestArtifactsMatchSources' -v ./ledger/ \
  | grep -E '^(=== RUN|--- |ok|FAIL|PASS|\s+generate_test)'
