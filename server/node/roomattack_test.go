package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Attacks on the room and the sync protocol (issue 10, findings 8 and 14,
// and panics), each against a real node over real WebSockets.

// startPebbleNode starts a node on a Pebble store the test opens itself,
// so it can read what was stored and start a second node on it.
func startPebbleNode(t *testing.T, dir string, mod func(*node.Config)) (*testNode, *storage.Pebble) {
	t.Helper()
	st, err := storage.OpenPebble(dir, storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the node's own cleanup (LIFO)
	tn := startNode(t, func(c *node.Config) {
		c.Store = st
		if mod != nil {
			mod(c)
		}
	})
	return tn, st
}

// answer reads until the answer to batch seq: its ack or its error frame.
func (r *rawConn) answer(seq uint64) (*protocol.Ack, *protocol.Error) {
	r.t.Helper()
	var ack *protocol.Ack
	var e *protocol.Error
	r.until(func(typ string, data []byte) bool {
		switch typ {
		case protocol.TypeAck:
			ack = &protocol.Ack{}
			json.Unmarshal(data, ack)
		case protocol.TypeError:
			e = &protocol.Error{}
			json.Unmarshal(data, e)
		default:
			return false
		}
		return true
	})
	if ack != nil && ack.Seq != seq || e != nil && e.Seq != seq {
		r.t.Fatalf("answer to %d: ack %+v error %+v", seq, ack, e)
	}
	return ack, e
}

func lastSeq(t *testing.T, st storage.Store, board string) uint64 {
	t.Helper()
	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := st.LastSeq(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestAttackHeldBytesBounded: guests send changes with a counter gap (held
// forever) of 900 KiB each. Each replica gets two held (2 MiB per replica),
// the board nine (8 MiB); past that every one is refused with rate_limited and
// nothing is stored. After a restart an anonymous GET /ops reads and sends
// none of them.
func TestAttackHeldBytesBounded(t *testing.T) {
	dir := t.TempDir()
	tn, st := startPebbleNode(t, dir, nil)
	b := tn.createBoard(`{"name":"held"}`)
	owner := newAuthor(crdt.ReplicaID(0x0e1d))
	oc := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), owner.rep, nil)
	note := elem(1)
	oc.expectAck(oc.send(owner.note(t, note, "hi")))

	// A replica with one change applied and one held behind a gap: /ops
	// must not answer the held one (it is not part of the version).
	gapRep := crdt.ReplicaID(0x9a9)
	gc := rawJoin(t, tn.wsURL(b.Board.ID, ""), gapRep, nil)
	if ack := gc.expectAck(gc.send(change(gapRep, 1, setOp(note, "x", crdt.Number(1))))); ack.Applied != 1 {
		t.Fatalf("ack %+v", ack)
	}
	if ack := gc.expectAck(gc.send(change(gapRep, 3, setOp(note, "x", crdt.Number(3))))); ack.Held != 1 {
		t.Fatalf("ack %+v, want held", ack)
	}

	big := crdt.String(strings.Repeat("h", 900<<10))
	size := crdt.HeldSize(&crdt.Change{Ops: []crdt.Op{setOp(note, "junk", big)}})
	const boardCap, replicaCap = 8 << 20, 2 << 20
	held, attackers, conns := 0, []crdt.ReplicaID{}, []*rawConn{oc, gc}
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatal("the board never stopped holding changes")
		}
		rep := crdt.ReplicaID(0xa000 + i)
		attackers = append(attackers, rep)
		c := rawJoin(t, tn.wsURL(b.Board.ID, ""), rep, nil) // a guest each
		conns = append(conns, c)
		mine := 0
		for k := uint64(2); ; k++ { // counter 1 never comes: held forever
			before := lastSeq(t, st, b.Board.ID)
			ack, e := c.answer(c.send(change(rep, k, setOp(note, "junk", big))))
			if ack != nil {
				if ack.Held != 1 {
					t.Fatalf("ack %+v, want held", ack)
				}
				mine++
				held++
				continue
			}
			if e.Code != protocol.CodeRateLimited || e.Accepted != 0 || !strings.Contains(e.Message, "waiting for dependencies") {
				t.Fatalf("refusal %+v, want rate_limited about held changes", e)
			}
			if after := lastSeq(t, st, b.Board.ID); after != before {
				t.Fatalf("refused change stored: log %d -> %d", before, after)
			}
			break
		}
		if mine > replicaCap/size {
			t.Fatalf("replica %v got %d held, over %d bytes", rep, mine, replicaCap)
		}
		if mine == 0 {
			break // the board is full
		}
	}
	if held > boardCap/size || held < boardCap/size-1 {
		t.Fatalf("%d changes of %d bytes held, want the board's %d bytes' worth", held, size, boardCap)
	}
	// What the store holds of them is exactly what was acked.
	id, _ := storage.ParseBoardID(b.Board.ID)
	stored, storedBytes := 0, 0
	for _, rep := range attackers {
		st.ScanReplica(context.Background(), id, uint64(rep), 1, func(rec storage.Record) error {
			stored++
			storedBytes += len(rec.Data)
			return nil
		})
	}
	if stored != held || storedBytes > boardCap {
		t.Fatalf("%d held records (%d bytes) stored, want %d within %d bytes", stored, storedBytes, held, boardCap)
	}
	// Editing goes on.
	oc.expectAck(oc.send(owner.edit(t, func(tx *crdt.Tx) error { return tx.Set(note, "x", crdt.Number(5)) })))

	// Restart: an anonymous /ops loads the board and answers the changes
	// of its version, none of the held ones.
	for _, c := range conns {
		c.c.CloseNow() // they read nothing: the node would wait on their full sockets
	}
	if err := tn.stop(); err != nil {
		t.Fatal(err)
	}
	tn2 := startNode(t, func(c *node.Config) { c.Store = st })
	code, body := tn2.get("/v1/boards/" + b.Board.ID + "/ops")
	if code != 200 {
		t.Fatalf("/ops after restart: %d %s", code, body)
	}
	if len(body) > 64<<10 {
		t.Fatalf("/ops answered %d bytes", len(body))
	}
	version, entries := tn2.ops(b.Board.ID, b.Token)
	for _, e := range entries {
		if e.Replica != owner.rep && e.Replica != gapRep || e.End() > version[e.Replica] {
			t.Fatalf("/ops returned %v@%d..%d beyond version %v", e.Replica, e.Start, e.End(), version)
		}
	}
	if len(entries) != 3 || version[gapRep] != 1 {
		t.Fatalf("/ops returned %d changes (version %v), want the owner's 2 and %v@1", len(entries), version, gapRep)
	}
	// The held changes are still refused past the limits after the load.
	c := rawJoin(t, tn2.wsURL(b.Board.ID, ""), 0xb000, nil)
	if _, e := c.answer(c.send(change(0xb000, 2, setOp(note, "junk", big)))); e == nil || e.Code != protocol.CodeRateLimited {
		t.Fatalf("after reload: %+v, want rate_limited", e)
	}
}

// TestAttackPresenceInvalidUTF8: presence data with invalid UTF-8 is
// refused (malformed) and reaches no one: not the other sessions, not a
// newcomer's welcome. Valid presence still flows.
func TestAttackPresenceInvalidUTF8(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"presence"}`)
	victim := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 0x71c, nil)
	attacker := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0xbad, nil)
	stateBefore := tn.state(b.Board.ID, b.Token)

	for _, bad := range []string{
		"{\"type\":\"presence\",\"data\":{\"k\":\"\xff\xfe\"}}",
		"{\"type\":\"presence\",\"data\":{\"\xc3\":1}}",
		"{\"type\":\"presence\",\"data\":\"\xed\xa0\x80\"}", // a UTF-16 surrogate, as UTF-8 bytes
	} {
		attacker.write(websocket.MessageText, []byte(bad))
		if e := attacker.expectError(protocol.CodeMalformed); !strings.Contains(e.Message, "UTF-8") {
			t.Fatalf("refusal %q does not say why", e.Message)
		}
	}
	// A newcomer's welcome lists the attacker's presence: valid UTF-8.
	newcomer := rawOpen(t, tn.wsURL(b.Board.ID, b.Token), 0x2ee)
	newcomer.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: 0x2ee, Version: crdt.VersionVector{}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, welcome, err := newcomer.c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(welcome) || !bytes.Contains(welcome, []byte(`"type":"welcome"`)) {
		t.Fatalf("welcome %q is not valid UTF-8", welcome)
	}
	// Valid presence still goes through; nothing before it was invalid.
	attacker.writeJSON(map[string]any{"type": "presence", "data": map[string]string{"k": "ok é"}})
	for {
		typ, data, err := victim.c.Read(ctx)
		if err != nil {
			t.Fatalf("victim: %v", err)
		}
		if typ == websocket.MessageText && !utf8.Valid(data) {
			t.Fatalf("victim got invalid UTF-8: %q", data)
		}
		if bytes.Contains(data, []byte(`"k":"ok é"`)) {
			break
		}
	}
	victim.ping()
	if !bytes.Equal(stateBefore, tn.state(b.Board.ID, b.Token)) {
		t.Fatal("state changed")
	}
}

// rawValueFrame is a binary ops frame of one change of rep setting el's key
// to the integer value n written in form 0x04, whatever its size.
func rawValueFrame(t *testing.T, seq uint64, rep crdt.ReplicaID, start uint64, el crdt.ElementID, key string, n int64) []byte {
	t.Helper()
	c := change(rep, start, setOp(el, key, crdt.Number(1)))
	b := c.AppendBinary(nil)
	if !bytes.HasSuffix(b, []byte{4, 2}) { // integer form, zigzag 1
		t.Fatalf("change encodes as % x, want the value 04 02 last", b)
	}
	b = binary.AppendVarint(append(b[:len(b)-2:len(b)-2], 4), n)
	f := binary.AppendUvarint([]byte{protocol.TagOps}, seq)
	f = binary.AppendUvarint(f, 1)
	f = binary.AppendUvarint(f, uint64(len(b)))
	return append(f, b...)
}

// TestAttackUnsafeIntegers: a binary integer of 2^53 or more would be
// rounded by the node while the sender keeps the exact value: refused as
// malformed (PROTOCOL 5.4), nothing stored; 2^53-1 is stored exactly.
func TestAttackUnsafeIntegers(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"ints"}`)
	owner := newAuthor(0x1e7)
	oc := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), owner.rep, nil)
	note := elem(1)
	oc.expectAck(oc.send(owner.note(t, note, "n")))
	before := tn.state(b.Board.ID, b.Token)
	c := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0x1e8, nil)
	for _, n := range []int64{1<<53 + 1, 1 << 53, -(1<<53 + 1), 1<<63 - 1} {
		c.seq++
		c.write(websocket.MessageBinary, rawValueFrame(t, c.seq, c.rep, 1, note, "x", n))
		if e := c.expectError(protocol.CodeMalformed); e.Seq != c.seq || !strings.Contains(e.Message, "2^53") {
			t.Fatalf("%d: refusal %+v", n, e)
		}
	}
	if after := tn.state(b.Board.ID, b.Token); !bytes.Equal(before, after) {
		t.Fatalf("state changed:\n%s\n%s", before, after)
	}
	c.seq++
	c.write(websocket.MessageBinary, rawValueFrame(t, c.seq, c.rep, 1, note, "x", 1<<53-1))
	if ack := c.expectAck(c.seq); ack.Applied != 1 {
		t.Fatalf("ack %+v", ack)
	}
	var st struct {
		Elements []struct {
			Props map[string]float64 `json:"props"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(tn.state(b.Board.ID, b.Token), &st); err != nil || len(st.Elements) != 1 || st.Elements[0].Props["x"] != 1<<53-1 {
		t.Fatalf("2^53-1 not stored exactly: %+v %v", st, err)
	}
}

// TestAttackColours: colour properties outside SCHEMA.md's forms (CSS that
// a client might paint as is, or megabytes of text) are refused as schema.
func TestAttackColours(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"colours"}`)
	owner := newAuthor(0xc01)
	oc := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), owner.rep, nil)
	note, shape := elem(1), elem(2)
	oc.expectAck(oc.send(owner.note(t, note, "n"), owner.edit(t, func(tx *crdt.Tx) error { return tx.Create(shape, "shape") })))
	before := tn.state(b.Board.ID, b.Token)
	c := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0xc02, nil)
	for _, op := range []crdt.Op{
		setOp(note, "color", crdt.String("red;background:url(https://evil.example/)")),
		setOp(note, "color", crdt.String("javascript:alert(1)")),
		setOp(shape, "fill", crdt.String("rgb(0,0,0)")),
		setOp(shape, "stroke", crdt.String(strings.Repeat("#", 100<<10))),
		setOp(shape, "stroke", crdt.String("")),
	} {
		c.send(change(c.rep, 1, op))
		if e := c.expectError(protocol.CodeSchema); !strings.Contains(e.Message, "#rrggbb") {
			t.Fatalf("refusal %q does not say what a colour is", e.Message)
		}
	}
	if after := tn.state(b.Board.ID, b.Token); !bytes.Equal(before, after) {
		t.Fatal("state changed")
	}
	if ack := c.expectAck(c.send(change(c.rep, 1, setOp(note, "color", crdt.String("#FFCC0080")), setOp(shape, "fill", crdt.String("pink"))))); ack.Applied != 1 {
		t.Fatalf("ack %+v", ack)
	}
}

