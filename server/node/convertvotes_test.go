package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/protocol"
)

// A conversion (a note turned into a mindmap node or back, one change that
// creates the new element and deletes the old) carries other people's dots
// and reactions only as server/room/policy.go's voteMoves allows: exactly
// what the deleted element holds, withdrawn from it in the same change.

// undoer makes a client's changes through a crdt.UndoManager on its doc, as
// the web client does, so its undo and redo are the real inverse changes.
type undoer struct {
	t  *testing.T
	c  *client.Client
	um *crdt.UndoManager
	at func() time.Time
}

func newUndoer(t *testing.T, c *client.Client, rep crdt.ReplicaID, at func() time.Time) *undoer {
	u := &undoer{t: t, c: c, at: at}
	c.Read(func(d *crdt.Doc) { u.um = crdt.NewUndoManager(d, rep) })
	return u
}

// send makes one change with make (under the client's lock) and waits for
// its ack: nil, or the refusal.
func (u *undoer) send(make func(ms int64) (crdt.Change, bool)) error {
	u.t.Helper()
	var ch crdt.Change
	var ok bool
	u.c.Read(func(*crdt.Doc) { ch, ok = make(u.at().UnixMilli()) })
	if !ok {
		u.t.Fatal("nothing to send")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := u.c.Send(ctx, []crdt.Change{ch})
	if err != nil {
		u.t.Fatal(err)
	}
	return u.c.WaitAck(ctx, seq)
}

func (u *undoer) edit(fn func(tx *crdt.Tx) error) error {
	return u.send(func(ms int64) (crdt.Change, bool) {
		tx := u.um.Begin(ms)
		if err := fn(&tx); err != nil {
			u.t.Fatal(err)
		}
		return tx.Commit()
	})
}

func (u *undoer) undo() error { return u.send(u.um.Undo) }
func (u *undoer) redo() error { return u.send(u.um.Redo) }

// vote is one register: key, voter and value.
type vote struct {
	key, voter string
	value      crdt.Value
}

// convertTx is what convert.ts makes: b created as kind with a's text, the
// votes written on b and withdrawn on a, a deleted.
func convertTx(a, b crdt.ElementID, kind, text string, votes ...vote) func(tx *crdt.Tx) error {
	return func(tx *crdt.Tx) error {
		if err := tx.Create(b, kind); err != nil {
			return err
		}
		if err := tx.InsertText(b, "text", 0, text); err != nil {
			return err
		}
		for _, v := range votes {
			if err := tx.Vote(b, v.key, v.voter, v.value); err != nil {
				return err
			}
			if err := tx.Vote(a, v.key, v.voter, crdt.Null()); err != nil {
				return err
			}
		}
		return tx.Delete(a)
	}
}

// votesOn reads one voter's live votes on an element from a client's doc:
// key → value.
func votesOn(c *client.Client, el crdt.ElementID, voter string) map[string]string {
	out := map[string]string{}
	c.Read(func(d *crdt.Doc) {
		for _, key := range []string{"vote", "react"} {
			for _, v := range d.Votes(el, key) {
				if v.Voter == voter {
					out[key] = v.Value.String()
				}
			}
		}
	})
	return out
}

// TestConversionMovesOthersDots: Ana votes and reacts on a note; the
// owner's forged conversions that would cast, inflate or move her dots
// anywhere else are refused; the owner's real conversion carries them to
// the mindmap node, counted once (tally, summary, Ana's budget); undo and
// redo move them back and forth; an undo after Ana changed her mind is
// refused; after voting closed a conversion still moves them.
func TestConversionMovesOthersDots(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	newMemberBoard := func(name string) string {
		board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": name, "access": "members"}))
		e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ana@example.com", "role": "editor"})
		return board
	}
	board, other := newMemberBoard("convert"), newMemberBoard("elsewhere")
	invites := to(e.deliver(), "ana@example.com")
	ana := e.accept(linkIn(t, invites[0], "/v1/invites/"))
	e.accept(linkIn(t, invites[1], "/v1/invites/"))
	anaID := e.userID(ana)
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 5})

	oc := e.dial(board, owner, 0x6001)
	ac := e.dial(board, ana, 0x6002)
	bike, walk, root := newID("bike"), newID("walk"), newID("root")
	mustEdit(t, oc, e.clk.Now(), noteTx(bike, "Bike to work"))
	mustEdit(t, oc, e.clk.Now(), noteTx(walk, "Walk"))
	mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error {
		if err := tx.Create(root, "mindmap"); err != nil {
			return err
		}
		return tx.InsertText(root, "text", 0, "Commute")
	})
	if err := ac.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(bike) && d.Exists(walk) && d.Exists(root) }); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, ac, e.clk.Now(), voteTx(bike, anaID, 2))
	// A mindmap node with a dot of Ana's, deleted: a target to restore.
	gone := newID("gone")
	mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Create(gone, "mindmap") })
	if err := ac.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(gone) }); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, ac, e.clk.Now(), voteTx(gone, anaID, 1))
	if err := oc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(gone, "vote")) == 1 }); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Delete(gone) })
	mustEdit(t, ac, e.clk.Now(), func(tx *crdt.Tx) error { return tx.Vote(bike, "react", anaID, crdt.String("👍")) })
	// A note on another board, with Ana's dots there.
	elsewhere := newID("elsewhere")
	ao := e.dial(other, ana, 0x6003)
	mustEdit(t, e.dial(other, owner, 0x6004), e.clk.Now(), noteTx(elsewhere, "Bike to work"))
	if err := ao.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(elsewhere) }); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, ao, e.clk.Now(), voteTx(elsewhere, anaID, 2))

	// The attacks, by the owner on a raw connection: each refused, nothing
	// of it stored (so each is sent as the replica's first change again).
	raw := rawJoinHeader(t, "ws"+strings.TrimPrefix(e.tn.base, "http")+"/v1/boards/"+board+"/ws", 0x6005, nil,
		http.Header{"Authorization": {"Session " + owner}})
	node := newID("node")
	mk := func(el crdt.ElementID, kind string) crdt.Op {
		return crdt.Op{Type: crdt.OpCreate, Element: el, Key: kind}
	}
	vt := func(el crdt.ElementID, voter string, v crdt.Value) crdt.Op {
		return crdt.Op{Type: crdt.OpVote, Element: el, Key: "vote", Voter: voter, Value: v}
	}
	del := crdt.Op{Type: crdt.OpDelete, Element: bike, Deleted: true}
	null := crdt.Null()
	attacks := []struct {
		name string
		ops  []crdt.Op
	}{
		{"Ana's dots on an element that is no conversion's target", []crdt.Op{vt(walk, anaID, crdt.Number(2))}},
		{"Ana's dots on an existing node, the note deleted", []crdt.Op{vt(root, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"more dots than the note had", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(3)), vt(bike, anaID, null), del}},
		{"fewer dots than the note had", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(1)), vt(bike, anaID, null), del}},
		{"the note not deleted", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null)}},
		{"the dots not withdrawn from the note", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), del}},
		{"a note to a note (same kind)", []crdt.Op{mk(node, "note"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"the source on another board", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)),
			vt(elsewhere, anaID, null), {Type: crdt.OpDelete, Element: elsewhere, Deleted: true}}},
		{"a voter who never voted on the note", []crdt.Op{mk(node, "mindmap"), vt(node, "someone-else", crdt.Number(2)), vt(bike, "someone-else", null), del}},
		{"two targets for one note's dots", []crdt.Op{mk(node, "mindmap"), mk(newID("node2"), "mindmap"), vt(node, anaID, crdt.Number(2)),
			vt(newID("node2"), anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"Ana's dots written twice on the target", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"the note restored, not deleted", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null), {Type: crdt.OpDelete, Element: bike}}},
		{"the note's dots rewritten, not withdrawn", []crdt.Op{mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, crdt.Number(4)), del}},
		{"a restored node that holds a vote of Ana's", []crdt.Op{{Type: crdt.OpDelete, Element: gone}, vt(gone, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"a deleted node restored as a note (kind rewritten)", []crdt.Op{mk(gone, "note"), {Type: crdt.OpDelete, Element: gone},
			vt(gone, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
		{"the note's kind rewritten in the same change", []crdt.Op{mk(bike, "mindmap"), mk(node, "note"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null), del}},
	}
	for _, a := range attacks {
		raw.send(change(0x6005, 1, a.ops...))
		if got := raw.expectError(protocol.CodeForbidden); !strings.Contains(got.Message, "sender's own") {
			t.Fatalf("%s: refused as %q", a.name, got.Message)
		}
	}
	// A conversion that would be held (a missing dependency: a gap in the
	// replica's counters) is never held: checked only against the board it
	// applies to.
	raw.send(change(0x6005, 5, mk(node, "mindmap"), vt(node, anaID, crdt.Number(2)), vt(bike, anaID, null), del))
	raw.expectError(protocol.CodeRateLimited)
	if got := votesOn(oc, bike, anaID); got["vote"] != "2" || got["react"] != `"👍"` {
		t.Fatalf("Ana's votes on the note after the refused attacks: %v", got)
	}
	if got := votesOn(ao, elsewhere, anaID); got["vote"] != "2" {
		t.Fatalf("Ana's votes on the other board: %v", got)
	}

	// The real conversion, with Ana's dots and reaction.
	ou := newUndoer(t, oc, 0x6001, e.clk.Now)
	if err := ou.edit(convertTx(bike, node, "mindmap", "Bike to work",
		vote{"vote", anaID, crdt.Number(2)}, vote{"react", anaID, crdt.String("👍")})); err != nil {
		t.Fatalf("the conversion: %v", err)
	}
	checkMoved := func(what string, from, onto crdt.ElementID) {
		t.Helper()
		if err := ac.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.IsDeleted(from) && !d.IsDeleted(onto) }); err != nil {
			t.Fatalf("%s: Ana never saw it: %v", what, err)
		}
		for _, c := range []*client.Client{oc, ac} {
			if got := votesOn(c, onto, anaID); got["vote"] != "2" || got["react"] != `"👍"` {
				t.Fatalf("%s: Ana's votes on %s: %v", what, onto, got)
			}
			if got := votesOn(c, from, anaID); len(got) != 0 {
				t.Fatalf("%s: Ana's votes left on %s: %v", what, from, got)
			}
		}
		res := e.must(200, "GET", "/v1/boards/"+board+"/voting", owner, nil)["result"].([]any)
		if len(res) != 1 || res[0].(map[string]any)["element"] != onto.String() || res[0].(map[string]any)["dots"].(float64) != 2 {
			t.Fatalf("%s: the tally %v, want 2 dots on %s only", what, res, onto)
		}
		ideas := e.must(200, "GET", "/v1/boards/"+board+"/summary?format=json", owner, nil)["ideas"].([]any)
		total := 0.0
		for _, i := range ideas {
			total += i.(map[string]any)["votes"].(float64)
		}
		if first := ideas[0].(map[string]any); first["element"] != onto.String() || total != 2 {
			t.Fatalf("%s: the summary's ideas %v, want %s first with the only 2 dots", what, ideas, onto)
		}
	}
	checkMoved("converted", bike, node)

	// Undo brings the note back with her dots; redo moves them again.
	if err := ou.undo(); err != nil {
		t.Fatalf("undo of the conversion: %v", err)
	}
	checkMoved("undone", node, bike)
	if err := ou.redo(); err != nil {
		t.Fatalf("redo of the conversion: %v", err)
	}
	checkMoved("redone", bike, node)

	// Ana's budget (5; the deleted node's dot counts) counts the moved
	// dots once: 2 more are hers, not 3.
	mustEdit(t, ac, e.clk.Now(), voteTx(walk, anaID, 2))
	if err := edit(t, ac, e.clk.Now(), voteTx(root, anaID, 1)); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a sixth dot: %v", err)
	}

	// Ana takes her dot back from the node: undoing the conversion now
	// would give it back to her, and is refused.
	ac2 := e.dial(board, ana, 0x6006)
	mustEdit(t, ac2, e.clk.Now(), voteTx(node, anaID, 0))
	if err := oc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(node, "vote")) == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := ou.undo(); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("an undo that would give Ana back a dot she took away: %v", err)
	}

	// Voting closed: a conversion moves dots (allowed), casting is not.
	oc2 := e.dial(board, owner, 0x6007)
	e.must(200, "POST", "/v1/boards/"+board+"/voting/close", owner, nil)
	walkNode := newID("walk-node")
	if err := edit(t, oc2, e.clk.Now(), convertTx(walk, walkNode, "mindmap", "Walk", vote{"vote", anaID, crdt.Number(2)})); err != nil {
		t.Fatalf("a conversion after voting closed: %v", err)
	}
	if got := votesOn(oc2, walkNode, anaID); got["vote"] != "2" {
		t.Fatalf("Ana's dots on the converted node after the vote: %v", got)
	}
	if err := ac2.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(walkNode) }); err != nil {
		t.Fatal(err)
	}
	if err := edit(t, ac2, e.clk.Now(), voteTx(walkNode, anaID, 3)); err == nil || !strings.Contains(err.Error(), string(protocol.CodeReadOnly)) {
		t.Fatalf("a vote cast after voting closed: %v", err)
	}
}

