package room_test

import (
	"context"
	"encoding/json"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// clockRoom is a room whose node clock the test moves.
type clockRoom struct {
	t     *testing.T
	now   atomic.Int64 // unix ms
	st    storage.Store
	r     *room.Room
	owner *room.Session
}

func newClockRoom(t *testing.T, st storage.Store) *clockRoom {
	e := &clockRoom{t: t, st: st}
	e.now.Store(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC).UnixMilli())
	m := newManager(t, room.Config{Store: st, Now: func() time.Time { return time.UnixMilli(e.now.Load()) }})
	e.r = open(t, m)
	e.owner = e.session("owner", 0x01, room.RoleOwner)
	return e
}

func (e *clockRoom) session(user string, rep crdt.ReplicaID, role string) *room.Session {
	s := room.NewSession(user, rep, protocol.User{ID: user, Name: user, Role: role}, protocol.FormatBinary, 1024)
	if err := e.r.Join(context.Background(), s, nil); err != nil {
		e.t.Fatal(err)
	}
	readUntil(e.t, s, protocol.TypeSynced)
	return s
}

// copyOf is a client's copy of the board: the room's state, loaded from
// a snapshot as a client loads it.
func (e *clockRoom) copyOf() *crdt.Doc {
	var snap []byte
	e.r.Query(context.Background(), func(d *crdt.Doc) { snap = d.SnapshotRaw() })
	d, err := crdt.LoadSnapshot(snap)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *clockRoom) deleted(el crdt.ElementID) (del bool) {
	e.r.Query(context.Background(), func(d *crdt.Doc) { del = d.IsDeleted(el) })
	return del
}

// TestClockAheadRefused: a change stamped far ahead of the node's clock —
// here 2^64 − 2, an editor's delete and a commenter's comment — is refused
// with clock_ahead and not stored. Taken, it ran every replica's clock to
// the end of its range: the owner's restore of the element could never
// win, and every client's first edit after loading the board was refused
// as malformed. A change within MaxClockAhead is taken, and one refused
// for being ahead is taken when sent again once the node's clock is there.
func TestClockAheadRefused(t *testing.T) {
	e := newClockRoom(t, storage.NewMemory(storage.MemoryOptions{}))
	ed := e.session("ed", 0xe1, room.RoleEditor)
	cm := e.session("cm", 0xc1, room.RoleCommenter)
	now := func() crdt.Timestamp { return crdt.MakeTimestamp(uint64(e.now.Load()), 0) }
	note := el(1)
	if _, er := submitOne(t, e.r, e.owner, 1, crdt.Change{Replica: 0x01, Start: 1, Time: now(),
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: note, Key: "note"}}}); er != nil {
		t.Fatal(er.Message)
	}
	stored := lastSeqOf(t, e.st)
	forged := crdt.Timestamp(math.MaxUint64 - 1)
	refused := func(s *room.Session, seq uint64, c crdt.Change, what string) {
		t.Helper()
		ack, er := submitOne(t, e.r, s, seq, c)
		if er == nil || er.Code != protocol.CodeClockAhead {
			t.Fatalf("%s: ack %+v, error %+v; want clock_ahead", what, ack, er)
		}
		if got := lastSeqOf(t, e.st); got != stored {
			t.Fatalf("%s: stored (log at %d, was %d)", what, got, stored)
		}
	}
	refused(ed, 1, crdt.Change{Replica: 0xe1, Start: 1, Time: forged,
		Ops: []crdt.Op{{Type: crdt.OpDelete, Element: note, Deleted: true}}}, "an editor's delete at 2^64 − 2")
	refused(cm, 1, crdt.Change{Replica: 0xc1, Start: 1, Time: forged,
		Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(2), Key: "comment"}}}, "a commenter's comment at 2^64 − 2")
	if e.deleted(note) {
		t.Fatal("the refused delete applied")
	}

	// Ten minutes ahead: refused; four minutes ahead: taken.
	late := crdt.Change{Replica: 0xe1, Start: 1, Time: now() + crdt.MakeTimestamp(uint64(10*time.Minute/time.Millisecond), 0),
		Ops: []crdt.Op{{Type: crdt.OpSet, Element: note, Key: "x", Value: crdt.Number(1)}}}
	refused(ed, 2, late, "ten minutes ahead")
	if _, er := submitOne(t, e.r, e.owner, 2, crdt.Change{Replica: 0x01, Start: 2, Time: now() + crdt.MakeTimestamp(uint64(4*time.Minute/time.Millisecond), 0),
		Ops: []crdt.Op{{Type: crdt.OpSet, Element: note, Key: "y", Value: crdt.Number(1)}}}); er != nil {
		t.Fatalf("four minutes ahead: %s", er.Message)
	}
	// Six minutes later the refused change is within reach: the client
	// kept it and sends it again.
	e.now.Add((6 * time.Minute).Milliseconds())
	if ack, er := submitOne(t, e.r, ed, 3, late); er != nil || ack.Applied != 1 {
		t.Fatalf("the refused change sent again: ack %+v, error %+v", ack, er)
	}

	// The owner's client deletes and restores the note, twice, from a copy
	// loaded from the board: every change is taken and the last one wins.
	d := e.copyOf()
	for i, del := range []bool{true, false, true, false} {
		tx := d.Begin(0x01, e.now.Load())
		op := tx.Restore
		if del {
			op = tx.Delete
		}
		if err := op(note); err != nil {
			t.Fatal(err)
		}
		c, _ := tx.Commit()
		if _, er := submitOne(t, e.r, e.owner, uint64(3+i), c); er != nil {
			t.Fatalf("owner's change %d (time %d): %s", i, c.Time, er.Message)
		}
		if e.deleted(note) != del {
			t.Fatalf("owner's change %d: deleted = %v, want %v", i, !del, del)
		}
	}
}

