package room_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

var board = storage.BoardID{0x01, 0x90, 0xa4, 0xf2, 15: 0x42}

func el(i int) crdt.ElementID {
	var e crdt.ElementID
	e[0], e[14], e[15] = 0xee, byte(i>>8), byte(i)
	return e
}

// newManager returns a manager with the given config completed by a memory
// store and a bus of a fresh hub where unset. It is closed at the end.
func newManager(t testing.TB, cfg room.Config) *room.Manager {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "n1"
	}
	if cfg.Store == nil {
		cfg.Store = storage.NewMemory(storage.MemoryOptions{})
	}
	if cfg.Bus == nil {
		cfg.Bus = bus.NewHub().Node(cfg.Node)
	}
	m := room.NewManager(cfg)
	t.Cleanup(func() { m.Close("test over") })
	return m
}

func open(t testing.TB, m *room.Manager) *room.Room {
	t.Helper()
	r, err := m.Open(context.Background(), board)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// join adds a session to r and reads its catch-up up to "synced".
func join(t testing.TB, r *room.Room, id string, rep crdt.ReplicaID, role string, queue int) *room.Session {
	t.Helper()
	s := room.NewSession(id, rep, protocol.User{ID: "user-" + id, Name: id, Role: role}, protocol.FormatBinary, queue)
	if err := r.Join(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// next returns the session's next queued message. The bound only turns a
// hang into a failure; every message awaited is on its way.
func next(t testing.TB, s *room.Session) room.Outgoing {
	t.Helper()
	pendingMu.Lock()
	q := pending[s]
	pendingMu.Unlock()
	for len(q) == 0 {
		select {
		case <-s.Ready():
			q = s.Drain(q)
		case <-time.After(10 * time.Second):
			t.Fatalf("session %s: no message", s.ID)
			return room.Outgoing{}
		}
	}
	pendingMu.Lock()
	pending[s] = q[1:]
	pendingMu.Unlock()
	return q[0]
}

// pending holds messages drained from a session but not yet read by next.
var (
	pendingMu sync.Mutex
	pending   = map[*room.Session][]room.Outgoing{}
)

func frameType(m room.Outgoing) string {
	if m.Binary {
		return fmt.Sprintf("binary:%#x", m.Data[0])
	}
	var h struct{ Type string }
	json.Unmarshal(m.Data, &h)
	return h.Type
}

// readUntil reads s's messages until one of type typ, returning it and
// what came before.
func readUntil(t testing.TB, s *room.Session, typ string) (room.Outgoing, []room.Outgoing) {
	t.Helper()
	var before []room.Outgoing
	for {
		m := next(t, s)
		if frameType(m) == typ {
			return m, before
		}
		before = append(before, m)
	}
}

func expectAck(t testing.TB, s *room.Session, seq uint64) protocol.Ack {
	t.Helper()
	for {
		m := next(t, s)
		switch frameType(m) {
		case protocol.TypeAck:
			var a protocol.Ack
			json.Unmarshal(m.Data, &a)
			if a.Seq == seq {
				return a
			}
		case protocol.TypeError:
			t.Fatalf("session %s: batch %d refused: %s", s.ID, seq, m.Data)
		}
	}
}

// opsOf decodes a binary ops message.
func opsOf(t testing.TB, m room.Outgoing) []crdt.Change {
	t.Helper()
	cs, err := protocol.DecodeOpsOut(m.Data)
	if err != nil {
		t.Fatalf("ops message: %v", err)
	}
	return cs
}

// author makes changes of one replica on its own doc.
type author struct {
	d   *crdt.Doc
	rep crdt.ReplicaID
	ms  int64
}

func newAuthor(rep crdt.ReplicaID) *author {
	return &author{d: crdt.NewDoc(), rep: rep, ms: 1_700_000_000_000}
}

func (a *author) edit(t testing.TB, fn func(tx *crdt.Tx) error) crdt.Change {
	t.Helper()
	a.ms++
	tx := a.d.Begin(a.rep, a.ms)
	if err := fn(&tx); err != nil {
		t.Fatal(err)
	}
	c, ok := tx.Commit()
	if !ok {
		t.Fatal("empty change")
	}
	return c
}

func (a *author) note(t testing.TB, i int, text string) crdt.Change {
	return a.edit(t, func(tx *crdt.Tx) error {
		if err := tx.Create(el(i), "note"); err != nil {
			return err
		}
		if err := tx.Set(el(i), "x", crdt.Number(float64(i))); err != nil {
			return err
		}
		return tx.InsertText(el(i), "text", 0, text)
	})
}

func snapshotOf(t testing.TB, r *room.Room) []byte {
	t.Helper()
	var s []byte
	if err := r.Query(context.Background(), func(d *crdt.Doc) { s = d.Snapshot() }); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSlowConsumerIsKicked(t *testing.T) {
	var slow atomic.Int32
	m := newManager(t, room.Config{Hooks: room.Hooks{SlowConsumers: func() { slow.Add(1) }}})
	r := open(t, m)
	w := join(t, r, "writer", 1, room.RoleEditor, 64)
	readUntil(t, w, protocol.TypeSynced)
	fast := join(t, r, "fast", 2, room.RoleEditor, 64)
	readUntil(t, fast, protocol.TypeSynced)
	// The slow session's queue holds 3 messages; welcome and synced take
	// two, and nobody ever drains it.
	lazy := join(t, r, "lazy", 3, room.RoleEditor, 3)
	if n := lazy.Queued(); n != 2 {
		t.Fatalf("lazy session has %d queued messages after joining, want 2 (welcome, synced)", n)
	}
	readUntil(t, w, protocol.TypePresence) // lazy joined
	readUntil(t, fast, protocol.TypePresence)

	a := newAuthor(1)
	var fastOther []room.Outgoing // what the fast session got besides ops
	const batches = 6
	for i := range batches {
		c := a.note(t, i, fmt.Sprintf("note %d", i))
		if err := r.Submit(context.Background(), w, uint64(i+1), []crdt.Change{c}); err != nil {
			t.Fatal(err)
		}
		if ack := expectAck(t, w, uint64(i+1)); ack.Applied != 1 {
			t.Fatalf("ack %+v", ack)
		}
		// The fast session gets every batch, in order, slow session or not.
		got, skipped := readUntil(t, fast, "binary:0x2")
		fastOther = append(fastOther, skipped...)
		cs := opsOf(t, got)
		if len(cs) != 1 || cs[0].Start != c.Start || cs[0].Replica != c.Replica {
			t.Fatalf("fast session got %+v, want change %d@%v", cs, c.Start, c.Replica)
		}
	}
	// Wait until the room is done with the last batch (fan-out follows the ack).
	if err := r.Query(context.Background(), func(*crdt.Doc) {}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lazy.Kicked():
	default:
		t.Fatal("the slow session was not kicked")
	}
	if c := lazy.Closing(); c.Code != protocol.CloseResync {
		t.Fatalf("slow session closed with %d (%s), want %d", c.Code, c.Reason, protocol.CloseResync)
	}
	if n := slow.Load(); n != 1 {
		t.Fatalf("SlowConsumers hook called %d times, want 1", n)
	}
	// Its queue holds what fitted: welcome, synced, one ops message.
	if n := lazy.Queued(); n != 3 {
		t.Fatalf("slow session queue holds %d messages, want 3", n)
	}
	// The others were told it left.
	left := 0
	for _, m := range fastOther {
		var l protocol.Leave
		if frameType(m) == protocol.TypeLeave && json.Unmarshal(m.Data, &l) == nil && l.Session == lazy.ID {
			left++
		}
	}
	if left != 1 {
		t.Fatalf("fast session was told %d times that the slow one left, want once", left)
	}
	// The room goes on, and the dropped session gets nothing more.
	c := a.note(t, 100, "after")
	if err := r.Submit(context.Background(), w, 100, []crdt.Change{c}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, w, 100)
	readUntil(t, fast, "binary:0x2")
	if n := lazy.Queued(); n != 3 {
		t.Fatalf("dropped session's queue grew to %d", n)
	}
}

// countingBus counts what a node publishes, by kind.
type countingBus struct {
	bus.Bus
	mu sync.Mutex
	n  map[bus.Kind]int
}

func (c *countingBus) Publish(b [16]byte, k bus.Kind, data []byte) error {
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
	return c.Bus.Publish(b, k, data)
}

func (c *countingBus) count(k bus.Kind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func TestTwoNodesShareOps(t *testing.T) {
	hub := bus.NewHub()
	busA := &countingBus{Bus: hub.Node("a"), n: map[bus.Kind]int{}}
	busB := &countingBus{Bus: hub.Node("b"), n: map[bus.Kind]int{}}
	storeA, storeB := storage.NewMemory(storage.MemoryOptions{}), storage.NewMemory(storage.MemoryOptions{})
	ma := newManager(t, room.Config{Node: "a", Store: storeA, Bus: busA})
	mb := newManager(t, room.Config{Node: "b", Store: storeB, Bus: busB})
	ra, rb := open(t, ma), open(t, mb)
	sa := join(t, ra, "sa", 1, room.RoleEditor, 64)
	readUntil(t, sa, protocol.TypeSynced)
	sb := join(t, rb, "sb", 2, room.RoleEditor, 64)
	readUntil(t, sb, protocol.TypeSynced)
	// b's join was announced to a's session through the bus.
	pm, _ := readUntil(t, sa, protocol.TypePresence)
	var p protocol.Presence
	json.Unmarshal(pm.Data, &p)
	if p.Peer == nil || p.Peer.Session != "sb" {
		t.Fatalf("presence on a: %s", pm.Data)
	}

	authA, authB := newAuthor(1), newAuthor(2)
	ca := authA.note(t, 1, "from a")
	if err := ra.Submit(context.Background(), sa, 1, []crdt.Change{ca}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, sa, 1)
	got, _ := readUntil(t, sb, "binary:0x2")
	if cs := opsOf(t, got); len(cs) != 1 || cs[0].Replica != 1 {
		t.Fatalf("b's session got %+v", cs)
	}
	cb := authB.note(t, 2, "from b")
	if err := rb.Submit(context.Background(), sb, 1, []crdt.Change{cb}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, sb, 1)
	got, _ = readUntil(t, sa, "binary:0x2")
	if cs := opsOf(t, got); len(cs) != 1 || cs[0].Replica != 2 {
		t.Fatalf("a's session got %+v", cs)
	}
	// Both rooms are done with what they received.
	sna, snb := snapshotOf(t, ra), snapshotOf(t, rb)
	if !bytes.Equal(sna, snb) {
		t.Fatal("the two nodes' boards differ")
	}
	// Each node published its own client's change once and never
	// republished the other's; each presence once (its own join).
	for _, c := range []struct {
		name string
		b    *countingBus
	}{{"a", busA}, {"b", busB}} {
		if n := c.b.count(bus.KindOps); n != 1 {
			t.Errorf("node %s published ops %d times, want 1", c.name, n)
		}
		if n := c.b.count(bus.KindPresence); n != 1 {
			t.Errorf("node %s published presence %d times, want 1", c.name, n)
		}
	}
	// Each node stored both changes, each once.
	for name, st := range map[string]storage.Store{"a": storeA, "b": storeB} {
		var recs []storage.Record
		st.ScanOps(context.Background(), board, 1, func(r storage.Record) error { recs = append(recs, r); return nil })
		if len(recs) != 2 {
			t.Errorf("node %s stored %d records, want 2", name, len(recs))
		}
	}
	// A change echoed back (as a republish would do) is a duplicate: the
	// log does not grow.
	busB.Publish(board, bus.KindOps, crdt.EncodeBatch([]crdt.Change{ca}))
	snapshotOf(t, ra)
	var n int
	storeA.ScanOps(context.Background(), board, 1, func(storage.Record) error { n++; return nil })
	if n != 2 {
		t.Fatalf("an echoed change was stored again: %d records", n)
	}
}

func TestIdleRoomUnloadsAndReloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rooms atomic.Int32
		store := &spyStore{Store: storage.NewMemory(storage.MemoryOptions{})}
		m := newManager(t, room.Config{Store: store, IdleTimeout: time.Minute,
			Hooks: room.Hooks{Rooms: func(d int) { rooms.Add(int32(d)) }}})
		r := open(t, m)
		s := join(t, r, "s", 1, room.RoleEditor, 64)
		readUntil(t, s, protocol.TypeSynced)
		a := newAuthor(1)
		a.ms = time.Now().UnixMilli() // the bubble's clock, which the room reads: no change from the future
		for i := range 3 {
			if err := r.Submit(context.Background(), s, uint64(i+1), []crdt.Change{a.note(t, i, "idle")}); err != nil {
				t.Fatal(err)
			}
			expectAck(t, s, uint64(i+1))
		}
		before := snapshotOf(t, r)
		r.Leave(s)
		// Just short of the timeout the room is still there.
		time.Sleep(time.Minute - time.Second)
		synctest.Wait()
		if n := m.Rooms(); n != 1 {
			t.Fatalf("%d rooms loaded before the idle timeout, want 1", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := m.Rooms(); n != 0 {
			t.Fatalf("%d rooms loaded after the idle timeout, want 0", n)
		}
		if n := rooms.Load(); n != 0 {
			t.Fatalf("Rooms hook balance %d, want 0", n)
		}
		if err := r.Query(context.Background(), func(*crdt.Doc) {}); !errors.Is(err, room.ErrClosed) {
			t.Fatalf("query of an unloaded room: %v, want ErrClosed", err)
		}
		// It wrote a final snapshot covering the whole log...
		seq, _, err := store.LatestSnapshot(context.Background(), board)
		if err != nil || seq != 3 {
			t.Fatalf("latest snapshot at %d (%v), want 3", seq, err)
		}
		// ... so reloading replays nothing and gives the same board.
		r2 := open(t, m)
		if r2 == r {
			t.Fatal("the unloaded room was handed out again")
		}
		if got := snapshotOf(t, r2); !bytes.Equal(got, before) {
			t.Fatal("reloaded board differs")
		}
		if from := store.lastScanFrom(); from != 4 {
			t.Fatalf("reload scanned the log from %d, want 4 (after the snapshot)", from)
		}
		// A room with a session does not unload.
		s2 := join(t, r2, "s2", 2, room.RoleEditor, 64)
		readUntil(t, s2, protocol.TypeSynced)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := m.Rooms(); n != 1 {
			t.Fatalf("a room with a session unloaded (%d rooms)", n)
		}
	})
}

// spyStore records where ScanOps starts.
type spyStore struct {
	storage.Store
	mu   sync.Mutex
	from []uint64
}

func (s *spyStore) ScanOps(ctx context.Context, b storage.BoardID, from uint64, fn func(storage.Record) error) error {
	s.mu.Lock()
	s.from = append(s.from, from)
	s.mu.Unlock()
	return s.Store.ScanOps(ctx, b, from, fn)
}

func (s *spyStore) lastScanFrom() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.from) == 0 {
		return 0
	}
	return s.from[len(s.from)-1]
}

func TestSnapshotEveryAndReload(t *testing.T) {
	store := &spyStore{Store: storage.NewMemory(storage.MemoryOptions{})}
	m := newManager(t, room.Config{Store: store, SnapshotEvery: 5})
	r := open(t, m)
	s := join(t, r, "s", 1, room.RoleEditor, 256)
	readUntil(t, s, protocol.TypeSynced)
	a := newAuthor(1)
	var cs []crdt.Change
	for i := range 12 {
		if i%3 == 0 {
			cs = append(cs, a.note(t, i, fmt.Sprintf("n%d", i)))
			continue
		}
		cs = append(cs, a.edit(t, func(tx *crdt.Tx) error {
			return tx.InsertText(el(i/3*3), "text", 0, fmt.Sprintf("%d.", i))
		}))
	}
	// Submit 5 before 4: 5 is held until 4 arrives, and the snapshot at
	// seq 5 is taken while it is held.
	order := []int{0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11}
	for k, i := range order {
		if err := r.Submit(context.Background(), s, uint64(k+1), cs[i:i+1]); err != nil {
			t.Fatal(err)
		}
		ack := expectAck(t, s, uint64(k+1))
		if want := 1; i == 5 && ack.Held != want || i != 5 && ack.Applied != want {
			t.Fatalf("change %d: ack %+v", i, ack)
		}
	}
	seq, _, err := store.LatestSnapshot(context.Background(), board)
	if err != nil || seq != 10 {
		t.Fatalf("latest snapshot at %d (%v), want 10", seq, err)
	}
	want := snapshotOf(t, r)
	if !bytes.Equal(want, a.d.Snapshot()) {
		t.Fatal("room's board differs from the author's")
	}
	// Another manager on the same store loads snapshot 10 plus the tail.
	m2 := newManager(t, room.Config{Node: "n2", Store: store, SnapshotEvery: 5})
	r2 := open(t, m2)
	if from := store.lastScanFrom(); from != 11 {
		t.Fatalf("reload scanned from %d, want 11", from)
	}
	if got := snapshotOf(t, r2); !bytes.Equal(got, want) {
		t.Fatal("snapshot + tail differs from the live board")
	}
	// So does the whole log replayed from scratch.
	d := crdt.NewDoc()
	store.Store.ScanOps(context.Background(), board, 1, func(rec storage.Record) error {
		c, err := crdt.DecodeChange(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		d.Apply(c)
		return nil
	})
	if !bytes.Equal(d.Snapshot(), want) {
		t.Fatal("full log replay differs from the live board")
	}
}

// A change held for a missing dependency when the room unloads is still
// given to a client that joins after the reload, so that client converges
// when the dependency arrives.
func TestHeldChangeSurvivesReloadForCatchup(t *testing.T) {
	store := storage.NewMemory(storage.MemoryOptions{})
	a := newAuthor(1)
	c1 := a.note(t, 1, "hello")
	c2 := a.edit(t, func(tx *crdt.Tx) error { return tx.InsertText(el(1), "text", 5, " world") })

	m := newManager(t, room.Config{Store: store, SnapshotEvery: 1})
	r := open(t, m)
	s := join(t, r, "s", 1, room.RoleEditor, 64)
	readUntil(t, s, protocol.TypeSynced)
	if err := r.Submit(context.Background(), s, 1, []crdt.Change{c2}); err != nil {
		t.Fatal(err)
	}
	if ack := expectAck(t, s, 1); ack.Held != 1 {
		t.Fatalf("ack %+v, want the change held", ack)
	}
	m.Close("restart")

	// The node comes back: the held change is in the snapshot.
	m2 := newManager(t, room.Config{Store: store, SnapshotEvery: 1})
	r2 := open(t, m2)
	viewer := join(t, r2, "v", 2, room.RoleViewer, 64)
	_, before := readUntil(t, viewer, protocol.TypeSynced)
	d := crdt.NewDoc()
	for _, mm := range before {
		if frameType(mm) == "binary:0x2" {
			for _, c := range opsOf(t, mm) {
				d.Apply(c)
			}
		}
		if frameType(mm) == "binary:0x3" {
			var err error
			if d, err = crdt.LoadSnapshot(mm.Data[1:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Now the dependency arrives.
	s2 := join(t, r2, "s2", 1, room.RoleEditor, 64)
	readUntil(t, s2, protocol.TypeSynced)
	if err := r2.Submit(context.Background(), s2, 2, []crdt.Change{c1}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, s2, 2)
	got, _ := readUntil(t, viewer, "binary:0x2")
	for _, c := range opsOf(t, got) {
		d.Apply(c)
	}
	if txt := d.Text(el(1), "text"); txt != "hello world" {
		t.Fatalf("late joiner sees %q, want %q", txt, "hello world")
	}
	if !bytes.Equal(d.Snapshot(), snapshotOf(t, r2)) {
		t.Fatal("late joiner diverged from the node")
	}
}