// TestConversionMergesAcrossNodes: a conversion admitted on node a, with
// another person's dots, reaches node b whole; its undo too.
func TestConversionMergesAcrossNodes(t *testing.T) {
	e, onB := twoNodes(t)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "cluster convert", "access": "members"}))
	e.must(201, "POST", "/v1/boards/"+board+"/invites", owner, map[string]any{"email": "ana@example.com", "role": "editor"})
	ana := e.accept(linkIn(t, to(e.deliver(), "ana@example.com")[0], "/v1/invites/"))
	anaID := e.userID(ana)
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 3})

	oc := e.dial(board, owner, 0x6101)
	ab := onB.dial(board, ana, 0x6102)
	note, node := newID("c-note"), newID("c-node")
	mustEdit(t, oc, e.clk.Now(), noteTx(note, "Carpool"))
	if err := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(note) }); err != nil {
		t.Fatal(err)
	}
	mustEdit(t, ab, e.clk.Now(), voteTx(note, anaID, 3))
	if err := oc.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return len(d.Votes(note, "vote")) == 1 }); err != nil {
		t.Fatal(err)
	}
	ou := newUndoer(t, oc, 0x6101, e.clk.Now)
	if err := ou.edit(convertTx(note, node, "mindmap", "Carpool", vote{"vote", anaID, crdt.Number(3)})); err != nil {
		t.Fatalf("the conversion on node a: %v", err)
	}
	if err := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.IsDeleted(note) && len(d.Votes(node, "vote")) == 1 }); err != nil {
		t.Fatalf("node b never had the conversion: %v", err)
	}
	if got := votesOn(ab, note, anaID); len(got) != 0 {
		t.Fatalf("Ana's dots left on the note on node b: %v", got)
	}
	if err := ou.undo(); err != nil {
		t.Fatalf("undo on node a: %v", err)
	}
	if err := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return !d.IsDeleted(note) && d.IsDeleted(node) }); err != nil {
		t.Fatalf("node b never had the undo: %v", err)
	}
	if got := votesOn(ab, note, anaID); got["vote"] != "3" {
		t.Fatalf("Ana's dots back on the note on node b: %v", got)
	}
	// Her budget (3) is spent, on node b too: the moves cast nothing.
	more := newID("c-more")
	mustEdit(t, oc, e.clk.Now(), noteTx(more, "Bus"))
	if err := ab.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { return d.Exists(more) }); err != nil {
		t.Fatal(err)
	}
	if err := edit(t, ab, e.clk.Now(), voteTx(more, anaID, 1)); err == nil || !strings.Contains(err.Error(), string(protocol.CodeForbidden)) {
		t.Fatalf("a fourth dot on node b: %v", err)
	}
}
