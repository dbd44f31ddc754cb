# Corkboard. `make run` starts a node; `make test` runs every test.
GO      ?= go
BIN     ?= bin/corkboard
FUZZTIME ?= 20s

.PHONY: all build run test test-race test-web vet bench crdtbench schema fuzz wasm webclient sdk clean licenses notice

all: build

build:
	$(GO) build -o $(BIN) ./server/cmd/corkboard

# `make run` builds the web client into the binary first. ARGS are passed to
# the node: make run ARGS="--addr 127.0.0.1:9090 --data-dir /tmp/cb".
ARGS ?=
run: webclient build
	./$(BIN) $(ARGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Go tests, then the web client's browser tests (webclient/test/run.sh:
# headless Chromium against a node it starts on a free port).
test: vet
	$(GO) test -count=1 ./...
	$(MAKE) test-web

test-web: webclient
	bash webclient/test/run.sh

# Licences (.ci/licenses): `make licenses` checks that NOTICE is up to date
# and that every Go module in the binary and every npm package in the web
# client is under an allowed licence (it needs webclient/node_modules: `npm
# install` in webclient first); `make notice` writes NOTICE again. The
# directory starts with a dot, so `go test ./...` leaves its tests out: they
# run here.
licenses:
	$(GO) test -count=1 ./.ci/licenses
	$(GO) run ./.ci/licenses

notice:
	$(GO) run ./.ci/licenses -write

test-race:
	$(GO) test -count=1 -race ./...

# Benchmarks: Go benchmarks of the packages (with the worst cases of the
# bounded resources: late moves on the deepest tree, held changes at the
# cap; docs/SECURITY.md), the CRDT contract workloads, the webhook fan-out
# worst case, the import of a 5,000-element Excalidraw file into a real
# node, then the web client in Chromium. The CRDT peers' side of the
# contract is `make crdtpeers` (npm; 6 to 12 minutes, most of it Loro lww).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./crdt/ ./storage/
	$(GO) test -run '^$$' -bench 'HeldAtCap|DotVoteBigBoard' -benchmem ./server/room/
	$(GO) test -run '^$$' -bench 'EncodeBigEnds' -benchmem ./server/farview/
	$(GO) test -run '^$$' -bench 'Enqueue' -benchmem ./server/outbox/
	$(GO) test -run '^$$' -bench 'RecordSeen' -benchmem ./server/api/
	$(GO) test -run '^$$' -bench 'ImportExcalidraw' -benchtime 5x ./server/node/
	$(GO) run ./bench/cmd/crdtbench
	$(GO) run ./bench/cmd/webhookfanout -duration 30s
	$(MAKE) benchweb

# The web client in headless Chromium (bench/web, bench/README.md "Web client"),
# then the same boards in the peer editors (bench/web/peers, installed from npm
# into its git-ignored node_modules on first use; BENCH_PEERS= leaves them out).
.PHONY: benchweb
benchweb: webclient
	bash bench/web/run.sh

crdtbench:
	$(GO) run ./bench/cmd/crdtbench

# The CRDT contract workloads on package crdt and on Yjs, Loro and Automerge
# (installed from npm into the git-ignored bench/peers/node_modules) in one
# run, alternately, each workload a fresh process, then the ratios against
# issue #14's targets (bench/README.md, "CRDT"; QUICK=1 for a smoke run,
# PEER_LWW_RUNS=1 to shorten the peers' whiteboard).
.PHONY: crdtpeers
crdtpeers:
	bash bench/peers/crdt.sh

# The schema's artefacts for programs: docs/schema.json (JSON Schema) and
# webclient/src/schema.gen.ts (TypeScript), generated from crdt.Kinds.
schema:
	$(GO) run ./server/cmd/schemagen

# Short fuzzing of every fuzz target of the module (FUZZTIME each): the
# packages are found by `go list` (those whose tests declare a Fuzz
# function), the targets by `go test -list`, so a new one is never left out.
fuzz:
	@pkgs=$$($(GO) list -f '{{$$d := .Dir}}{{range .TestGoFiles}}{{$$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$d}}/{{.}} {{end}}' ./... \
		| xargs -r grep -l '^func Fuzz' | xargs -r -n1 dirname | sort -u); \
	[ -n "$$pkgs" ] || { echo "no fuzz targets found"; exit 1; }; \
	for d in $$pkgs; do p=./$$(realpath --relative-to=. $$d); \
		for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
			echo "== $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; done; done

wasm:
	GOOS=js GOARCH=wasm $(GO) build ./crdt/...

# The web client (webclient/): package crdt compiled to WebAssembly, Go's
# wasm_exec.js, then `npm install` (when package-lock.json changed) and a Vite
# build into webclient/dist, which the node embeds (webclient/embed.go).
webclient:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o webclient/src/gen/crdt.wasm ./webclient/wasm
	@js="$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js"; [ -f "$$js" ] || js="$$($(GO) env GOROOT)/misc/wasm/wasm_exec.js"; \
		cmp -s "$$js" webclient/src/gen/wasm_exec.js || cp "$$js" webclient/src/gen/wasm_exec.js
	@cd webclient && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm install --no-audit --no-fund && touch node_modules/.package-lock.json; }
	cd webclient && npx --no-install vite build --logLevel warn
	@touch webclient/dist/.gitkeep

