package room_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// TestPresenceBudgetPerBoard: 60 sessions send 2,046 bytes of presence
// every 50 ms (fake time) while one person moves a cursor; a peer that
// takes what is queued for it once a second, with 1 MiB of queue, gets at
// most the board's presence budget a second (256 KiB, after a first
// second's burst), is never closed as a slow reader, and still gets most
// of the cursor's updates. Then a few dozen people with cursors of 100
// bytes get every update through, as without a budget.
func TestPresenceBudgetPerBoard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 256 << 10
		m := newManager(t, room.Config{})
		r := open(t, m)
		ctx := context.Background()
		peer := room.NewSession("peer", 1, protocol.User{ID: "u-peer", Role: room.RoleViewer}, protocol.FormatBinary, 1<<20)
		peer.SetQueueBytes(1 << 20)
		if err := r.Join(ctx, peer, nil); err != nil {
			t.Fatal(err)
		}
		readUntil(t, peer, protocol.TypeSynced)
		joinAll := func(prefix string, n int) []*room.Session {
			var out []*room.Session
			for i := range n {
				s := room.NewSession(fmt.Sprintf("%s%02d", prefix, i), crdt.ReplicaID(100+i), protocol.User{ID: "guest-" + prefix, Role: room.RoleViewer}, protocol.FormatBinary, 1<<20)
				if err := r.Join(ctx, s, nil); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
			return out
		}
		// count drains the peer's queue: bytes of presence frames with
		// data, and updates per sender.
		count := func() (int, map[string]int) {
			synctest.Wait()
			bytes, per := 0, map[string]int{}
			for _, msg := range peer.Drain(nil) {
				var p protocol.Presence
				if msg.Binary || json.Unmarshal(msg.Data, &p) != nil || p.Type != protocol.TypePresence || p.Peer == nil || p.Peer.Data == nil {
					continue
				}
				bytes += len(msg.Data)
				per[p.Peer.Session]++
			}
			return bytes, per
		}
		send := func(ss []*room.Session, data []byte) {
			for _, s := range ss {
				if err := r.Presence(ctx, s, data); err != nil {
					t.Fatal(err)
				}
			}
		}

		flood := joinAll("f", 60)
		cursor := joinAll("c", 1)
		count()
		big := json.RawMessage(`"` + strings.Repeat("x", 2044) + `"`)
		small := json.RawMessage(`{"c":{"x":130,"y":95}}`)
		const seconds = 5
		cursorGot := 0
		for sec := range seconds {
			for range 20 {
				send(flood, big)
				send(cursor, small)
				time.Sleep(50 * time.Millisecond)
			}
			bytes, per := count()
			limit := budget + 4<<10 // (and a frame's worth at the edges)
			if sec == 0 {
				limit += budget // the burst
			}
			if bytes > limit {
				t.Fatalf("second %d: the peer got %d bytes of presence; want at most %d", sec, bytes, limit)
			}
			cursorGot += per["c00"]
		}
		if c := peer.Closing(); c.Code != 0 {
			t.Fatalf("the peer was closed: %+v", c)
		}
		if cursorGot < 10*seconds {
			t.Fatalf("the cursor got %d of its %d updates through; want at least %d", cursorGot, 20*seconds, 10*seconds)
		}
		for _, s := range append(flood, cursor...) {
			r.Leave(s)
		}

		// Normal use: 36 cursors of 100 bytes, 20 times a second.
		time.Sleep(2 * time.Second) // (fake time: the budget refills)
		count()
		people := joinAll("p", 36)
		count()
		data := json.RawMessage(`{"c":{"x":1234.5,"y":678.25},"v":{"x":-1200,"y":-800,"z":1.25,"w":1440,"h":900},"sel":["a"]}`)
		if len(data) < 90 || len(data) > 110 {
			t.Fatalf("cursor data of %d bytes", len(data))
		}
		sent := 0
		for range 40 {
			send(people, data)
			sent += len(people)
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
		_, per := count()
		got := 0
		for _, n := range per {
			got += n
		}
		if got != sent {
			t.Fatalf("normal presence: %d of %d updates broadcast", got, sent)
		}
	})
}
