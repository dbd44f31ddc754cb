#!/usr/bin/env bash
# with-node.sh [node flags...] -- command [args...]
#
# Builds the node, starts it on a loopback port with a fresh data directory,
# runs the command with LOAD_URL pointing at it, then stops the node and
# removes the directory. If LOAD_URL is already set, the command runs
# against that node and nothing is started. The node's CPU time over the
# command is printed on stderr. Everything is bounded in time: the node has
# 30 s to become healthy and the command NODE_CMD_TIMEOUT (default 30m).
# NODE_BIN runs that binary instead of building the node (alternating two
# builds, before and after a change).
set -euo pipefail
node_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do node_flags+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: with-node.sh [node flags...] -- command [args...]" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ -n "${LOAD_URL:-}" ]; then
	exec timeout "${NODE_CMD_TIMEOUT:-30m}" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)/corkboard
data=$(mktemp -d)
port=${NODE_PORT:-18181}
if [ -n "${NODE_BIN:-}" ]; then
	cp "$NODE_BIN" "$bin" # another build of the node (before/after runs)
else
	(cd "$root" && go build -o "$bin" ./server/cmd/corkboard)
fi
# Every client is on loopback: no per-address limits (flags given override).
"$bin" --addr "127.0.0.1:$port" --data-dir "$data" --log-level warn --ws-per-ip -1 --boards-per-hour -1 --replica-claims-per-ip -1 --change-mib-per-day -1 "${node_flags[@]}" 2>"$data.log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$data" "$(dirname "$bin")"
	if [ -s "$data.log" ]; then echo "with-node: node log (warnings):" >&2; tail -5 "$data.log" >&2; fi
	rm -f "$data.log"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "with-node: node exited" >&2; exit 1; }
	sleep 0.1
done
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
rc=0
LOAD_URL="http://127.0.0.1:$port" timeout "${NODE_CMD_TIMEOUT:-30m}" "$@" || rc=$?
c1=$(cpu); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v pid="$pid" -v rss="$(awk '/VmHWM/{print $2}' /proc/$pid/status)" \
	'BEGIN{printf "with-node: node pid %d: %.2f CPU cores over the whole command (%.1f s), peak RSS %.1f MiB\n", pid, (c1-c0)/100/(t1-t0), t1-t0, rss/1024}' >&2
exit $rc