# The SDK, @corkboard/client (webclient/sdk, docs/SDK.md): bundled from the
# web client's modules with the WebAssembly of `make webclient`, then packed
# (npm pack, whose prepack builds it) into bin/corkboard-client-<version>.tgz.
sdk: webclient
	@mkdir -p bin
	cd webclient/sdk && npm pack --pack-destination ../../bin

clean:
	rm -rf bin webclient/src/gen
	find webclient/dist -mindepth 1 ! -name .gitkeep -delete

# Node benchmarks (bench/README.md, section "Node"). `make load` starts a node
# on 127.0.0.1:18181 with a fresh data directory (or uses LOAD_URL) and runs
# the load generator: make load LOADFLAGS="-clients 500 -boards 1 -rate 200".
# `make benchnode` runs every node-level benchmark with modest settings.
.PHONY: load benchnode benchpeers
LOADFLAGS ?=
NODEFLAGS ?=
load:
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); bash bench/scripts/with-node.sh $(NODEFLAGS) -- $(GO) run ./bench/cmd/load $(LOADFLAGS)

# The node beside Hocuspocus and y-websocket (installed from npm into the
# git-ignored bench/peers/node_modules), alternately, each a fresh process:
# 200 boards x 5 clients at 1,000 changes/s and one board of 1,000 clients at
# 200 changes/s (bench/README.md, "Peers"; ROUNDS=n, SCENARIOS="many big");
# then the CRDT beside Yjs, Loro and Automerge (crdtpeers).
benchpeers:
	bash bench/peers/run.sh
	bash bench/peers/crdt.sh

benchnode:
	$(GO) run ./bench/cmd/fsynclat -n 1000
	$(GO) run ./bench/cmd/openboard -runs 3
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); $(GO) run ./bench/cmd/idleconns -clients 5000 -boards 100
	bash bench/scripts/with-node.sh -- $(GO) run ./bench/cmd/load -clients 500 -boards 1 -rate 200 -duration 20s -warmup 5s
	bash bench/scripts/with-node.sh -- $(GO) run ./bench/cmd/load -clients 5000 -boards 1000 -rate 2000 -duration 20s -warmup 5s
	bash bench/scripts/with-node.sh -- $(GO) run ./bench/cmd/load -clients 1000 -boards 1 -rate 200 -duration 20s -warmup 5s
	bash bench/scripts/with-node.sh --fanout-delay 0 -- $(GO) run ./bench/cmd/load -clients 1000 -boards 200 -rate 1000 -duration 20s -warmup 5s
