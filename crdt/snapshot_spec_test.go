package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The snapshot fixtures of docs/PROTOCOL.md, section 5.6: a small board,
// built deterministically, whose snapshot (both forms) and JSON view are
// kept in testdata. webclient/test/snapshotspec.test.mjs decodes the
// snapshot with a decoder written from the document alone and compares it
// with the JSON view, so the fixtures prove the document is complete. Run
// with -rewrite after a deliberate change of the format to write them
// again; without it the test fails when the encoder's bytes drift from
// what the document was checked against.
const (
	specSnapshotRaw  = "testdata/spec-snapshot.bin"   // 'S' 2 body
	specSnapshotFlat = "testdata/spec-snapshot-z.bin" // 'S' 1 DEFLATE(body)
	specSnapshotJSON = "testdata/spec-snapshot.json"  // Doc.MarshalJSON
	specReplicaA     = ReplicaID(0x3f9a1c0d5e7b2468)  // the first writer
	specReplicaB     = ReplicaID(0x00000000000000b2)  // a concurrent one
	specReplicaC     = ReplicaID(0x0c0ffee000000001)  // whose change is held
	specT0           = int64(1_795_396_900_000)       // ms, 2026-11-23
	specNote         = "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a7b"
	specPrefix       = "0190f5e2-7c3a-7d4e-9b1a-2c3d4e5f6a"
)

