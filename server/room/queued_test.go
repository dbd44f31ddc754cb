package room_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// The inbox of a room that fell behind is bounded by the ops waiting in
// it, not only by its count of messages (256 frames of 131,072 ops each
// were some 6 GB decoded): past Config.MaxQueuedOps, Submit refuses a
// batch of more than 1,024 ops with ErrBusy; a small one still passes; a
// batch bigger than the bound passes when nothing else waits; what was
// taken is applied once the room goes on.
func TestSubmitBoundedByQueuedOps(t *testing.T) {
	gate := make(chan struct{}, 1)
	held, release := make(chan struct{}), make(chan struct{})
	cfg := room.Config{Store: pebbleStore(t), MaxQueuedOps: 2000, BeforeHandle: func(storage.BoardID) {
		select {
		case <-gate:
			close(held)
			<-release
		default:
		}
	}}
	m := newManager(t, cfg)
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // before the manager's: a failure leaves no room waiting
	r := open(t, m)
	s := join(t, r, "a", 1, room.RoleEditor, 1024)
	a := newAuthor(1)
	notes := func(from, n int) []crdt.Change { // a change of n creates: n ops
		return []crdt.Change{a.edit(t, func(tx *crdt.Tx) error {
			for i := from; i < from+n; i++ {
				if err := tx.Create(el(i), "note"); err != nil {
					return err
				}
			}
			return nil
		})}
	}
	ctx := context.Background()
	// The room takes this one and stops before handling it.
	gate <- struct{}{}
	if err := r.Submit(ctx, s, 1, notes(1, 1)); err != nil {
		t.Fatal(err)
	}
	<-held
	if err := r.Submit(ctx, s, 2, notes(10, 1500)); err != nil {
		t.Fatalf("1,500 ops waiting of 2,000: %v", err)
	}
	refused := notes(2000, 1500)
	if err := r.Submit(ctx, s, 3, refused); !errors.Is(err, room.ErrBusy) {
		t.Fatalf("3,000 ops waiting of 2,000: %v, want ErrBusy", err)
	}
	// A small batch passes all the same: others' bursts do not keep
	// someone's edits out.
	if err := r.Submit(ctx, s, 4, notes(5000, 600)); err != nil {
		t.Fatalf("a batch of 600 ops over the bound: %v", err)
	}
	let()
	for seq := uint64(1); seq <= 2; seq++ {
		if ack := expectAck(t, s, seq); ack.Applied != 1 {
			t.Fatalf("seq %d: %+v", seq, ack)
		}
	}
	// Resent later, as a client does with rate_limited, it is taken (its
	// counters come before seq 4's, which waited for them).
	if ack, e := submitOne(t, r, s, 3, refused[0]); e != nil || ack.Applied != 1 {
		t.Fatalf("resent: %+v %+v", ack, e)
	}
	// Alone, a batch over the bound passes.
	if ack, e := submitOne(t, r, s, 5, notes(10000, 2500)[0]); e != nil || ack.Applied != 1 {
		t.Fatalf("2,500 ops alone: %+v %+v", ack, e)
	}
}
