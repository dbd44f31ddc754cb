package room_test

import (
	"context"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// TestChangesSince: the one scan of an op log by version vector, on a real
// Pebble store: what a peer lacks, cut where it has part of an entry, up
// to a version (held entries past it left out), within a limit, and what
// retention dropped.
func TestChangesSince(t *testing.T) {
	ctx := context.Background()
	st := pebbleStore(t)
	a, b := newAuthor(1), newAuthor(2)
	a1 := a.note(t, 1, "hello")                                                            // 1..7: create, x, 5 characters
	b1 := b.note(t, 2, "hi")                                                               // 1..4
	a2 := a.edit(t, func(tx *crdt.Tx) error { return tx.Set(el(1), "y", crdt.Number(1)) }) // 8
	c5 := heldChange(3, 5, 10)                                                             // replica 3 from counter 5: held wherever it is
	var entries []storage.Record
	for _, c := range []crdt.Change{a1, b1, a2, c5} {
		entries = append(entries, storage.Record{Replica: uint64(c.Replica), Start: c.Start, End: c.End(), Data: c.AppendBinary(nil)})
	}
	if err := st.AppendOps(ctx, board, entries); err != nil {
		t.Fatal(err)
	}
	version := crdt.VersionVector{1: 8, 2: 4}
	withHeld := crdt.VersionVector{1: 8, 2: 4, 3: 5}
	type want struct {
		seqs    []uint64
		more    bool
		trimmed bool
	}
	check := func(name string, have, upto crdt.VersionVector, lim room.Limit, w want) room.Since {
		t.Helper()
		got, err := room.ChangesSince(ctx, st, board, have, upto, lim)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var seqs []uint64
		for _, e := range got.Entries {
			seqs = append(seqs, e.Seq)
		}
		if len(seqs) != len(w.seqs) || got.More != w.more || got.Trimmed != w.trimmed {
			t.Fatalf("%s: entries %v more %v trimmed %v; want %v %v %v", name, seqs, got.More, got.Trimmed, w.seqs, w.more, w.trimmed)
		}
		for i := range seqs {
			if seqs[i] != w.seqs[i] {
				t.Fatalf("%s: entries %v, want %v", name, seqs, w.seqs)
			}
		}
		return got
	}
	check("everything, in log order", nil, version, room.Limit{}, want{seqs: []uint64{1, 2, 3}})
	check("up to date", version, version, room.Limit{}, want{})
	check("held entries when asked", crdt.VersionVector{1: 8, 2: 4}, withHeld, room.Limit{}, want{seqs: []uint64{4}})
	check("held entries past upto left out", nil, crdt.VersionVector{1: 8, 2: 4, 3: 4}, room.Limit{}, want{seqs: []uint64{1, 2, 3}})

	// An entry the peer has in part comes cut to the rest.
	got := check("cut", crdt.VersionVector{1: 3, 2: 4}, version, room.Limit{}, want{seqs: []uint64{1, 3}})
	cut, err := crdt.DecodeChange(got.Entries[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Entries[0]; e.Start != 4 || cut.Start != 4 || cut.End() != 7 || cut.Ops[0].Text != "ello" {
		t.Fatalf("cut entry: start %d, change %d..%d %q", e.Start, cut.Start, cut.End(), cut.Ops[0].Text)
	}
	peer := crdt.NewDoc()
	peer.Apply(crdt.Change{Replica: 1, Start: 1, Time: a1.Time, Ops: a1.Ops[:2]})
	peer.Apply(crdt.Change{Replica: 1, Start: 3, Time: a1.Time + 2, Ops: []crdt.Op{{Type: crdt.OpInsertText, Element: el(1), Key: "text", Text: "h", Left: a1.Ops[2].Left}}})
	if peer.VersionOf(1) != 3 {
		t.Fatalf("peer at %d", peer.VersionOf(1))
	}
	if st, _, err := peer.Apply(cut); err != nil || st != crdt.Applied {
		t.Fatalf("the cut entry on a peer that has the first part: %v %v", st, err)
	}

	// Limits: replicas are read in id order; the first entry is always
	// taken.
	check("count limit", nil, version, room.Limit{Changes: 2}, want{seqs: []uint64{1, 3}, more: true})
	check("bytes limit", nil, version, room.Limit{Bytes: 1}, want{seqs: []uint64{1}, more: true})
	check("limit not reached", nil, version, room.Limit{Changes: 3}, want{seqs: []uint64{1, 2, 3}})

	// Retention drops entries 1 and 2 (a snapshot covers them).
	if err := st.PutSnapshot(ctx, board, 3, []byte("snap")); err != nil {
		t.Fatal(err)
	}
	if err := st.TrimOps(ctx, board, 3); err != nil {
		t.Fatal(err)
	}
	check("trimmed", nil, version, room.Limit{}, want{trimmed: true})
	check("past the trim", crdt.VersionVector{1: 7, 2: 4}, version, room.Limit{}, want{seqs: []uint64{3}})
}
