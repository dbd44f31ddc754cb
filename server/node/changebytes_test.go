package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestChangeBytesPerDay: every board's history has a bound, but anyone
// may create 20 boards an hour and fill each: one address could write
// hundreds of gigabytes a day to the node's disk. The bytes of changes
// one address sends are counted for the day, over the WebSocket and the
// write API together: past them, a batch is refused with rate_limited
// (its seq set; nothing stored, the connection open) and a REST write
// with 429; the next day the address writes again.
func TestChangeBytesPerDay(t *testing.T) {
	const quota = 64 << 10
	clk := newFakeClock()
	tn := startNode(t, func(c *node.Config) { c.Now = clk.Now; c.Quotas.ChangeBytesPerDay = quota })
	b := tn.createBoard(`{"name":"bytes"}`)
	editor := tokenOf(t, b.Links["editor"])
	rep := crdt.ReplicaID(0x6100)
	r := rawJoin(t, tn.wsURL(b.Board.ID, editor), rep, nil)
	big := crdt.String(strings.Repeat("z", 4000))
	r.expectAck(r.send(change(rep, 1, crdt.Op{Type: crdt.OpCreate, Element: elem(1), Key: "image"})))
	ctr := uint64(2)
	acked := 0
	for {
		seq := r.send(change(rep, ctr, setOp(elem(1), "alt", big)))
		typ, data, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		if typ == protocol.TypeAck {
			acked++
			ctr++
			if acked > quota/4000 {
				t.Fatalf("%d changes of 4000 bytes taken within a day's %d bytes", acked, quota)
			}
			continue
		}
		if typ != protocol.TypeError || !strings.Contains(string(data), `"rate_limited"`) || !strings.Contains(string(data), "bytes of changes") || !strings.Contains(string(data), fmt.Sprintf(`"seq":%d`, seq)) {
			t.Fatalf("past the day's bytes: %s %s; want rate_limited for batch %d", typ, data, seq)
		}
		break
	}
	if acked < quota/4000-2 {
		t.Fatalf("only %d changes of 4000 bytes taken within a day's %d bytes", acked, quota)
	}
	r.ping() // still open
	_, ops := tn.ops(b.Board.ID, b.Token)
	if len(ops) != acked+1 {
		t.Fatalf("%d changes stored, want the %d acked", len(ops), acked+1)
	}
	// The write API counts against the same address.
	body := []byte(`{"kind":"note","text":"` + strings.Repeat("y", 4000) + `"}`)
	wantError(t, "a REST write past the day's bytes", tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", body, nil), 429, "rate_limited")

	clk.advance(24*time.Hour + time.Second) // the next day
	r.expectAck(r.send(change(rep, ctr, setOp(elem(1), "alt", big))))
	if res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", body, nil); res.status != 201 {
		t.Fatalf("a REST write the next day: %d %s", res.status, res.body)
	}
}

// TestChangeBytesPerDayImport: a board file (POST /v1/boards/import)
// stores its changes past the room, as many as its 64 MiB body holds, on
// every board an address may create (20 an hour). They count against
// the address's day of change bytes as the same changes sent over a
// WebSocket do: uncounted, an address spent its day's bytes on changes
// and went on writing gigabytes an hour through imports.
func TestChangeBytesPerDayImport(t *testing.T) {
	const quota = 64 << 10
	clk := newFakeClock()
	tn := startNode(t, func(c *node.Config) { c.Now = clk.Now; c.Quotas.ChangeBytesPerDay = quota })
	b := tn.createBoard(`{"name":"bytes"}`)
	rep := crdt.ReplicaID(0x6200)
	r := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), rep, nil)
	r.expectAck(r.send(change(rep, 1, crdt.Op{Type: crdt.OpCreate, Element: elem(1), Key: "image"})))
	r.expectAck(r.send(change(rep, 2, setOp(elem(1), "alt", crdt.String(strings.Repeat("z", 40_000))))))
	file := tn.do("GET", "/v1/boards/"+b.Board.ID+"/export", b.Token, "", nil, nil)
	if file.status != 200 {
		t.Fatalf("export: %d %s", file.status, file.body)
	}
	// 40 KB sent, 40 KB more in the file: past the day's 64 KiB.
	wantError(t, "an import past the day's bytes", tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil), 429, "rate_limited")
	clk.advance(24*time.Hour + time.Second) // the next day
	if res := tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil); res.status != 201 {
		t.Fatalf("an import the next day: %d %s", res.status, res.body)
	}
	wantError(t, "a second import past the day's bytes", tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil), 429, "rate_limited")
}
