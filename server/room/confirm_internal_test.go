package room

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/storage"
)

// TestReplicateRequestNotDecodingIsNotConfirmed: a node confirms a
// replicate request only once it stored the changes; one whose batch does
// not decode gets no confirmation (the sender then answers "unavailable"
// rather than an ack for what no other node has).
func TestReplicateRequestNotDecodingIsNotConfirmed(t *testing.T) {
	ctx := context.Background()
	board := storage.BoardID{0x01, 15: 0x07}
	hub := bus.NewHub()
	m := NewManager(Config{Node: "b", Store: storage.NewMemory(storage.MemoryOptions{}), Bus: hub.Node("b")})
	defer m.Close("test over")
	r, err := m.Open(ctx, board)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := make(chan uint64, 4)
	cancel, err := hub.Node("a").Subscribe(board, func(msg bus.Message) {
		if msg.Kind != bus.KindReplicated {
			return
		}
		l, n := binary.Uvarint(msg.Data)
		id, _ := binary.Uvarint(msg.Data[n+int(l):])
		confirmed <- id
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	request := func(id uint64, batch []byte) {
		t.Helper()
		if err := r.replicateRequest(ctx, "a", append(binary.AppendUvarint(nil, id), batch...)); err != nil {
			t.Fatal(err)
		}
	}
	c := crdt.Change{Replica: 5, Start: 1, Time: crdt.MakeTimestamp(1_900_000_000_000, 0),
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: crdt.ElementID{15: 1}, Key: "note"}}}
	request(1, []byte{0x02, 0xff, 0xff}) // not a batch
	request(2, crdt.EncodeBatch([]crdt.Change{c}))
	// The room takes its inbox in order, and the hub delivers at once: the
	// first confirmation is the second request's.
	select {
	case id := <-confirmed:
		if id != 2 {
			t.Fatalf("confirmed request %d first, want 2 (1 did not decode)", id)
		}
	case <-time.After(10 * time.Second): // only turns a hang into a failure
		t.Fatal("no confirmation")
	}
}
