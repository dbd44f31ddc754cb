package node_test

import (
	"encoding/json"
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
		// It says when the day ends, a day after its first bytes (the
		// clock has not moved): a client told only "later" sent the
		// batch again every second or two, for up to a day.
		var e protocol.Error
		if err := json.Unmarshal(data, &e); err != nil || e.RetryAfter != 24*60*60 {
			t.Fatalf("past the day's bytes: %s; want retryAfter %d (s)", data, 24*60*60)
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
	clk.advance(time.Hour)
	res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", body, nil)
	wantError(t, "a REST write past the day's bytes", res, 429, "rate_limited")
	if got := res.header.Get("Retry-After"); got != "82800" {
		t.Fatalf("a REST write past the day's bytes, an hour on: Retry-After %q, want 82800 (23 h)", got)
	}

	clk.advance(23*time.Hour + time.Second) // the next day
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
	res := tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil)
	wantError(t, "an import past the day's bytes", res, 429, "rate_limited")
	if got := res.header.Get("Retry-After"); got != "86400" {
		t.Fatalf("an import past the day's bytes: Retry-After %q, want 86400", got)
	}
	clk.advance(24*time.Hour + time.Second) // the next day
	if res := tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil); res.status != 201 {
		t.Fatalf("an import the next day: %d %s", res.status, res.body)
	}
	wantError(t, "a second import past the day's bytes", tn.do("POST", "/v1/boards/import", "", "application/json", file.body, nil), 429, "rate_limited")

	// A file of more than a whole day's bytes can never be taken: 413, not
	// a 429 that says to try again tomorrow.
	clk.advance(24*time.Hour + time.Second)
	r.expectAck(r.send(change(rep, 3, setOp(elem(1), "title", crdt.String(strings.Repeat("y", 40_000))))))
	big := tn.do("GET", "/v1/boards/"+b.Board.ID+"/export", b.Token, "", nil, nil)
	clk.advance(24*time.Hour + time.Second)
	res = tn.do("POST", "/v1/boards/import", "", "application/json", big.body, nil)
	wantError(t, "an import of more than a day's bytes", res, 413, "too_large")
	if res.header.Get("Retry-After") != "" {
		t.Fatalf("an import that can never fit says to retry: Retry-After %q", res.header.Get("Retry-After"))
	}
}

// TestChangeBytesRefusedNotCharged: a batch refused before the room takes
// it (too many new replica ids from the address), or a REST write the
// room refuses (the board's history past its bound), is not stored; the
// client sends it again. Counted at every sending, such refusals spent
// the day's bytes of changes of the address, and of everyone behind it,
// on nothing: they are given back.
func TestChangeBytesRefusedNotCharged(t *testing.T) {
	const quota = 64 << 10
	t.Run("websocket", func(t *testing.T) {
		tn := startNode(t, func(c *node.Config) { c.Quotas.ChangeBytesPerDay = quota; c.HTTP.ReplicaClaimsPerIP = 1 })
		b := tn.createBoard(`{"name":"open"}`)
		u := tn.wsURL(b.Board.ID, tokenOf(t, b.Links["editor"]))
		rep := crdt.ReplicaID(0x7400)
		r := rawJoin(t, u, rep, nil)
		r.expectAck(r.send(change(rep, 1, createOp(elem(1)))))
		other := crdt.ReplicaID(0x7401)
		r2 := rawJoin(t, u, other, nil)
		big := change(other, 1, setOp(elem(1), "alt", crdt.String(strings.Repeat("z", 20_000))))
		for range 4 { // 80 KB, every time refused for the address's claims
			r2.send(big)
			if e := r2.expectError(protocol.CodeRateLimited); !strings.Contains(e.Message, "replica") {
				t.Fatalf("a new replica id past the address's claims: %+v", e)
			}
		}
		r.expectAck(r.send(change(rep, 2, setOp(elem(1), "alt", crdt.String(strings.Repeat("a", 40_000))))))
	})
	t.Run("rest", func(t *testing.T) {
		tn := startNode(t, func(c *node.Config) { c.Quotas.ChangeBytesPerDay = quota; c.Room.MaxLogBytes = 30 << 10 })
		b := tn.createBoard(`{"name":"full"}`)
		editor := tokenOf(t, b.Links["editor"])
		note := func(n int) []byte { return []byte(`{"kind":"note","text":"` + strings.Repeat("y", n) + `"}`) }
		if res := tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", note(31_000), nil); res.status != 201 {
			t.Fatalf("a write that fills the board's history: %d %s", res.status, res.body)
		}
		for range 4 { // 32 KB, every time refused for the board's history
			wantError(t, "a REST write past the board's history", tn.do("POST", "/v1/boards/"+b.Board.ID+"/elements", editor, "application/json", note(8_000), nil), 413, "too_large")
		}
		// What was stored (some 31 KB) leaves room for 30 KB on another board.
		b2 := tn.createBoard(`{"name":"another"}`)
		if res := tn.do("POST", "/v1/boards/"+b2.Board.ID+"/elements", tokenOf(t, b2.Links["editor"]), "application/json", note(30_000), nil); res.status != 201 {
			t.Fatalf("a write within the day's bytes once refusals are not counted: %d %s", res.status, res.body)
		}
	})
}
