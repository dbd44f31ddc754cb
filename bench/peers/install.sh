#!/usr/bin/env bash
# Installs the peer servers and the Yjs client libraries (package.json,
# package-lock.json) into bench/peers/node_modules, which git ignores; does
# nothing when they are there already. Only the npm registry is used.
set -euo pipefail
cd "$(dirname "$0")"
if [ -d node_modules/@hocuspocus/server ] && [ -d node_modules/@y/websocket-server ] && [ -d node_modules/yjs ]; then
	exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts >&2 || npm install --no-audit --no-fund --ignore-scripts >&2
