package node_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/corkboard/corkboard/server/node"
)

// lockedLog is a log the node's goroutines may write at once.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestDataDirPrivate: without --secret the node keeps its token-signing
// secret in its store, and Pebble made the data directory 0755 and its
// files 0644: any local user could read the secret and sign an owner
// token for any board. A node makes its data directory 0700, and
// tightens one it finds open to others (saying so in its log), on a new
// directory and on one an earlier version made 0755.
func TestDataDirPrivate(t *testing.T) {
	mode := func(dir string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	fresh := filepath.Join(t.TempDir(), "data")
	tn := startNode(t, func(c *node.Config) { c.DataDir = fresh })
	if got := mode(fresh); got != 0o700 {
		t.Fatalf("a new data directory is %v, want 0700", got)
	}
	tn.stop()

	old := t.TempDir()
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	log := &lockedLog{}
	startNode(t, func(c *node.Config) {
		c.DataDir = old
		c.Log = slog.New(slog.NewTextHandler(log, nil))
	})
	if got := mode(old); got != 0o700 {
		t.Fatalf("a data directory found 0755 is %v after the start, want 0700", got)
	}
	if !strings.Contains(log.String(), "made 0700") {
		t.Fatalf("the tightening is not logged:\n%s", log.String())
	}
	// Files the store made meanwhile are inside it.
	if files, _ := filepath.Glob(filepath.Join(old, "*")); len(files) == 0 {
		t.Fatal("no store in the data directory")
	}
}
