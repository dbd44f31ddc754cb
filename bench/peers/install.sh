#!/usr/bin/env bash
# Installs the peer servers, the Yjs client libraries and the CRDT peers
# (Yjs, loro-crdt, @automerge/automerge; crdt.mjs) (package.json,
# package-lock.json) into bench/peers/node_modules, which git ignores; does
# nothing when they are there already. Only the npm registry is used.
set -euo pipefail
cd "$(dirname "$0")"
if [ -d node_modules/@hocuspocus/server ] && [ -d node_modules/@y/websocket-server ] && [ -d node_modules/yjs ] &&
	[ -d node_modules/loro-crdt ] && [ -d node_modules/@automerge/automerge ]; then
	exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts >&2 || npm install --no-audit --no-fund --ignore-scripts >&2
