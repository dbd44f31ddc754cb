package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestSlowReaderDroppedDirect is TestSlowReaderDropped with messages
// under the size the room writes straight to an idle socket (a board of
// two sessions: room.Config.DirectWrites): a client that stops reading
// fills its socket through the room's own non-blocking writes, one of
// them taken in part, then its queue, and is dropped like any slow
// reader, while the room goes on answering the writer.
func TestSlowReaderDroppedDirect(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.Limits.SendQueue = 4 })
	b := tn.createBoard(`{"name":"slow direct"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	w := rawJoin(t, u, 1, nil)
	slow := rawJoin(t, u, 2, nil) // reads nothing more until the end
	a := newAuthor(1)
	small := strings.Repeat("slow reader ", 1500) // 18 KB a note: written directly
	// 800 notes, 14 MB for the slow reader: more than loopback sockets
	// buffer.
	for i := 1; i <= 800; i++ {
		w.expectAck(w.send(a.note(t, elem(i), small)))
	}
	tn.state(b.Board.ID, b.Token)
	if got := metric(t, tn, "corkboard_slow_consumers_total"); got != "1" {
		t.Fatalf("slow consumers %s, want 1", got)
	}
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
