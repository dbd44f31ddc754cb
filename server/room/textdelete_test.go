package room_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// TestTextDeletesBudgeted: checking and applying a text deletion walks
// the runs of text it covers, one per character at worst (a text inserted
// one character before the other), and deleted characters stay, so the
// same deletion could be sent again and again: a frame of 300 11-byte ops
// held a room 3.9 s. The characters a client change's deletions name are
// bounded per change (invalid_op past MaxTextDeletes) and charged to a
// per-board budget (rate_limited once spent, with the room's clock still;
// answered again once it moves on). Before, every change was taken.
func TestTextDeletesBudgeted(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	m := newManager(t, room.Config{Now: clock, MaxTextDeletes: 100_000, TextDeletesPerSecond: 50_000})
	r := open(t, m)
	s := join(t, r, "a", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	a.ms = now.Load()
	text := strings.Repeat("x", 20_000)
	first := a.note(t, 1, text)
	if err := r.Submit(context.Background(), s, 1, []crdt.Change{first}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, s, 1)
	target := crdt.OpID{Replica: 7, Counter: first.Start + 2} // after the create and the set of x
	nextCtr := first.End() + 1
	// deletes is a change of n ops, each deleting the whole text again.
	deletes := func(n int) crdt.Change {
		a.ms++
		c := crdt.Change{Replica: 7, Start: nextCtr, Time: crdt.MakeTimestamp(uint64(a.ms), 0)}
		for range n {
			c.Ops = append(c.Ops, crdt.Op{Type: crdt.OpDeleteText, Element: el(1), Key: "text", Target: target, Count: uint64(len(text))})
		}
		return c
	}
	outcome := func(seq uint64, c crdt.Change) string {
		t.Helper()
		got := submitOutcome(t, r, s, seq, c)
		if got == "ack" {
			nextCtr = c.End() + 1
		}
		return got
	}
	if got := outcome(2, deletes(6)); got != string(protocol.CodeInvalidOp) {
		t.Fatalf("a change deleting 120,000 characters: %s, want invalid_op", got)
	}
	for i := range 5 { // 100,000 characters: the burst
		if got := outcome(uint64(3+i), deletes(1)); got != "ack" {
			t.Fatalf("deletion %d of 20,000 characters within the budget: %s", i+1, got)
		}
	}
	if got := outcome(8, deletes(1)); got != string(protocol.CodeRateLimited) {
		t.Fatalf("a deletion past the budget: %s, want rate_limited", got)
	}
	now.Add(500) // 25,000 characters more
	if got := outcome(9, deletes(1)); got != "ack" {
		t.Fatalf("a deletion once the budget refilled: %s", got)
	}
}

// TestInsertReachBudgeted: an insert whose origins are not neighbours
// walks the runs of text between them as it applies, and the runs stay:
// 16,384 inserts with both origins at a text's ends, in one change of 164
// KB, took 1.7 s of the room, 65,536 took 44 s. What a client change's
// inserts may walk is bounded per change (invalid_op past MaxInsertReach)
// and budgeted per board (rate_limited once spent, with the room's clock
// still); typing goes on. Before, every change was taken.
func TestInsertReachBudgeted(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	m := newManager(t, room.Config{Now: clock, MaxInsertReach: 2_000, InsertReachPerSecond: 1_000})
	r := open(t, m)
	s := join(t, r, "a", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	a.ms = now.Load()
	seq := uint64(0)
	outcome := func(c crdt.Change) string {
		t.Helper()
		seq++
		return submitOutcome(t, r, s, seq, c)
	}
	if got := outcome(a.note(t, 1, "")); got != "ack" {
		t.Fatal(got)
	}
	// ends is a change of n inserts between the text's two ends, made as
	// the author's next change (its doc does not apply it: the room's
	// answer decides).
	ends := func(n int) crdt.Change {
		a.ms++
		c := crdt.Change{Replica: 7, Start: a.d.VersionOf(7) + 1, Time: crdt.MakeTimestamp(uint64(a.ms), 0)}
		for range n {
			c.Ops = append(c.Ops, crdt.Op{Type: crdt.OpInsertText, Element: el(1), Key: "text", Text: "q"})
		}
		return c
	}
	if got := outcome(ends(16_384)); got != string(protocol.CodeInvalidOp) {
		t.Fatalf("16,384 inserts between the same origins: %s, want invalid_op", got)
	}
	refused := 0
	for range 100 { // each between the ends of a text growing by one run
		c := ends(1)
		switch got := outcome(c); got {
		case "ack":
			a.d.Apply(c)
		case string(protocol.CodeRateLimited):
			refused++
		default:
			t.Fatalf("an insert between the ends: %s", got)
		}
	}
	if refused == 0 {
		t.Fatal("100 inserts between the ends of a growing text with the room's clock still: none refused")
	}
	// Typing goes on once the budget refills.
	now.Add(2000)
	typing := a.edit(t, func(tx *crdt.Tx) error { return tx.InsertText(el(1), "text", 0, "typed") })
	if got := outcome(typing); got != "ack" {
		t.Fatalf("typing once the budget refilled: %s", got)
	}
}

// TestTextBudgetsSpentByAllowedChangesOnly: the text budgets were charged
// before the role was asked, so a commenter's refused deletions, sent
// every second, kept every editor's deletions on the board rate_limited.
// A change the role refuses spends nothing.
func TestTextBudgetsSpentByAllowedChangesOnly(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	clock := func() time.Time { return time.UnixMilli(now.Load()) }
	m := newManager(t, room.Config{Now: clock, MaxTextDeletes: 100_000, TextDeletesPerSecond: 1})
	r := open(t, m)
	ed := join(t, r, "ed", 7, room.RoleEditor, 1000)
	a := newAuthor(7)
	a.ms = now.Load()
	first := a.note(t, 1, strings.Repeat("x", 1000))
	if err := r.Submit(context.Background(), ed, 1, []crdt.Change{first}); err != nil {
		t.Fatal(err)
	}
	expectAck(t, ed, 1)
	del := func(rep crdt.ReplicaID, start uint64) crdt.Change {
		a.ms++
		return crdt.Change{Replica: rep, Start: start, Time: crdt.MakeTimestamp(uint64(a.ms), 0), Ops: []crdt.Op{
			{Type: crdt.OpDeleteText, Element: el(1), Key: "text", Target: crdt.OpID{Replica: 7, Counter: first.Start + 2}, Count: 100_000}}}
	}
	co := join(t, r, "co", 8, room.RoleCommenter, 1000)
	if err := r.Submit(context.Background(), co, 1, []crdt.Change{del(8, 1)}); err != nil {
		t.Fatal(err)
	}
	if msg, _ := readUntil(t, co, protocol.TypeError); !strings.Contains(string(msg.Data), string(protocol.CodeForbidden)) {
		t.Fatalf("a commenter's deletion: %s", msg.Data)
	}
	// The whole burst is left for the editor (Check then refuses the
	// count past the text, but the budget let it through).
	if err := r.Submit(context.Background(), ed, 2, []crdt.Change{del(7, first.End()+1)}); err != nil {
		t.Fatal(err)
	}
	msg, _ := readUntil(t, ed, protocol.TypeError)
	if strings.Contains(string(msg.Data), string(protocol.CodeRateLimited)) {
		t.Fatalf("an editor's deletion after a commenter's refused one: %s", msg.Data)
	}
}

// submitOutcome submits c as batch seq of s and returns "ack", or the
// code of the error frame that refused it.
func submitOutcome(t testing.TB, r *room.Room, s *room.Session, seq uint64, c crdt.Change) string {
	t.Helper()
	if err := r.Submit(context.Background(), s, seq, []crdt.Change{c}); err != nil {
		t.Fatal(err)
	}
	for {
		msg := next(t, s)
		switch frameType(msg) {
		case protocol.TypeAck:
			return "ack"
		case protocol.TypeError:
			var e protocol.Error
			json.Unmarshal(msg.Data, &e)
			return string(e.Code)
		}
	}
}
