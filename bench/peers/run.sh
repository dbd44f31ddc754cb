#!/usr/bin/env bash
# bench/peers/run.sh: Corkboard's node and the Yjs servers (Hocuspocus,
# y-websocket) under the same workload, alternately, each run a fresh server
# process (bench/README.md, "Peers"). `make benchpeers` runs it.
#
# Scenarios (SCENARIOS, space-separated; default both):
#   many  200 boards x 5 clients, 1,000 changes/s (Corkboard with --fanout-delay 0)
#   big   one board, 1,000 clients, 200 changes/s (Corkboard's default fan-out delay)
# ROUNDS (default 1) repeats corkboard, hocuspocus, y-websocket in turn;
# DURATION and WARMUP (seconds, default 20 and 5); PEERS_PORT (18282).
# PEERS (default "hocuspocus y-websocket"; empty: none) chooses the Yjs servers;
# NODE_BINS, space-separated paths of corkboard binaries, runs each of them
# in turn in every round instead of building the tree's (before/after).
# APPLY (all or none) overrides whether the Yjs clients apply what they
# receive: all on many boards; none on the big board, where one JavaScript
# thread per worker cannot apply 200,000 updates/s on this machine (the
# clients then read each update's ids only; the server's work is the same).
# Each run prints the machine's load average before it and its RESULT line
# (node_cpu_ms_per_change: the server process's CPU over the window per
# change; e2e_p50_ms/e2e_p99_ms; missing_deliveries).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
SCENARIOS=${SCENARIOS:-many big}
PEERS=${PEERS-hocuspocus y-websocket}
NODE_BINS=${NODE_BINS:-}
port=${PEERS_PORT:-18282}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bash "$here/install.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/load" ./bench/cmd/load)

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

peer() { # peer NAME LAUNCHER PROTO CLIENTS BOARDS RATE APPLY
	local name=$1 launcher=$2 proto=$3 clients=$4 boards=$5 rate=$6 apply=$7
	PORT=$port node "$here/$launcher" 2>"$tmp/$name.log" >/dev/null &
	local pid=$!
	for _ in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { echo "benchpeers: $name exited" >&2; cat "$tmp/$name.log" >&2; return 1; }
		sleep 0.1
	done
	local rc=0
	timeout 10m node "$here/yload.mjs" --proto "$proto" --url "ws://127.0.0.1:$port" --pid "$pid" \
		--clients "$clients" --boards "$boards" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --apply "$apply" || rc=$?
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return $rc
}

for round in $(seq 1 "$ROUNDS"); do
	for sc in $SCENARIOS; do
		case $sc in
		many) clients=1000 boards=200 rate=1000 nodeflags=(--fanout-delay 0) apply=${APPLY:-all} ;;
		big) clients=1000 boards=1 rate=200 nodeflags=() apply=${APPLY:-none} ;;
		*) echo "benchpeers: unknown scenario $sc" >&2; exit 2 ;;
		esac
		loadapply=true
		[ "$apply" = none ] && loadapply=false
		for bin in ${NODE_BINS:-tree}; do
			echo "benchpeers: round $round $sc corkboard ${nodeflags[*]:-} ($bin) loadavg $(loadavg)"
			[ "$bin" = tree ] && bin=
			NODE_BIN=$bin bash "$root/bench/scripts/with-node.sh" "${nodeflags[@]}" -- "$tmp/load" -apply=$loadapply -clients $clients -boards $boards -rate $rate -duration "${DURATION}s" -warmup "${WARMUP}s"
		done
		for p in $PEERS; do
			echo "benchpeers: round $round $sc $p loadavg $(loadavg)"
			case $p in
			hocuspocus) peer hocuspocus hocuspocus.mjs hocuspocus $clients $boards $rate "$apply" ;;
			y-websocket) peer y-websocket ywebsocket.mjs y-websocket $clients $boards $rate "$apply" ;;
			*) echo "benchpeers: unknown peer $p" >&2; exit 2 ;;
			esac
		done
	done
done
