package room_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// lateDelete is a change of rep that inserts a character after the
// owner's next op (1@owner after counter at) and deletes el: held until
// the owner's next change, whatever it is (the insert is then skipped, as
// its origin is no character of that text, and the delete applies).
func lateDelete(rep crdt.ReplicaID, owner crdt.ReplicaID, at uint64, e crdt.ElementID, ts crdt.Timestamp) crdt.Change {
	return crdt.Change{Replica: rep, Start: 1, Time: ts, Ops: []crdt.Op{
		{Type: crdt.OpInsertText, Element: e, Key: "text", Text: "x", Left: crdt.OpID{Replica: owner, Counter: at + 1}},
		{Type: crdt.OpDelete, Element: e, Deleted: true},
	}}
}

// refusedCounter counts the HeldRefused hook's changes; the room calls it
// before it answers the change that released them.
func refusedCounter(cfg *room.Config) func() int {
	ch := make(chan int, 64)
	cfg.Hooks.HeldRefused = func(n int) { ch <- n }
	return func() int {
		n := 0
		for {
			select {
			case k := <-ch:
				n += k
			default:
				return n
			}
		}
	}
}

// kickedSoon waits for s to be closed; the bound only turns a hang into a
// failure.
func kickedSoon(t *testing.T, s *room.Session) {
	t.Helper()
	select {
	case <-s.Kicked():
	case <-time.After(10 * time.Second):
		t.Fatalf("session %s was not closed", s.ID)
	}
}

// closedWith waits for s to be closed and returns the error frame it was
// sent last.
func closedWith(t *testing.T, s *room.Session) (protocol.CloseCode, protocol.Error) {
	t.Helper()
	kickedSoon(t, s)
	var last protocol.Error
	for _, m := range s.Drain(nil) {
		if frameType(m) == protocol.TypeError {
			json.Unmarshal(m.Data, &last)
		}
	}
	pendingMu.Lock()
	for _, m := range pending[s] {
		if frameType(m) == protocol.TypeError {
			json.Unmarshal(m.Data, &last)
		}
	}
	pendingMu.Unlock()
	return s.Closing().Code, last
}

// releaseOwn submits c, which releases a held change of the same session,
// and reads up to c's ack. It returns the last error frame without seq
// before it: the one saying why a refused held change closes the session.
func releaseOwn(t *testing.T, r *room.Room, s *room.Session, seq uint64, c crdt.Change) protocol.Error {
	t.Helper()
	if err := r.Submit(context.Background(), s, seq, []crdt.Change{c}); err != nil {
		t.Fatal(err)
	}
	var notice protocol.Error
	for {
		m := next(t, s)
		if frameType(m) == protocol.TypeAck {
			break
		}
		if frameType(m) == protocol.TypeError {
			var e protocol.Error
			json.Unmarshal(m.Data, &e)
			if e.Seq == seq {
				t.Fatalf("the releasing change refused: %s", e.Message)
			}
			notice = e
		}
	}
	return notice
}

