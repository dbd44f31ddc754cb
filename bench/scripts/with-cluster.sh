#!/usr/bin/env bash
# with-cluster.sh [node flags...] -- command [args...]
#
# Builds the node and starts three of them on loopback (HTTP ports 18191-
# 18193), their embedded NATS servers clustered through routes (ports 16221-
# 16223), one shared secret, fresh data directories. Once each node hears
# the two others, it runs the command with LOAD_URL (the first node) and
# LOAD_URLS (the other two) set, then stops the nodes and prints their CPU
# use. Bounded in time like with-node.sh.
set -euo pipefail
node_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do node_flags+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: with-cluster.sh [node flags...] -- command [args...]" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)/corkboard
(cd "$root" && go build -o "$bin" ./server/cmd/corkboard)
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=(); dirs=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for d in "${dirs[@]}"; do rm -rf "$d" "$d.log"; done
	rm -rf "$(dirname "$bin")"
}
trap cleanup EXIT
for i in 0 1 2; do
	routes=()
	for j in 0 1 2; do [ "$j" = "$i" ] || routes+=("nats://127.0.0.1:$((16221 + j))"); done
	d=$(mktemp -d); dirs+=("$d")
	"$bin" --addr "127.0.0.1:$((18191 + i))" --data-dir "$d" --log-level warn --node-id "node$i" --secret "$secret" --ws-per-ip -1 --boards-per-hour -1 --replica-claims-per-ip -1 --change-mib-per-day -1 \
		--nats-cluster "127.0.0.1:$((16221 + i))" --nats-routes "$(IFS=,; echo "${routes[*]}")" "${node_flags[@]}" 2>"$d.log" &
	pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 1 300); do
		peers=$(curl -fsS "http://127.0.0.1:$((18191 + i))/readyz" 2>/dev/null | grep -o '"node":"node[0-9]"' | wc -l || true)
		[ "${peers:-0}" -ge 3 ] && break # itself and two peers
		sleep 0.1
	done
done
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
declare -a c0
for k in 0 1 2; do c0[$k]=$(cpu "${pids[$k]}"); done
t0=$(date +%s.%N)
rc=0
LOAD_URL="http://127.0.0.1:18191" LOAD_URLS="http://127.0.0.1:18192,http://127.0.0.1:18193" timeout "${NODE_CMD_TIMEOUT:-30m}" "$@" || rc=$?
t1=$(date +%s.%N)
for k in 0 1 2; do
	c1=$(cpu "${pids[$k]}")
	awk -v c0="${c0[$k]}" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v k="$k" \
		'BEGIN{printf "with-cluster: node%d: %.2f CPU cores over the command (%.1f s)\n", k, (c1-c0)/100/(t1-t0), t1-t0}' >&2
done
exit $rc
