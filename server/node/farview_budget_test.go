package node_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestAttackFarViewReconnectLoop: anonymous on a big public board that
// changes (its own edits or anyone's), a client reconnecting after every
// change asked the room to encode the whole board twice per visit — the
// far-view summary and a fresh snapshot (the board had none stored) —
// outside the board's whole-board read budget, which bounds every REST
// read of the whole document. Now both are charged to that budget (the
// node's clock is fake: nothing refills it): once it is spent, visits get
// no far view (they wait for the snapshot, as without one), the snapshot
// is stored once and later visits read it and its tail from the log.
// Visits spend half the budget at most: the REST calls keep the rest.
func TestAttackFarViewReconnectLoop(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "big", "access": "members"}))
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"access": "public", "publicRole": "viewer"})
	oc := e.dial(board, owner, 0x9600)
	// 25,000 notes in a few changes: no snapshot stored (1000 changes
	// make one). A visit's encodes cost 2 × 25,000 of the budget's
	// 250,000 units.
	const batches, perBatch = 5, 5000
	for b := range batches {
		mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error {
			for i := range perBatch {
				if err := noteTx(newID(fmt.Sprintf("b%d-%d", b, i)), "n")(tx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const rounds = 12
	farViews, last := visitLoop(t, e, board, oc, rounds, batches*perBatch)
	t.Logf("%d visits of a board of %d elements, each after a change: %d far views; the last visit's frames %v", rounds, batches*perBatch, farViews, last)
	if farViews == 0 || farViews >= rounds {
		t.Errorf("%d far views in %d visits after changes: want the first few only, within the board's read budget", farViews, rounds)
	}
	if slices.Contains(last, "binary:0x4") || !slices.Contains(last, "binary:0x2") {
		t.Errorf("the last visit's frames %v: want no far view, and the stored snapshot followed by the log after it", last)
	}
	// Visits stop at half the budget: the REST reads and writes of the
	// board keep the rest.
	if code, _ := e.call("GET", "/v1/boards/"+board+"/state", "", nil); code != 200 {
		t.Errorf("GET /state after the loop: %d; want 200: visits leave the REST calls half the board's budget", code)
	}
}

// visitLoop makes rounds of a change by oc then a first visit by an
// anonymous client asking for the far view, checking that each visit's
// catch-up brings the board as it is; it returns how many visits got a
// far view and the last visit's frames.
func visitLoop(t *testing.T, e *asyncEnv, board string, oc *client.Client, rounds, elements int) (farViews int, last []string) {
	t.Helper()
	u := e.tn.wsURL(board, "")
	for i := range rounds {
		id := newID(fmt.Sprintf("round-%d", i))
		mustEdit(t, oc, e.clk.Now(), noteTx(id, "r"))
		rep := crdt.ReplicaID(0x9700 + i)
		r := rawOpen(t, u, rep)
		r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: rep, Version: crdt.VersionVector{}, Name: "loop", FarView: 1})
		var types []string
		var d *crdt.Doc
		r.until(func(typ string, data []byte) bool {
			types = append(types, typ)
			switch typ {
			case "binary:0x3":
				var err error
				if d, err = crdt.LoadSnapshot(data[1:]); err != nil {
					t.Fatal(err)
				}
			case "binary:0x2":
				changes, err := protocol.DecodeOpsOut(data)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range changes {
					if _, _, err := d.Apply(c); err != nil {
						t.Fatal(err)
					}
				}
			}
			return typ == protocol.TypeSynced
		})
		r.c.Close(websocket.StatusNormalClosure, "")
		if d == nil || !d.Exists(id) || d.Len() != elements+i+1 {
			t.Fatalf("round %d: the catch-up %v does not bring the board as it is", i, types)
		}
		if slices.Contains(types, "binary:0x4") {
			farViews++
		}
		last = types
	}
	return farViews, last
}

// TestAttackFarViewBigConnectorEnds: a connector's ends may hold any JSON
// (up to a message's size). A board of a few such connectors cost the
// far view over half a second of parsing, and its snapshot the copy of
// every byte, each charged as a handful of elements. Now a far view does
// not parse an end over farview.MaxEndJSON, and both are charged the
// bytes they read or made: the visits of a loop soon get no far view.
func TestAttackFarViewBigConnectorEnds(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "ends", "access": "members"}))
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"access": "public", "publicRole": "viewer"})
	oc := e.dial(board, owner, 0x9600)
	// 10 connectors, each end 400 kB of JSON: a visit's far view and
	// snapshot read 2 × 8 MB, about 31,000 units each of the budget's
	// 250,000.
	const connectors = 10
	pad := strings.Repeat("x", 400_000)
	for i := range connectors {
		id := newID(fmt.Sprintf("c%d", i))
		for _, k := range []string{"from", "to"} {
			end, err := crdt.JSONValue([]byte(fmt.Sprintf(`{"x":%d,"y":0,"pad":%q}`, i, pad)))
			if err != nil {
				t.Fatal(err)
			}
			mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error {
				if k == "from" {
					if err := tx.Create(id, "connector"); err != nil {
						return err
					}
				}
				return tx.Set(id, k, end)
			})
		}
	}
	const rounds = 14
	farViews, last := visitLoop(t, e, board, oc, rounds, connectors)
	t.Logf("%d visits of a board of %d connectors with 400 kB ends, each after a change: %d far views; the last visit's frames %v", rounds, connectors, farViews, last)
	if farViews == 0 || farViews >= rounds || slices.Contains(last, "binary:0x4") {
		t.Errorf("%d far views in %d visits after changes, the last visit's frames %v: want the first few only, within the board's read budget", farViews, rounds, last)
	}
}
