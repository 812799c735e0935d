#!/usr/bin/env bash
# ledger-geth-test.sh: run the ledger against a real `geth --dev` process.
# geth is built from github.com/ethereum/go-ethereum/cmd/geth at the
# version pinned in go.mod the first time (several minutes on 2 cores) and
# cached in the user cache directory; OPENPOOL_GETH=/path/to/geth skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -tags lab -count=1 -timeout 30m -run TestGethDev -v ./ledger/
