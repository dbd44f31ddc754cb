package api

import (
	"context"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// A member's notification cursor started again (new settings) must move
// its Updated past the cursor it replaces: a notifier pass that read the
// old one moves it by compare-and-set on Updated and Sent (notify's
// moveCursor), and would put the old cursor's successor over the restart
// if Updated came back to the same value. Before, the restart wrote the
// node's clock, which a cursor stamped by a node whose clock ran ahead
// (or one stamped in the same millisecond, its Sent still 0) did not
// pass.
func TestRestartedCursorMovesPastTheOld(t *testing.T) {
	ctx := context.Background()
	rooms := room.NewManager(room.Config{Node: "n1", Store: storage.NewMemory(storage.MemoryOptions{}), Bus: bus.NewHub().Node("n1")})
	t.Cleanup(func() { rooms.Close("test") })
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	recs := newMemRecords()
	srv := New(Config{Records: recs, Rooms: rooms, Now: func() time.Time { return now }})
	id := storage.BoardID{0xc0, 1}
	prefs := account.Prefs{Mode: account.NotifyDigest, DigestHour: 7}
	key := account.CursorKey(id, "u1", "")
	for _, old := range []int64{now.UnixMilli(), now.UnixMilli() + 5000} {
		stamped := account.Cursor{Board: id.String(), User: "u1", Day: "2026-12-04", Updated: old}
		if err := recs.Put(ctx, account.NSCursor, key, &stamped); err != nil {
			t.Fatal(err)
		}
		if err := srv.startCursor(ctx, id, "u1", time.UTC, prefs); err != nil {
			t.Fatal(err)
		}
		var got account.Cursor
		if err := recs.Get(ctx, account.NSCursor, key, &got); err != nil {
			t.Fatal(err)
		}
		if got.Updated <= old || got.Day != "2026-12-05" {
			t.Fatalf("restarted over a cursor updated at %d: %+v; want a later Updated and today's day", old, got)
		}
	}
	// A cursor that did not exist starts at the node's clock.
	if err := recs.Delete(ctx, account.NSCursor, key); err != nil {
		t.Fatal(err)
	}
	if err := srv.startCursor(ctx, id, "u1", time.UTC, prefs); err != nil {
		t.Fatal(err)
	}
	var got account.Cursor
	if err := recs.Get(ctx, account.NSCursor, key, &got); err != nil || got.Updated != now.UnixMilli() {
		t.Fatalf("new cursor %+v (%v): want Updated %d", got, err, now.UnixMilli())
	}
}