// TestAttackHelloColour: a guest's hello colour is shown in everyone
// else's page (avatars, cursors, the followed peer's frame), so CSS in it
// ("red;scale:99" made an avatar cover the board for everyone present)
// never reaches a welcome or a peer: the node drops it and picks one.
func TestAttackHelloColour(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"hello colours"}`)
	watcher, err := client.Dial(ctx10(t), client.Options{URL: tn.wsURL(b.Board.ID, ""), Replica: 0xc11, Name: "w", Color: "#1c7ed6"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.CloseNow() })
	for i, bad := range []string{"red;scale:99", "#e8590c;position:fixed", "url(https://evil.example/)", "#12345", "#1234567"} {
		c, err := client.Dial(ctx10(t), client.Options{URL: tn.wsURL(b.Board.ID, ""), Replica: crdt.ReplicaID(0xc20 + i), Name: "x", Color: bad})
		if err != nil {
			t.Fatal(err)
		}
		got := c.Welcome().User.Color
		if account.CheckColor(got) != nil || got == "" {
			t.Fatalf("hello colour %q: welcome colour %q, want a #rrggbb the node picked", bad, got)
		}
		sess := c.Welcome().Session
		waitClient(t, watcher, func() bool {
			for _, p := range watcher.Peers() {
				if p.Session == sess {
					return p.Color == got
				}
			}
			return false
		})
		c.CloseNow()
	}
}

// TestAttackOpFlood: changes per second were bounded, their ops not: one
// connection could send 2,000 changes of 65,536 ops a second for its
// board's room to check and apply. Past the ops burst, a batch is refused
// as rate_limited (with its seq: resend later), the clock standing still
// so that nothing refills.
func TestAttackOpFlood(t *testing.T) {
	at := time.UnixMilli(1_900_000_000_000)
	tn := startNode(t, func(c *node.Config) { c.Now = func() time.Time { return at } })
	b := tn.createBoard(`{"name":"op flood"}`)
	a := newAuthor(0xf10)
	c := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), a.rep, nil)
	note := elem(1)
	first := a.note(t, note, "n")
	c.expectAck(c.send(first))
	start := first.End() + 1
	many := func(n int) crdt.Change {
		ops := make([]crdt.Op, n)
		for i := range ops {
			ops[i] = setOp(note, "x", crdt.Number(float64(i)))
		}
		ch := change(a.rep, start, ops...)
		start += uint64(len(ops))
		return ch
	}
	// The burst, 2 × protocol.MaxFrameOps, less the note's ops: two frames.
	for i, last := range []int{crdt.MaxOps, crdt.MaxOps - len(first.Ops)} {
		if ack := c.expectAck(c.send(many(crdt.MaxOps), many(last))); ack.Applied != 2 {
			t.Fatalf("frame %d: ack %+v", i, ack)
		}
	}
	seq := c.send(change(a.rep, start, setOp(note, "x", crdt.Number(-1))))
	e := c.expectError(protocol.CodeRateLimited)
	if e.Seq != seq || !strings.Contains(e.Message, "ops per second") {
		t.Fatalf("refusal %+v, want seq %d and ops per second", e, seq)
	}
}

// metric returns the value of one series of the node's /metrics.
func (tn *testNode) metric(series string) string {
	tn.t.Helper()
	_, body := tn.get("/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestPanicInReaderClosesOneConnection: a panic while a connection's
// message is handled closes that connection with 4001; the node, the
// board and the other connections go on.
func TestPanicInReaderClosesOneConnection(t *testing.T) {
	restore := node.SetReadHook(func(data []byte) {
		if bytes.Contains(data, []byte(`"n":666`)) {
			panic("injected reader panic")
		}
	})
	defer restore()
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"reader panic"}`)
	owner := newAuthor(0xd01)
	oc := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), owner.rep, nil)
	oc.expectAck(oc.send(owner.note(t, elem(1), "before")))
	victim := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0xd02, nil)
	victim.writeJSON(protocol.Ping{Type: protocol.TypePing, N: 666})
	victim.expectClose(protocol.CloseRetry)
	// The owner's connection still works, and the board still takes edits.
	oc.ping()
	oc.expectAck(oc.send(owner.edit(t, func(tx *crdt.Tx) error { return tx.Set(elem(1), "x", crdt.Number(3)) })))
	// The victim may reconnect.
	again := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0xd03, nil)
	again.ping()
	if v := tn.metric(`corkboard_panics_total{where="conn"}`); v != "1" {
		t.Fatalf("conn panics metric %q, want 1", v)
	}
	if code, _ := tn.get("/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

// TestPanicInRoomReloadsBoard: a panic on a board's room goroutine drops
// that room only: its sessions are closed with 4001, other boards carry
// on, and the board reloads from the store with every acked change.
func TestPanicInRoomReloadsBoard(t *testing.T) {
	var target atomic.Pointer[storage.BoardID]
	tn, _ := startPebbleNode(t, t.TempDir(), func(c *node.Config) {
		c.Room.BeforeHandle = func(board storage.BoardID) {
			if p := target.Load(); p != nil && *p == board && target.CompareAndSwap(p, nil) {
				panic("injected room panic")
			}
		}
	})
	ba := tn.createBoard(`{"name":"a"}`)
	bb := tn.createBoard(`{"name":"b"}`)
	ida, _ := storage.ParseBoardID(ba.Board.ID)
	author := newAuthor(0xe01)
	ca := rawJoin(t, tn.wsURL(ba.Board.ID, ba.Token), author.rep, nil)
	watcher := rawJoin(t, tn.wsURL(ba.Board.ID, ba.Token), 0xe02, nil)
	var acked []crdt.Change
	for i := range 5 {
		ch := author.note(t, elem(i+1), "acked")
		ca.expectAck(ca.send(ch))
		acked = append(acked, ch)
	}
	other := newAuthor(0xe03)
	cb := rawJoin(t, tn.wsURL(bb.Board.ID, bb.Token), other.rep, nil)
	cb.expectAck(cb.send(other.note(t, elem(1), "other board")))
	want := tn.state(ba.Board.ID, ba.Token)

	target.Store(&ida)
	lost := author.note(t, elem(9), "not acked")
	ca.send(lost) // the room panics on it
	ca.expectClose(protocol.CloseRetry)
	watcher.expectClose(protocol.CloseRetry)

	// Board b never noticed.
	cb.expectAck(cb.send(other.edit(t, func(tx *crdt.Tx) error { return tx.Set(elem(1), "x", crdt.Number(1)) })))
	// Board a reloads from the store with every acked change.
	if got := tn.state(ba.Board.ID, ba.Token); !bytes.Equal(got, want) {
		t.Fatalf("after the panic the board is\n%s\nwant\n%s", got, want)
	}
	// The client reconnects and resends its outbox: taken once.
	ca = rawJoin(t, tn.wsURL(ba.Board.ID, ba.Token), author.rep, author.d.Version())
	ack := ca.expectAck(ca.send(append(acked, lost)...))
	if ack.Duplicate != 5 || ack.Applied != 1 {
		t.Fatalf("resend: ack %+v, want 5 duplicates and 1 applied", ack)
	}
	if v := tn.metric(`corkboard_panics_total{where="room"}`); v != "1" {
		t.Fatalf("room panics metric %q, want 1", v)
	}
	checkOpsOnce(t, tn, ba.Board.ID, ba.Token)
}

// TestPanicInHelloClosesOneConnection: a panic while a connection is being
// opened (its hello) closes that connection with 4001 and releases it: the
// node goes on, and still shuts down cleanly (the connection is not left
// counted as open).
func TestPanicInHelloClosesOneConnection(t *testing.T) {
	restore := node.SetReadHook(func(data []byte) {
		if bytes.Contains(data, []byte(`"name":"boom"`)) {
			panic("injected hello panic")
		}
	})
	defer restore()
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"hello panic"}`)
	c, _, err := wsDial(t, tn.wsURL(b.Board.ID, ""), nil, protocol.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	hello := protocol.JSON(map[string]any{"type": "hello", "replica": 0xd11, "name": "boom"})
	if err := c.Write(context.Background(), websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	if st := protocol.CloseCode(websocket.CloseStatus(err)); st != protocol.CloseRetry {
		t.Fatalf("close status %d (%v), want %d", st, err, protocol.CloseRetry)
	}
	rawJoin(t, tn.wsURL(b.Board.ID, ""), 0xd12, nil).ping()
	if v := tn.metric(`corkboard_panics_total{where="conn"}`); v != "1" {
		t.Fatalf("conn panics metric %q, want 1", v)
	}
	if err := tn.stop(); err != nil {
		t.Fatalf("shutdown after a panic in a hello: %v", err)
	}
}
