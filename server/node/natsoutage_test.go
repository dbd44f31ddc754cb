package node_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
)

// startNATS runs the real nats-server (built from its Go module) on a
// loopback port and returns once it accepts connections.
// JetStream (the nodes' metadata buckets) keeps its store in jsDir, so a
// restarted server has it again.
func startNATS(t *testing.T, bin string, port int, jsDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", jsDir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	poll(t, "nats-server to accept connections", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd
}

// Two node processes on an external NATS server: NATS goes down while
// people keep editing on both nodes, comes back, and the nodes catch up
// with each other (on reconnect), with nothing lost and nothing doubled.
func TestNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nats-server and two node processes")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	natsBin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.Command(goBin, "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("building nats-server: %v\n%s", err, out)
	}
	bin := buildCorkboard(t)
	port := freePorts(t, 1)[0]
	jsDir := t.TempDir()
	nats := startNATS(t, natsBin, port, jsDir)
	secret := hex.EncodeToString(bytes.Repeat([]byte{0x6e}, 32))
	var procs []*proc
	for i := 0; i < 2; i++ {
		procs = append(procs, startCorkboard(t, bin, t.TempDir(), "--node-id", fmt.Sprintf("n%d", i), "--secret", secret,
			"--nats-url", fmt.Sprintf("nats://127.0.0.1:%d", port)))
	}
	board := procs[0].node(t).createBoard(`{"name":"outage"}`)
	id, tok := board.Board.ID, board.Token
	poll(t, "node 1 to learn the board", func() bool {
		code, _, _ := httpGet(procs[1].base + "/v1/boards/" + id + "?token=" + tok)
		return code == 200
	})
	ctx := ctx10(t)
	clients := []*client.Client{dial(t, procs[0].node(t).wsURL(id, tok), 1), dial(t, procs[1].node(t).wsURL(id, tok), 2)}
	note := func(c *client.Client, i int) uint64 {
		seq, err := c.Edit(ctx, 0, func(tx *crdt.Tx) error {
			if err := tx.Create(elem(i), "note"); err != nil {
				return err
			}
			return tx.InsertText(elem(i), "text", 0, fmt.Sprint(i))
		})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	waitNotes := func(n int) {
		t.Helper()
		for _, c := range clients {
			if err := c.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Len() == n }); err != nil {
				t.Fatalf("waiting for %d notes: %v", n, err)
			}
		}
	}
	// Each client edits once first: its replica id is then claimed in the
	// metadata bucket. A replica id is granted once for the whole
	// cluster, which takes JetStream: during the outage a new one cannot
	// be claimed (docs/CLUSTER.md), while claimed ones keep editing.
	note(clients[0], 0)
	note(clients[1], 100)
	waitNotes(2)
	// NATS goes away; both sides keep editing (acks are local).
	nats.Process.Kill()
	nats.Wait()
	var s0, s1 uint64
	for i := 1; i <= 10; i++ {
		s0, s1 = note(clients[0], i), note(clients[1], 100+i)
	}
	if clients[0].WaitAck(ctx, s0) != nil || clients[1].WaitAck(ctx, s1) != nil {
		t.Fatal("edits during the outage were not acked")
	}
	// NATS comes back on the same port; the nodes reconnect and catch up.
	startNATS(t, natsBin, port, jsDir)
	waitNotes(22)
	if !bytes.Equal(snapshotOf(clients[0]), snapshotOf(clients[1])) {
		t.Fatal("clients diverged after the outage")
	}
	for _, p := range procs {
		// A node answers 503 until its metadata watches, started again
		// as NATS came back, have caught up (meta.Store.Rewatch).
		poll(t, "the node to be fresh again", func() bool {
			code, _, _ := httpGet(p.base + "/v1/boards/" + id + "?token=" + tok)
			return code == 200
		})
		_, ops := p.node(t).ops(id, tok)
		if len(ops) != 22 {
			t.Fatalf("a node stores %d changes, want 22 (none lost, none doubled)", len(ops))
		}
	}
}
