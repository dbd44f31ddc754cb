package node_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// metric returns the value of a series from /metrics: a name, with its
// labels if it has any (`corkboard_outbox_pending{kind="mail"}`).
func metric(t *testing.T, tn *testNode, name string) string {
	t.Helper()
	code, body := tn.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no metric %s", name)
	}
	return string(m[1])
}

// A client that stops reading fills its socket, then its queue: the node
// drops it ("resync"), aborting the write it is stuck in, and closes its
// connection, while the writer goes on. (The node's writer for it runs only
// while something is queued: this is the path where it is stuck.)
func TestSlowReaderDropped(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.Limits.SendQueue = 4 })
	b := tn.createBoard(`{"name":"slow"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	w := rawJoin(t, u, 1, nil)
	slow := rawJoin(t, u, 2, nil) // reads nothing more until the end
	a := newAuthor(1)
	big := strings.Repeat("slow reader ", 3000) // 36 KB a note
	// 400 notes, 14 MB for the slow reader: more than loopback sockets
	// buffer, so its writer blocks and its queue fills.
	for i := 1; i <= 400; i++ {
		w.expectAck(w.send(a.note(t, elem(i), big)))
	}
	// The room has fanned out every change once it answers a read.
	tn.state(b.Board.ID, b.Token)
	if got := metric(t, tn, "corkboard_slow_consumers_total"); got != "1" {
		t.Fatalf("slow consumers %s, want 1", got)
	}
	// The slow client finds its connection closed after what was sent
	// before the drop: a resync close, or the connection cut mid-write.
	var err error
	for err == nil {
		_, _, err = slow.read()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the slow client's connection stayed open")
	}
	if code := websocket.CloseStatus(err); code != -1 && protocol.CloseCode(code) != protocol.CloseResync {
		t.Fatalf("slow client: connection ended with %v", err)
	}
	w.ping()
}

// A client that reads nothing while its board is quiet never fills its
// queue, so the queue's limit never drops it; it held what was queued for
// it (up to a 16 MiB catch-up) and its socket's buffers for as long as it
// stayed. The node drops a connection that takes nothing for
// Limits.WriteStall while something waits for it.
func TestStalledReaderDropped(t *testing.T) {
	tn := startNode(t, func(c *node.Config) {
		c.Limits.SendQueue = 1 << 20 // the queue's limit out of the way
		c.Limits.WriteStall = 200 * time.Millisecond
	})
	b := tn.createBoard(`{"name":"stalled"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	w := rawJoin(t, u, 1, nil)
	slow := rawJoin(t, u, 2, nil) // reads nothing until it is dropped
	a := newAuthor(1)
	big := strings.Repeat("stalled reader ", 2400) // 36 KB a note
	// 400 notes, 14 MB for the slow reader: more than loopback sockets
	// buffer, so a write to it waits.
	for i := 1; i <= 400; i++ {
		w.expectAck(w.send(a.note(t, elem(i), big)))
	}
	poll(t, "the stalled connection dropped", func() bool {
		return metric(t, tn, "corkboard_stalled_connections_total") == "1"
	})
	var err error
	for err == nil {
		_, _, err = slow.read()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the stalled client's connection stayed open")
	}
	if got := metric(t, tn, "corkboard_slow_consumers_total"); got != "0" {
		t.Fatalf("slow consumers %s: the queue's limit dropped it, not the stall", got)
	}
	// The writer, which reads, is still served.
	w.ping()
}

// A stalled reader kicked first for something else (a message over the
// size limit: close 1009, which does not abort a stuck write) is still let
// go when the stall watch fires: its connection closed, its slot and queue
// released.
func TestStalledReaderKickedBeforeDropped(t *testing.T) {
	tn := startNode(t, func(c *node.Config) {
		c.Limits.SendQueue = 1 << 20
		c.Limits.WriteStall = 8 * time.Second // well after the kick below
		c.Limits.MaxMessage = 64 << 10
	})
	b := tn.createBoard(`{"name":"stalled, kicked"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	w := rawJoin(t, u, 1, nil)
	slow := rawJoin(t, u, 2, nil) // reads nothing
	a := newAuthor(1)
	big := strings.Repeat("stalled reader ", 2400)
	for i := 1; i <= 400; i++ {
		w.expectAck(w.send(a.note(t, elem(i), big)))
	}
	slow.write(websocket.MessageBinary, make([]byte, 128<<10)) // over MaxMessage: kicked with 1009
	poll(t, "the stalled connection let go", func() bool {
		return metric(t, tn, "corkboard_connections") == "1"
	})
	if got := metric(t, tn, "corkboard_stalled_connections_total"); got != "1" {
		t.Fatalf("stalled %s, want 1", got)
	}
	w.ping()
}
