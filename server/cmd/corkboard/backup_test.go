package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
)

// testNode is a node serving on a loopback port, stopped at the test's end.
type testNode struct {
	t      *testing.T
	n      *node.Node
	base   string
	served chan error
	done   bool
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode starts a node on dataDir, logging to log (nil: nowhere).
func startNode(t *testing.T, dataDir string, log io.Writer) *testNode {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	n, err := node.New(node.Config{Addr: "127.0.0.1:0", DataDir: dataDir, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{t: t, n: n, base: "http://" + addr.String(), served: make(chan error, 1)}
	go func() { tn.served <- n.Serve() }()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	if tn.done {
		return
	}
	tn.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tn.n.Shutdown(ctx); err != nil {
		tn.t.Errorf("shutdown: %v", err)
	}
	if err := <-tn.served; err != nil {
		tn.t.Errorf("serve: %v", err)
	}
}

// get returns the body of a 200 answer to GET path with the token.
func (tn *testNode) get(path, token string) []byte {
	tn.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, tn.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tn.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

type testBoard struct{ id, token string }

// createBoard creates a board and writes notes into it over the WebSocket,
// waiting for their acks.
func (tn *testNode) createBoard(name string, notes int) testBoard {
	tn.t.Helper()
	resp, err := http.Post(tn.base+"/v1/boards", "application/json", strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		Board struct{ ID string } `json:"board"`
		Token string              `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || created.Board.ID == "" {
		tn.t.Fatalf("create board: %d %v", resp.StatusCode, err)
	}
	b := testBoard{created.Board.ID, created.Token}
	tn.edit(b, 0, notes, "note")
	return b
}

// edit writes notes first..first+n-1 with their text into board b.
func (tn *testNode) edit(b testBoard, first, n int, text string) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(tn.base, "http") + "/v1/boards/" + b.id + "/ws?token=" + b.token
	c, err := client.Dial(ctx, client.Options{URL: url, Replica: crdt.ReplicaID(1000 + first)})
	if err != nil {
		tn.t.Fatal(err)
	}
	defer c.CloseNow()
	seq, err := c.Edit(ctx, time.Now().UnixMilli(), func(tx *crdt.Tx) error {
		for i := first; i < first+n; i++ {
			var id crdt.ElementID
			id[0], id[14], id[15] = 0xee, byte(i>>8), byte(i)
			if err := tx.Create(id, "note"); err != nil {
				return err
			}
			if err := tx.InsertText(id, "text", 0, fmt.Sprintf("%s %d", text, i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := c.WaitAck(ctx, seq); err != nil {
		tn.t.Fatal(err)
	}
}

// TestBackupRestore: a backup taken from a running node, through the admin
// socket as `corkboard backup` takes it, restored with `corkboard restore`
// into a fresh data directory, starts a fresh node (its own, empty
// JetStream) that serves every board as it was at the backup: settings,
// elements and version, and the same tokens work. A change made after the
// backup is not in it.
func TestBackupRestore(t *testing.T) {
	unsetEnv(t, "CORKBOARD_DATA_DIR")
	dir := t.TempDir()
	dataA, dataB, bak := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "backup")

	a := startNode(t, dataA, nil)
	stopAdmin, err := serveAdmin(a.n, dataA, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stopAdmin()
	if fi, err := os.Stat(filepath.Join(dataA, adminDir)); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Fatalf("admin directory: mode %v, want 0700", fi.Mode())
	}

	boards := []testBoard{a.createBoard("one", 3), a.createBoard("two", 40), a.createBoard("three", 1)}
	type saved struct{ meta, state []byte }
	want := map[string]saved{}
	for _, b := range boards {
		want[b.id] = saved{withoutNow(t, a.get("/v1/boards/"+b.id, b.token)), a.get("/v1/boards/"+b.id+"/state", b.token)}
	}

	var out bytes.Buffer
	if err := run([]string{"backup", "--data-dir", dataA, bak}, &out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(out.String(), "backup written to "+bak) {
		t.Errorf("backup printed %q", out.String())
	}
	if fi, err := os.Stat(bak); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: mode %v, want 0700 (it holds the secret)", fi.Mode())
	}
	// The node goes on; this change comes after the backup.
	a.edit(boards[0], 100, 1, "after the backup")
	if bytes.Equal(a.get("/v1/boards/"+boards[0].id+"/state", boards[0].token), want[boards[0].id].state) {
		t.Fatal("the change after the backup did not change the board: the test would prove nothing")
	}

	// A second backup into the same directory is refused; so is a backup
	// of a data directory where no node runs.
	if err := run([]string{"backup", "--data-dir", dataA, bak}, io.Discard); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup into an existing directory: %v", err)
	}
	if err := run([]string{"backup", "--data-dir", filepath.Join(dir, "none"), filepath.Join(dir, "bak2")}, io.Discard); err == nil || !strings.Contains(err.Error(), "no node answers") {
		t.Errorf("backup with no node: %v", err)
	}
	stopAdmin()
	a.stop()

	// Restore refuses a data directory in use (not empty), and a
	// directory that is no backup.
	if err := run([]string{"restore", "--data-dir", dataA, bak}, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore over a data directory: %v", err)
	}
	if err := run([]string{"restore", "--data-dir", dataB, dir + "/none"}, io.Discard); err == nil {
		t.Error("restore of a missing directory: no error")
	}
	if err := run([]string{"restore", "--data-dir", dataB, filepath.Join(dataA, adminDir)}, io.Discard); err == nil || !strings.Contains(err.Error(), "not a backup") {
		t.Errorf("restore of a directory that is no backup: %v", err)
	}

	if err := run([]string{"restore", "--data-dir", dataB, bak}, io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	var logB syncBuffer
	b := startNode(t, dataB, &logB)
	// Its JetStream directory was not in the backup: the node filled the
	// empty buckets from the store's view of them (meta's migration).
	if !strings.Contains(logB.String(), "migrated records into the bucket") || !strings.Contains(logB.String(), "bucket=cb_boards") {
		t.Errorf("the restored node did not fill its buckets from the backup; its log:\n%s", logB.String())
	}
	for i, bd := range boards {
		meta, state := withoutNow(t, b.get("/v1/boards/"+bd.id, bd.token)), b.get("/v1/boards/"+bd.id+"/state", bd.token)
		if !bytes.Equal(meta, want[bd.id].meta) {
			t.Errorf("board %d: restored settings\n%s\nwant\n%s", i, meta, want[bd.id].meta)
		}
		if !bytes.Equal(state, want[bd.id].state) {
			t.Errorf("board %d: restored state\n%s\nwant\n%s", i, state, want[bd.id].state)
		}
	}
	// The restored node takes writes: a board's owner adds a note, and
	// renames the board, which goes through the JetStream buckets, empty
	// at the start and filled from the backup.
	b.edit(boards[1], 200, 1, "on the restored node")
	req, _ := http.NewRequest(http.MethodPatch, b.base+"/v1/boards/"+boards[1].id, strings.NewReader(`{"name":"renamed"}`))
	req.Header.Set("Authorization", "Bearer "+boards[1].token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rename on the restored node: %d %s", resp.StatusCode, body)
	}
	if meta := b.get("/v1/boards/"+boards[1].id, boards[1].token); !bytes.Contains(meta, []byte(`"renamed"`)) {
		t.Errorf("after the rename: %s", meta)
	}
}

// withoutNow drops the "now" field (the node's clock at the answer, for
// the page's countdowns) from a board's settings, the one field that
// differs between two reads of the same board.
func withoutNow(t *testing.T, settings []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(settings, &m); err != nil {
		t.Fatalf("settings %s: %v", settings, err)
	}
	if _, ok := m["now"]; !ok {
		t.Fatalf("settings without now: %s", settings)
	}
	delete(m, "now")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
