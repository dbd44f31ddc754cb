#!/usr/bin/env bash
# The web client's browser tests: headless Chromium (Debian's, driven by
# playwright-core) against Corkboard nodes that the tests start themselves
# (test/lib.mjs: a free loopback port, a temp data dir). This script builds
# the node binary with the built client embedded and runs node's test
# runner. Build the client first (`make webclient`; `make test-web` does both).
set -euo pipefail
cd "$(dirname "$0")/../.."
# No import cycles among the client's modules, and browser storage only
# in store.ts (test/cycles.mjs, test/storage.mjs).
node webclient/test/cycles.mjs
node webclient/test/storage.mjs
if [ ! -f webclient/dist/index.html ]; then
  echo "webclient/dist is not built: run make webclient" >&2
  exit 1
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "no Chromium at $CHROMIUM (apt-get install chromium)" >&2
  exit 1
fi
# The SDK (webclient/sdk) as it ships, for test/sdk*.test.mjs.
node webclient/sdk/build.mjs --no-types
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${GO:-go} build -o "$tmp/corkboard" ./server/cmd/corkboard
export CORKBOARD_BIN="$tmp/corkboard" CHROMIUM
cd webclient
# Node 20 has WebSocket behind a flag (the SDK's tests use it; later Nodes have it anyway).
ws=
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || ws=--experimental-websocket
exec node $ws --test --test-concurrency=1 --test-timeout=120000 test/*.test.mjs
