package node_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestAttackCatchupBytes: a join read the changes a client lacks, and the
// log after a stored snapshot, into the room's memory bounded only by
// their count (2000 changes; SnapshotEvery between snapshots), and any of
// them may be a message's size: an editor who filled a board with big
// changes made every later join read gigabytes (a JSON session: the whole
// log). Now past 16 MiB a client with a version gets a snapshot instead
// of the changes, JSON sessions included, and a first visit gets a
// snapshot stored anew instead of the old one with 18 MB of log after it.
func TestAttackCatchupBytes(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.Room.SnapshotEvery = 50 })
	b := tn.createBoard(`{"name":"heavy"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	w := rawJoin(t, u, 1, nil)
	a := newAuthor(1)
	for i := 1; i <= 50; i++ { // a snapshot is stored after the 50th
		w.expectAck(w.send(a.note(t, elem(i), "small")))
	}
	before := rawJoin(t, u, 2, nil).welcome.Version
	big := strings.Repeat("x", 900_000)
	const heavy = 20 // 18 MB of log after the snapshot
	for i := 1; i <= heavy; i++ {
		id := elem(1000 + i)
		w.expectAck(w.send(a.edit(t, func(tx *crdt.Tx) error {
			if err := tx.Create(id, "note"); err != nil {
				return err
			}
			return tx.Set(id, "pad", crdt.String(big))
		})))
	}
	behind := rawJoin(t, u, 3, before).welcome
	if behind.Catchup != "snapshot" {
		t.Errorf("a client %d changes of 900 kB behind: catch-up %q with %d changes, want a snapshot", heavy, behind.Catchup, behind.Changes)
	}
	// A JSON session got every change, however many bytes: a snapshot
	// too, as when the log is trimmed.
	js := rawOpen(t, u, 6)
	js.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 6, Version: before, Format: protocol.FormatJSON, FarView: 1})
	var jw protocol.Welcome
	var jtypes []string
	js.until(func(typ string, data []byte) bool {
		if typ == protocol.TypeWelcome {
			if err := json.Unmarshal(data, &jw); err != nil {
				t.Fatal(err)
			}
		}
		jtypes = append(jtypes, typ)
		return typ == protocol.TypeSynced
	})
	if jw.Catchup != "snapshot" || slices.Contains(jtypes, "binary:0x4") {
		t.Errorf("a JSON session %d changes of 900 kB behind: catch-up %q with %d changes (frames %v), want a snapshot and no far view", heavy, jw.Catchup, jw.Changes, jtypes)
	}
	first := rawJoin(t, u, 4, nil).welcome
	if first.Catchup != "snapshot" || first.Changes != 0 {
		t.Errorf("a first visit: catch-up %q with %d changes after it, want a snapshot stored anew and none", first.Catchup, first.Changes)
	}
	// Small catch-ups are as before: changes.
	w.expectAck(w.send(a.note(t, elem(2000), "late")))
	v := first.Version.Clone()
	if got := rawJoin(t, u, 5, v).welcome; got.Catchup != "ops" || got.Changes != 1 {
		t.Errorf("a client one change behind: catch-up %q with %d changes, want ops with 1", got.Catchup, got.Changes)
	}
}
