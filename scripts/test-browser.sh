#!/usr/bin/env bash
# Renders a node's status page in headless Chromium (Debian package
# `chromium`) and checks the pool and its members on the rendered page.
# Usage: scripts/test-browser.sh [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ -z "${OPENPOOL_CHROMIUM:-}" ]; then
  echo "test-browser: chromium is not installed; install it with" >&2
  echo "  apt-get install -y --no-install-recommends chromium" >&2
  echo "or set OPENPOOL_CHROMIUM to a Chromium binary." >&2
  exit 1
fi
exec go test -p 1 -count=1 -v -run 'TestStatusPage' "$@" ./node/
