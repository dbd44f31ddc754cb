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
# change; e2e_p50_ms/e2e_p99_ms; missing_deliveries). The summary at the
# end puts each round's figures side by side against issue #14's targets:
# on many boards Corkboard's CPU per change against y-websocket's (target:
# at most 1x), on the big board Corkboard's e2e p99 (target: under 50 ms,
# every change delivered), with the peers' figures of the same round.
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
		--clients "$clients" --boards "$boards" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" --apply "$apply" >"$tmp/out" || rc=$?
	cat "$tmp/out"
	sed -n "s|^RESULT |SUMMARY round=$round scenario=$sc server=$name loadavg=$(cut -d' ' -f1 /proc/loadavg) |p" "$tmp/out" >>"$tmp/results"
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
			NODE_BIN=$bin bash "$root/bench/scripts/with-node.sh" "${nodeflags[@]}" -- "$tmp/load" -apply=$loadapply -clients $clients -boards $boards -rate $rate -duration "${DURATION}s" -warmup "${WARMUP}s" |
				tee /dev/stderr | sed -n "s|^RESULT |SUMMARY round=$round scenario=$sc server=corkboard bin=${bin:-tree} loadavg=$(cut -d' ' -f1 /proc/loadavg) |p" >>"$tmp/results"
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

# The summary (see the top): per round and scenario, every server's line.
awk '
function kv(key,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == key) return substr($i, length(key) + 2) } return "" }
/^SUMMARY / {
	r = kv("round"); sc = kv("scenario"); srv = kv("server"); if (kv("bin") != "" && kv("bin") != "tree") srv = srv "(" kv("bin") ")"
	cpu = kv("node_cpu_ms_per_change") + 0; p99 = kv("e2e_p99_ms") + 0; miss = kv("missing_deliveries") + 0
	line[r, sc] = line[r, sc] sprintf("\n    %-34s cpu/change %.3f ms, e2e p50 %s / p99 %s ms, missing %d, load %s", srv, cpu, kv("e2e_p50_ms"), kv("e2e_p99_ms"), miss, kv("loadavg"))
	if (srv == "y-websocket") { yws[r, sc] = cpu; ymiss[r, sc] = miss }
	if (kv("server") == "corkboard") { n = ++nc[r, sc]; ccpu[r, sc, n] = cpu; cp99[r, sc, n] = p99; cmiss[r, sc, n] = miss; cname[r, sc, n] = srv }
	if (!((r, sc) in seen)) { seen[r, sc] = 1; order[++m] = r SUBSEP sc }
}
END {
	if (m == 0) exit 0
	print "benchpeers: summary against the targets of issue #14 (ratios of the same round)"
	for (i = 1; i <= m; i++) {
		split(order[i], k, SUBSEP); r = k[1]; sc = k[2]
		printf "  round %s %s:%s\n", r, sc, line[r, sc]
		for (j = 1; j <= nc[r, sc]; j++) {
			if (sc == "many" && ((r, sc) in yws) && yws[r, sc] > 0)
				printf "    target 1, %s: %.2fx the CPU per change of y-websocket (<= 1x: %s%s)\n", cname[r, sc, j], ccpu[r, sc, j] / yws[r, sc], (ccpu[r, sc, j] <= yws[r, sc] ? "met" : "missed"), (ymiss[r, sc] > 0 ? "; y-websocket fell behind its clients, so its figure is not comparable" : "")
			if (sc == "big")
				printf "    target 2, %s: e2e p99 %.1f ms, %d missing (< 50 ms, none missing: %s)\n", cname[r, sc, j], cp99[r, sc, j], cmiss[r, sc, j], (cp99[r, sc, j] < 50 && cmiss[r, sc, j] == 0) ? "met" : "missed"
		}
	}
}' "$tmp/results"