// TestClockAheadStoredBoard: boards stored before the node checked times
// may hold a forged one. A time past crdt.MaxTime (2^64 − 2) is not
// adopted: clients keep editing, every change taken (only the register
// the forged op wrote stays as it wrote it). A time far ahead but not past
// MaxTime was adopted by every copy: clients' changes start right after
// the board's clock, and are taken though they are ahead of the node's.
func TestClockAheadStoredBoard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forged crdt.Timestamp
	}{
		{"past MaxTime", math.MaxUint64 - 1},
		{"the year 2100", crdt.MakeTimestamp(uint64(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMemory(storage.MemoryOptions{})
			note, other := el(1), el(2)
			t0 := crdt.MakeTimestamp(uint64(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli()), 0)
			var recs []storage.Record
			for _, c := range []crdt.Change{
				{Replica: 0x01, Start: 1, Time: t0, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: note, Key: "note"}, {Type: crdt.OpCreate, Element: other, Key: "note"}}},
				{Replica: 0xe1, Start: 1, Time: tc.forged, Ops: []crdt.Op{{Type: crdt.OpDelete, Element: note, Deleted: true}}},
			} {
				recs = append(recs, storage.Record{Replica: uint64(c.Replica), Start: c.Start, End: c.End(), Accepted: 1, Data: c.AppendBinary(nil)})
			}
			if err := st.AppendOps(context.Background(), board, recs); err != nil {
				t.Fatal(err)
			}
			e := newClockRoom(t, st)
			d := e.copyOf()
			for i := range 3 {
				tx := d.Begin(0x01, e.now.Load())
				if err := tx.Set(other, "x", crdt.Number(float64(i))); err != nil {
					t.Fatal(err)
				}
				c, _ := tx.Commit()
				if ack, er := submitOne(t, e.r, e.owner, uint64(1+i), c); er != nil || ack.Applied != 1 {
					t.Fatalf("edit %d (time %d): ack %+v, error %+v", i, c.Time, ack, er)
				}
			}
			var x float64
			e.r.Query(context.Background(), func(d *crdt.Doc) {
				v, _ := d.Get(other, "x")
				x = v.AsNumber()
			})
			if x != 2 {
				t.Fatalf("x = %v, want the last edit's 2", x)
			}
			// The welcome tells clients the node's clock.
			s := room.NewSession("w", 0x77, protocol.User{ID: "w", Name: "w", Role: room.RoleViewer}, protocol.FormatBinary, 64)
			if err := e.r.Join(context.Background(), s, nil); err != nil {
				t.Fatal(err)
			}
			m, _ := readUntil(t, s, protocol.TypeWelcome)
			var w protocol.Welcome
			if err := json.Unmarshal(m.Data, &w); err != nil || w.Now != e.now.Load() {
				t.Fatalf("welcome now %d (%v), want %d", w.Now, err, e.now.Load())
			}
		})
	}
}
