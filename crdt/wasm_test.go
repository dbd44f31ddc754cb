package crdt

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// The web client runs this very package compiled to WebAssembly.
func TestBuildsForWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package for js/wasm")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	// A library package: go build type-checks and compiles it, then
	// discards the result.
	cmd := exec.Command(gobin, "build", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
}