// TestHeldChangeOfRemovedEditorRefused: an editor sends a change that
// waits for the owner's next op and deletes a note (acked as held), and
// is removed. The owner's next edit releases it: it is admitted again as
// the removed editor's and refused. The note stays, a client catching up
// is not offered the change, and the board loads again without it, even
// when the room is dropped without its unload snapshot.
func TestHeldChangeOfRemovedEditorRefused(t *testing.T) {
	st := storage.NewMemory(storage.MemoryOptions{})
	arm := make(chan struct{}, 1)
	cfg := room.Config{Store: st, BeforeHandle: func(storage.BoardID) {
		select {
		case <-arm:
			panic("dropped")
		default:
		}
	}}
	refused := refusedCounter(&cfg)
	m := newManager(t, cfg)
	r := open(t, m)
	ow := sessionAs(t, r, "ow", 0x01, room.RoleOwner)
	ed := sessionAs(t, r, "ed", 0xe1, room.RoleEditor)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	if _, e := submitOne(t, r, ow, 1, crdt.Change{Replica: 0x01, Start: 1, Time: ts, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(1), Key: "note"}}}); e != nil {
		t.Fatal(e.Message)
	}
	if ack, e := submitOne(t, r, ed, 1, lateDelete(0xe1, 0x01, 1, el(1), ts+5)); e != nil || ack.Held != 1 {
		t.Fatalf("the late delete: %+v %+v, want held", ack, e)
	}
	m.Reauthorize(context.Background(), board, func(s *room.Session) string {
		if s == ed {
			return ""
		}
		return s.User.Role
	})
	<-ed.Kicked()
	if ack, e := submitOne(t, r, ow, 2, crdt.Change{Replica: 0x01, Start: 2, Time: ts + 50, Ops: []crdt.Op{{Type: crdt.OpSet, Element: el(1), Key: "color", Value: crdt.String("yellow")}}}); e != nil || ack.Applied != 1 {
		t.Fatalf("the owner's edit: %+v %+v", ack, e)
	}
	check := func(r *room.Room, when string) {
		t.Helper()
		r.Query(context.Background(), func(d *crdt.Doc) {
			if d.IsDeleted(el(1)) || d.VersionOf(0xe1) != 0 || d.Held() != 0 {
				t.Fatalf("%s: note deleted %v, the editor's replica at %d, %d held", when, d.IsDeleted(el(1)), d.VersionOf(0xe1), d.Held())
			}
		})
	}
	check(r, "after the release")
	if n := refused(); n != 1 {
		t.Fatalf("%d held changes refused, want 1", n)
	}
	// A client catching up from nothing gets every change, but not that one.
	js := room.NewSession("late", 0x99, protocol.User{ID: "late", Role: room.RoleViewer}, protocol.FormatJSON, 4096)
	if err := r.Join(context.Background(), js, crdt.VersionVector{}); err != nil {
		t.Fatal(err)
	}
	_, before := readUntil(t, js, protocol.TypeSynced)
	for _, msg := range before {
		var ops protocol.OpsJSON
		if frameType(msg) == protocol.TypeOps && json.Unmarshal(msg.Data, &ops) == nil {
			for _, c := range ops.Changes {
				if c.Replica == 0xe1 {
					t.Fatalf("catch-up offers the refused change %d-%d", c.Start, c.End())
				}
			}
		}
	}
	// Dropped without an unload snapshot (a crash of the room), then loaded
	// from the store: the release is not replayed.
	arm <- struct{}{}
	r.Submit(context.Background(), ow, 3, nil)
	<-ow.Kicked()
	check(open(t, m), "loaded again")
}

// TestHeldChangeOfDemotedEditorRefused: an editor made a commenter while
// its change waits; when the change can apply it is refused as a
// commenter's, and the session, whose later changes would wait for ever
// behind it, is told why and closed with 4104 (start over with a new
// replica).
func TestHeldChangeOfDemotedEditorRefused(t *testing.T) {
	cfg := room.Config{}
	refused := refusedCounter(&cfg)
	m := newManager(t, cfg)
	r := open(t, m)
	ow := sessionAs(t, r, "ow", 0x01, room.RoleOwner)
	ed := sessionAs(t, r, "ed", 0xe1, room.RoleEditor)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	if _, e := submitOne(t, r, ow, 1, crdt.Change{Replica: 0x01, Start: 1, Time: ts, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(1), Key: "note"}}}); e != nil {
		t.Fatal(e.Message)
	}
	if ack, e := submitOne(t, r, ed, 1, lateDelete(0xe1, 0x01, 1, el(1), ts+5)); e != nil || ack.Held != 1 {
		t.Fatalf("the late delete: %+v %+v, want held", ack, e)
	}
	// And a change after it, waiting for its counters.
	if ack, e := submitOne(t, r, ed, 2, crdt.Change{Replica: 0xe1, Start: 3, Time: ts + 6, Ops: []crdt.Op{{Type: crdt.OpSet, Element: el(1), Key: "color", Value: crdt.String("pink")}}}); e != nil || ack.Held != 1 {
		t.Fatalf("the change after it: %+v %+v, want held", ack, e)
	}
	m.Reauthorize(context.Background(), board, func(s *room.Session) string {
		if s == ed {
			return room.RoleCommenter
		}
		return s.User.Role
	})
	if _, e := submitOne(t, r, ow, 2, crdt.Change{Replica: 0x01, Start: 2, Time: ts + 50, Ops: []crdt.Op{{Type: crdt.OpSet, Element: el(1), Key: "color", Value: crdt.String("yellow")}}}); e != nil {
		t.Fatal(e.Message)
	}
	r.Query(context.Background(), func(d *crdt.Doc) {
		if d.IsDeleted(el(1)) || d.Held() != 0 {
			t.Fatalf("note deleted %v, %d held", d.IsDeleted(el(1)), d.Held())
		}
	})
	if n := refused(); n != 2 {
		t.Fatalf("%d held changes refused, want 2 (the delete and the change waiting for it)", n)
	}
	code, last := closedWith(t, ed)
	if code != protocol.CloseReplica || last.Code != protocol.CodeForbidden || !strings.Contains(last.Message, "new replica") {
		t.Fatalf("the demoted session: closed %d after %+v; want %d after a forbidden error", code, last, protocol.CloseReplica)
	}
}

