package room_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// TestRouteAnswersForUnloadedBoards: a node whose room for the board is
// not loaded still answers another node's sync request (its changes reach
// the asker) and stores and confirms its replicate requests (the sender's
// ack comes), because its Manager routes them; keeps is asked first.
func TestRouteAnswersForUnloadedBoards(t *testing.T) {
	ctx := context.Background()
	hub := bus.NewHub()
	storeB := storage.NewMemory(storage.MemoryOptions{})
	// b holds a change a never saw.
	c := newAuthor(9).note(t, 1, "only on b")
	if err := storeB.AppendOps(ctx, board, []storage.Record{{Replica: 9, Start: c.Start, End: c.End(), Data: c.AppendBinary(nil)}}); err != nil {
		t.Fatal(err)
	}
	mb := newManager(t, room.Config{Node: "b", Store: storeB, Bus: hub.Node("b")})
	var asked atomic.Int32
	stop, err := mb.Route(func(_ context.Context, b storage.BoardID) bool {
		asked.Add(1)
		return b == board
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if mb.Rooms() != 0 {
		t.Fatal("b loaded the board before anyone asked")
	}

	ma := newManager(t, room.Config{Node: "a", Bus: hub.Node("a"), AckReplicas: 1, ReplicateTimeout: time.Minute})
	ra := open(t, ma) // asks the others for what it lacks
	deadline := time.Now().Add(10 * time.Second)
	for {
		var have uint64
		ra.Query(ctx, func(d *crdt.Doc) { have = d.VersionOf(9) })
		if have == c.End() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never got b's change: b did not answer its sync request")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if asked.Load() == 0 {
		t.Fatal("keeps was not asked")
	}

	// A client change on a is acked once b stored it.
	s := sessionOf(t, ra, "ana", 7)
	mine := newAuthor(7).note(t, 2, "from a")
	ack, e := submitOne(t, ra, s, 1, mine)
	if e != nil || ack.Applied != 1 {
		t.Fatalf("ack after replication: %+v %+v", ack, e)
	}
	found := false
	storeB.ScanReplica(ctx, board, 7, 1, func(rec storage.Record) error {
		found = true
		return nil
	})
	if !found {
		t.Fatal("acked, but b did not store the change")
	}
}