// specID returns the fixture's element with last byte b.
func specID(t testing.TB, b string) ElementID {
	id, err := ParseElementID(specPrefix + b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// specDoc builds the fixture board. Two replicas edit copies and exchange
// their changes, so the state has concurrent text inserts (same origins,
// ordered by replica), a move skipped as a cycle, and stamps of both; a
// third replica's second change arrives without its first and is held.
func specDoc(t testing.TB) *Doc {
	a, b := NewDoc(), NewDoc()
	var toB, toA []Change
	commit := func(tx Tx, out *[]Change) {
		c, ok := tx.Commit()
		if !ok {
			t.Fatal("empty change")
		}
		*out = append(*out, c)
	}
	exchange := func() {
		for _, c := range toB {
			if _, _, err := b.Apply(c); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range toA {
			if _, _, err := a.Apply(c); err != nil {
				t.Fatal(err)
			}
		}
		toB, toA = nil, nil
	}
	note, gone, back := specID(t, "7b"), specID(t, "01"), specID(t, "02")
	mm, n1, n2, n3 := specID(t, "10"), specID(t, "11"), specID(t, "12"), specID(t, "13")

	// A: a note with every kind of value and a text.
	tx := a.Begin(specReplicaA, specT0)
	must(t, tx.Create(note, "note"))
	must(t, tx.Set(note, "x", Number(120)))
	must(t, tx.Set(note, "y", Number(80.5)))
	must(t, tx.Set(note, "w", Number(-3)))
	must(t, tx.Set(note, "ratio", Number(3.141592653589793)))
	must(t, tx.Set(note, "big", Number(1e300)))
	must(t, tx.Set(note, "color", String("yellow")))
	must(t, tx.Set(note, "pinned", Bool(true)))
	must(t, tx.Set(note, "locked", Bool(false)))
	must(t, tx.Set(note, "tags", mustJSON(t, `["idea","q3",{"b":1,"a":"<"}]`)))
	must(t, tx.Set(note, "fontSize", Null()))
	must(t, tx.InsertText(note, "text", 0, "Hello world"))
	commit(tx, &toB)
	// A: one note deleted, one deleted and restored, a mindmap of three.
	tx = a.Begin(specReplicaA, specT0+1000)
	must(t, tx.Create(gone, "note"))
	must(t, tx.Create(back, "shape"))
	must(t, tx.Set(back, "shape", String("star")))
	must(t, tx.Create(mm, "mindmap"))
	must(t, tx.InsertText(mm, "text", 0, "Plan"))
	for _, n := range []ElementID{n1, n2, n3} {
		must(t, tx.Create(n, "mindmap"))
	}
	must(t, tx.Move(n1, mm, "a0"))
	must(t, tx.Move(n2, mm, "a1"))
	must(t, tx.Move(n3, n2, ""))
	must(t, tx.InsertText(n1, "text", 0, "Ideas"))
	commit(tx, &toB)
	tx = a.Begin(specReplicaA, specT0+2000)
	must(t, tx.Delete(gone))
	must(t, tx.Delete(back))
	commit(tx, &toB)
	exchange()

	// B types a character into a mindmap node and A sees it; then B types
	// a second one after it (its run continues) while A types after the
	// first: B's is the smaller replica, so its character comes first, and
	// A's run has a left origin inside B's run (an explicit origin).
	tx = b.Begin(specReplicaB, specT0+2500)
	must(t, tx.InsertText(n2, "text", 0, "a"))
	commit(tx, &toA)
	exchange()

	// Two chains of 32 mindmap nodes and a single one, all on the board.
	tx = a.Begin(specReplicaA, specT0+2600)
	chain := func(first, n int) []ElementID {
		ids := make([]ElementID, n)
		for i := range ids {
			ids[i] = specID(t, fmt.Sprintf("%02x", first+i))
			must(t, tx.Create(ids[i], "mindmap"))
			if i > 0 {
				must(t, tx.Move(ids[i], ids[i-1], ""))
			}
		}
		return ids
	}
	xs, ys, zs := chain(0x30, 32), chain(0x50, 32), chain(0x70, 1)
	commit(tx, &toB)
	exchange()

	// Concurrently: both type at the same place in the note, both move a
	// mindmap node under the other (the later move is skipped), both vote.
	tx = a.Begin(specReplicaA, specT0+3000)
	must(t, tx.InsertText(note, "text", 5, " big"))
	must(t, tx.InsertText(n2, "text", 1, "X"))
	must(t, tx.Move(n3, n1, "a0"))
	must(t, tx.Vote(note, "vote", "user-a", Number(2)))
	must(t, tx.Move(ys[0], xs[31], "")) // Y's last node at depth exactly 64
	must(t, tx.Vote(note, "react", "user-a", String("👍")))
	commit(tx, &toB)
	tx = b.Begin(specReplicaB, specT0+3001)
	must(t, tx.InsertText(n2, "text", 1, "b")) // counter 2, after "a"'s 1
	must(t, tx.InsertText(note, "text", 5, " small"))
	must(t, tx.InsertText(note, "text", 0, "☕ "))
	must(t, tx.Move(n1, n3, "a5"))
	must(t, tx.Vote(note, "vote", "user-b", Number(1)))
	must(t, tx.Set(note, "color", String("#ff8800"))) // the later write wins
	must(t, tx.Restore(back))
	must(t, tx.Move(zs[0], ys[31], "")) // the later move: depth 65
	commit(tx, &toA)
	exchange()

	// B deletes across runs of both replicas; A withdraws B's vote's
	// neighbour (its own) and moves a node to the board.
	tx = b.Begin(specReplicaB, specT0+4000)
	must(t, tx.DeleteText(note, "text", 7, 8)) // " small b" of "☕ Hello small big world"
	must(t, tx.DeleteText(mm, "text", 0, 1))
	commit(tx, &toA)
	tx = a.Begin(specReplicaA, specT0+4001)
	must(t, tx.Vote(note, "vote", "user-a", Number(0)))
	must(t, tx.Move(n2, Root, "a2"))
	commit(tx, &toB)
	exchange()

	// C's second change, without its first: held.
	c := NewDoc()
	tx = c.Begin(specReplicaC, specT0+5000)
	must(t, tx.Create(specID(t, "20"), "note"))
	tx.Commit()
	tx = c.Begin(specReplicaC, specT0+5001)
	must(t, tx.Set(specID(t, "20"), "h", Number(240.5)))
	held, _ := tx.Commit()
	if st, _, err := a.Apply(held); err != nil || st != Held {
		t.Fatalf("held change: %v %v", st, err)
	}

	if _, _, err := b.Apply(held); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.SnapshotRaw(), b.SnapshotRaw()) {
		t.Fatal("the two replicas did not converge")
	}
	return a
}

func mustJSON(t testing.TB, s string) Value {
	v, err := JSONValue([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSnapshotSpecFixtures checks (or, with -rewrite, writes) the fixtures.
func TestSnapshotSpecFixtures(t *testing.T) {
	d := specDoc(t)
	// What the fixture is meant to show, so a change of the builder cannot
	// quietly drop a case the decoder should meet.
	if d.Held() != 1 || !d.IsDeleted(specID(t, "01")) || d.IsDeleted(specID(t, "02")) {
		t.Fatalf("fixture lacks a case: held %d", d.Held())
	}
	if got := d.Text(specID(t, "7b"), "text"); got != "☕ Helloig world" {
		t.Fatalf("note text %q", got)
	}
	if got := d.Text(specID(t, "12"), "text"); got != "abX" {
		t.Fatalf("mindmap node text %q", got)
	}
	if p, _ := d.Parent(specID(t, "11")); p != specID(t, "10") {
		t.Fatalf("the cycle move was not skipped: parent of n1 %v", p)
	}
	if p, _ := d.Parent(specID(t, "50")); p != specID(t, "4f") {
		t.Fatalf("the move to depth 64 was skipped: parent %v", p)
	}
	if p, _ := d.Parent(specID(t, "70")); p != Root {
		t.Fatalf("the move past depth 64 was not skipped: parent %v", p)
	}
	raw := d.SnapshotRaw()
	flat := d.Snapshot()
	view, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	view = append(view, '\n')
	// Both forms load back to the same state.
	for _, b := range [][]byte{raw, flat} {
		l, err := LoadSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.SnapshotRaw(), raw) {
			t.Fatal("a fixture does not load back to the same state")
		}
	}
	files := map[string][]byte{specSnapshotRaw: raw, specSnapshotFlat: flat, specSnapshotJSON: view}
	if *rewrite {
		for name, b := range files {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, b := range files {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (write the fixtures with go test -run TestSnapshotSpecFixtures -rewrite)", err)
		}
		if name == specSnapshotFlat {
			// DEFLATE output may differ between Go versions: compare what
			// it inflates to.
			l, err := LoadSnapshot(want)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(name), err)
			}
			want, b = l.SnapshotRaw(), raw
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from what the doc encodes now (rewrite it with -rewrite if the format changed on purpose, and check docs/PROTOCOL.md 5.6)", name)
		}
	}
}
