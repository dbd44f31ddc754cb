package room_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// With a fan-out delay, changes accepted one after another reach the other
// sessions as one message, while their authors are acked at once.
func TestFanoutDelayGathersChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, room.Config{FanoutDelay: 50 * time.Millisecond})
		r := open(t, m)
		w := join(t, r, "w", 1, room.RoleEditor, 100)
		other := join(t, r, "o", 2, room.RoleEditor, 100)
		readUntil(t, w, protocol.TypeSynced)
		readUntil(t, other, protocol.TypeSynced)
		readUntil(t, w, protocol.TypePresence) // o joined
		a := newAuthor(1)
		a.ms = time.Now().UnixMilli() // the bubble's clock, which the room reads: no change from the future
		for i := 1; i <= 3; i++ {
			if err := r.Submit(context.Background(), w, uint64(i), []crdt.Change{a.note(t, i, "x")}); err != nil {
				t.Fatal(err)
			}
			expectAck(t, w, uint64(i)) // acks are not delayed
		}
		synctest.Wait()
		if n := other.Queued(); n != 0 {
			t.Fatalf("%d messages pushed before the delay ran out", n)
		}
		time.Sleep(50 * time.Millisecond) // fake time: lets the room's timer fire
		synctest.Wait()
		msg, _ := readUntil(t, other, "binary:0x2")
		if cs := opsOf(t, msg); len(cs) != 3 {
			t.Fatalf("one message with %d changes, want all 3", len(cs))
		}
	})
}