// TestHeldVotesWeighedWhenTheyApply: a held change's votes are weighed
// against the budget, and the voting session, as they are when it
// applies. A voter with a budget of 5 sends 5 dots in a change that waits
// (a gap in its replica's counters), spends its 5 dots from another
// replica, then fills the gap: the held 5 would make 10. A vote held
// while voting closes is refused too.
func TestHeldVotesWeighedWhenTheyApply(t *testing.T) {
	cfg := votingOpen(5)
	refused := refusedCounter(&cfg)
	m := newManager(t, cfg)
	r := open(t, m)
	ed := sessionAs(t, r, "ed", 0xe1, room.RoleEditor)
	vo := sessionAs(t, r, "vo", 0xc1, room.RoleCommenter)
	vo2 := sessionAs(t, r, "vo", 0xc2, room.RoleCommenter)
	ts := crdt.MakeTimestamp(1_750_000_000_000, 0)
	if _, e := submitOne(t, r, ed, 1, crdt.Change{Replica: 0xe1, Start: 1, Time: ts, Ops: []crdt.Op{
		{Type: crdt.OpCreate, Element: el(1), Key: "note"}, {Type: crdt.OpCreate, Element: el(2), Key: "note"}}}); e != nil {
		t.Fatal(e.Message)
	}
	if ack, e := submitOne(t, r, vo, 1, crdt.Change{Replica: 0xc1, Start: 2, Time: ts + 20, Ops: []crdt.Op{dotVote(el(1), "vo", 5)}}); e != nil || ack.Held != 1 {
		t.Fatalf("the held vote: %+v %+v, want held", ack, e)
	}
	if _, e := submitOne(t, r, vo2, 1, crdt.Change{Replica: 0xc2, Start: 1, Time: ts + 30, Ops: []crdt.Op{dotVote(el(2), "vo", 5)}}); e != nil {
		t.Fatal(e.Message)
	}
	// Fill the gap with a change of no dots: admitted, and it releases
	// the held 5.
	notice := releaseOwn(t, r, vo, 2, crdt.Change{Replica: 0xc1, Start: 1, Time: ts + 10, Ops: []crdt.Op{dotVote(el(1), "vo", 0)}})
	if got := dotsOn(t, r, "vo"); got != 5 {
		t.Fatalf("the voter holds %g dots, budget 5", got)
	}
	if n := refused(); n != 1 {
		t.Fatalf("%d held changes refused, want 1", n)
	}
	kickedSoon(t, vo)
	if code := vo.Closing().Code; code != protocol.CloseReplica || notice.Code != protocol.CodeForbidden {
		t.Fatalf("the voter's replica: closed %d after %+v", code, notice)
	}

	// Voting closes while a vote waits.
	ann := sessionAs(t, r, "ann", 0xa1, room.RoleCommenter)
	if ack, e := submitOne(t, r, ann, 1, crdt.Change{Replica: 0xa1, Start: 2, Time: ts + 40, Ops: []crdt.Op{dotVote(el(1), "ann", 1)}}); e != nil || ack.Held != 1 {
		t.Fatalf("ann's held vote: %+v %+v", ack, e)
	}
	m.SetPolicy(context.Background(), board, room.Policy{Voting: room.Voting{State: "closed", Dots: 5}})
	notice = releaseOwn(t, r, ann, 2, crdt.Change{Replica: 0xa1, Start: 1, Time: ts + 35, Ops: []crdt.Op{{Type: crdt.OpCreate, Element: el(3), Key: "comment"}}})
	if got := dotsOn(t, r, "ann"); got != 0 {
		t.Fatalf("a vote held past the close counts %g dots", got)
	}
	kickedSoon(t, ann)
	if code := ann.Closing().Code; code != protocol.CloseReplica || notice.Code != protocol.CodeReadOnly {
		t.Fatalf("ann's replica: closed %d after %+v, want read_only", code, notice)
	}
}
