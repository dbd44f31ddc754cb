# Corkboard. `make run` starts a node; `make test` runs every test.
GO      ?= go
BIN     ?= bin/corkboard
FUZZTIME ?= 20s

.PHONY: all build run test test-race vet bench crdtbench fuzz wasm clean

all: build

build:
	$(GO) build -o $(BIN) ./server/cmd/corkboard

run: build
	./$(BIN)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: vet
	$(GO) test -count=1 ./...

test-race:
	$(GO) test -count=1 -race ./...

# Benchmarks: Go benchmarks of the packages, then the CRDT contract workloads.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./crdt/ ./storage/
	$(GO) run ./bench/cmd/crdtbench

crdtbench:
	$(GO) run ./bench/cmd/crdtbench

# Short fuzzing of every decoder and of convergence (FUZZTIME each).
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./crdt/ | grep ^Fuzz); do \
		echo "== crdt $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./crdt/ || exit 1; done
	@for t in $$($(GO) test -list 'Fuzz.*' ./storage/ | grep ^Fuzz); do \
		echo "== storage $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./storage/ || exit 1; done

wasm:
	GOOS=js GOARCH=wasm $(GO) build ./crdt/...

clean:
	rm -rf bin
