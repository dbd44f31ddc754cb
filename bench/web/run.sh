#!/usr/bin/env bash
# The web client's browser benchmarks (bench/web/bench.mjs): builds the node
# with the built client embedded, then runs the script under node, which
# starts the node itself (webclient/test/lib.mjs) and drives Debian's
# Chromium. Build the client first (`make benchweb` does both).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f webclient/dist/index.html ]; then
  echo "webclient/dist is not built: run make webclient" >&2
  exit 1
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "no Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${CORKBOARD_BIN:-}" ]; then
  ${GO:-go} build -o "$tmp/corkboard" ./server/cmd/corkboard
  CORKBOARD_BIN="$tmp/corkboard"
fi
export CORKBOARD_BIN CHROMIUM
# Two boards: 5,000 elements (seeded through the client) and 100,000 (through
# the node's REST batch endpoint); BENCH_ELEMENTS=n runs one size only.
for n in ${BENCH_ELEMENTS:-5000 100000}; do
  echo "# board of $n elements, load $(cut -d' ' -f1-3 /proc/loadavg)"
  BENCH_ELEMENTS=$n timeout "${BENCH_TIMEOUT:-15m}" node bench/web/bench.mjs
done
