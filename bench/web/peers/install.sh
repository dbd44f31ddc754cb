#!/usr/bin/env bash
# Installs the peer editors (Excalidraw, tldraw, React, esbuild; package.json,
# package-lock.json) into bench/web/peers/node_modules, which git ignores, and
# bundles their benchmark pages into dist/ (build.mjs) when a source is newer
# than the bundle. Only the npm registry is used.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/@excalidraw/excalidraw ] || [ ! -d node_modules/tldraw ] || [ ! -d node_modules/@tldraw/assets ] || [ ! -x node_modules/.bin/esbuild ]; then
	npm install --no-audit --no-fund --ignore-scripts >&2
fi
if [ ! -f dist/tldraw.js ] || [ -n "$(find src build.mjs package-lock.json -newer dist/tldraw.js 2>/dev/null | head -1)" ]; then
	node build.mjs >&2
fi
