package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// casRecords is Records held in memory with the node's compare-and-set:
// Update writes only if nobody wrote the record since it read it (else it
// reads again), as the cluster metadata does. afterGet, if set, runs once
// right after a Get: a write by someone else between a pass's read and
// its own.
type casRecords struct {
	mu       sync.Mutex
	m        map[string][]byte
	afterGet func()
}

func (r *casRecords) Get(_ context.Context, ns string, key []byte, v any) error {
	r.mu.Lock()
	b, ok := r.m[ns+"/"+string(key)]
	after := r.afterGet
	r.afterGet = nil
	r.mu.Unlock()
	if !ok {
		return storage.ErrNotFound
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

func (r *casRecords) Put(_ context.Context, ns string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[ns+"/"+string(key)] = b
	return nil
}

func (r *casRecords) Update(_ context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	k := ns + "/" + string(key)
	for {
		r.mu.Lock()
		was, found := r.m[k]
		r.mu.Unlock()
		reflect.ValueOf(v).Elem().SetZero()
		if found {
			if err := json.Unmarshal(was, v); err != nil {
				return err
			}
		}
		if err := change(found); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		r.mu.Lock()
		now, still := r.m[k]
		if still == found && bytes.Equal(now, was) {
			r.m[k] = b
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
	}
}

func (r *casRecords) Stamp(old int64) int64 { return old + 1 }

// A pass that read a member's cursor must not put back an older one over
// what was written since: another node's pass that sent the day's digest
// meanwhile (a lease lost while this one ran, its room behind), or the
// member's new notification settings. The pass here decides to advance
// the cursor (a daily digest with nothing to tell); before, it wrote its
// cursor with a plain put, and the stored cursor lost the other pass's
// "sent" and version: the changes that digest told were told again.
func TestPassDoesNotPutBackAnOlderCursor(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{})
	rooms := room.NewManager(room.Config{Node: "n1", Store: st, Bus: bus.NewHub().Node("n1")})
	t.Cleanup(func() { rooms.Close("test") })
	id := storage.BoardID{0xb0, 1}
	rm, err := rooms.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC) // after the digest hour
	recs := &casRecords{m: map[string][]byte{}}
	nt := New(Config{Store: st, Rooms: rooms, Records: recs, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }, PublicURL: func() string { return "http://node.test" },
		MAC: func(string) string { return "mac" }})
	ch := account.Channel{Prefs: account.Prefs{Mode: account.NotifyDigest, DigestHour: 7}}
	key := account.CursorKey(id, "u1", ch.Name)
	read := account.Cursor{Board: id.String(), User: "u1", Version: crdt.VersionVector{}, Sent: 100, Day: "2026-12-04", Updated: 10}
	if err := recs.Put(ctx, account.NSCursor, key, &read); err != nil {
		t.Fatal(err)
	}
	other := account.Cursor{Board: id.String(), User: "u1", Version: crdt.VersionVector{7: 5}, Sent: now.UnixMilli() - 1000, Day: "2026-12-05", Updated: 11}
	recs.afterGet = func() {
		if err := recs.Put(ctx, account.NSCursor, key, &other); err != nil {
			t.Error(err)
		}
	}
	mb := &meta.Board{ID: id.String(), Name: "Retro"}
	if _, err := nt.notifyChannel(ctx, id, mb, rm, account.Member{User: "u1"}, account.User{ID: "u1", Name: "Una"}, ch, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	var got account.Cursor
	if err := recs.Get(ctx, account.NSCursor, key, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, other) {
		t.Fatalf("stored cursor %+v, want the one written meanwhile %+v", got, other)
	}

	// Without a write meanwhile, the pass advances it as before.
	if err := recs.Put(ctx, account.NSCursor, key, &read); err != nil {
		t.Fatal(err)
	}
	if _, err := nt.notifyChannel(ctx, id, mb, rm, account.Member{User: "u1"}, account.User{ID: "u1", Name: "Una"}, ch, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := recs.Get(ctx, account.NSCursor, key, &got); err != nil {
		t.Fatal(err)
	}
	if got.Day != "2026-12-05" || got.Updated != 11 || got.Sent != 100 {
		t.Fatalf("advanced cursor %+v: want today's day, updated 11, sent 100", got)
	}
}
