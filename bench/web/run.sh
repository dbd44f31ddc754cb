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
# The peer editors (Excalidraw, tldraw: bench/web/peers), installed from npm
# and bundled on first use; BENCH_PEERS="" leaves them out.
BENCH_PEERS=${BENCH_PEERS-excalidraw tldraw}
export BENCH_PEERS
if [ -n "$BENCH_PEERS" ] && ! bash bench/web/peers/install.sh; then
  echo "# the peers could not be installed (npm): left out" >&2
  BENCH_PEERS=
fi
# Two boards: 5,000 elements (seeded through the client) and 100,000 (through
# the node's REST batch endpoint); BENCH_ELEMENTS=n runs one size only. Each
# size: Corkboard's client, then the peers on the same content.
for n in ${BENCH_ELEMENTS:-5000 100000}; do
  echo "# board of $n elements, load $(cut -d' ' -f1-3 /proc/loadavg)"
  BENCH_ELEMENTS=$n timeout "${BENCH_TIMEOUT:-15m}" node bench/web/bench.mjs
  # tldraw only up to 20,000 elements unless BENCH_PEERS_BIG says otherwise:
  # making its 100,000-element scene through its API did not end in 10 min
  # (5,000 took 19 s), and it takes 11-14 s to open 5,000 (bench/README.md).
  peers=$BENCH_PEERS
  [ "$n" -le 20000 ] || peers=${BENCH_PEERS_BIG-${BENCH_PEERS//tldraw/}}
  if [ -n "${peers// /}" ]; then
    echo "# the peers ($peers) on $n elements, load $(cut -d' ' -f1-3 /proc/loadavg)"
    BENCH_PEERS=$peers BENCH_ELEMENTS=$n timeout "${BENCH_PEER_TIMEOUT:-30m}" node bench/web/peers/run.mjs ||
      echo "# the peers' run on $n elements failed (exit $?)" >&2
  fi
done
