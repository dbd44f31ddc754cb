package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// testNode starts a real node: Pebble in a temp dir, embedded NATS, HTTP on
// a loopback port. It is shut down at the end of the test, or by stop.
type testNode struct {
	t      testing.TB
	n      *node.Node
	base   string // http://127.0.0.1:port
	served chan error

	stopOnce sync.Once
	stopErr  error
}

func startNode(t testing.TB, mod func(*node.Config)) *testNode {
	t.Helper()
	cfg := node.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}
	if mod != nil {
		mod(&cfg)
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{t: t, n: n, base: "http://" + addr.String(), served: make(chan error, 1)}
	go func() { tn.served <- n.Serve() }()
	t.Cleanup(func() {
		if err := tn.stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return tn
}

// stop shuts the node down gracefully (once) and reports how it went.
func (tn *testNode) stop() error {
	tn.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tn.stopErr = tn.n.Shutdown(ctx)
		if err := <-tn.served; err != nil {
			tn.stopErr = errors.Join(tn.stopErr, fmt.Errorf("serve: %w", err))
		}
	})
	return tn.stopErr
}

type created struct {
	Board struct {
		ID string `json:"id"`
	} `json:"board"`
	Token string            `json:"token"`
	Links map[string]string `json:"links"`
}

func (tn *testNode) createBoard(body string) created {
	tn.t.Helper()
	resp, err := http.Post(tn.base+"/v1/boards", "application/json", strings.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		tn.t.Fatalf("create board: %s", resp.Status)
	}
	var c created
	json.NewDecoder(resp.Body).Decode(&c)
	return c
}

func (tn *testNode) wsURL(board, token string) string {
	u := "ws" + strings.TrimPrefix(tn.base, "http") + "/v1/boards/" + board + "/ws"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

func dial(t testing.TB, url string, replica crdt.ReplicaID) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: url, Replica: replica, Name: fmt.Sprintf("r%d", replica)})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func elem(i int) crdt.ElementID {
	var e crdt.ElementID
	e[0], e[15] = 0xee, byte(i)
	e[14] = byte(i >> 8)
	return e
}

func snapshotOf(c *client.Client) []byte {
	var s []byte
	c.Read(func(d *crdt.Doc) { s = d.Snapshot() })
	return s
}

func ctx10(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTwoClientsConverge(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"converge"}`)
	a := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	c := dial(t, tn.wsURL(b.Board.ID, b.Token), 2)
	ctx := ctx10(t)
	seq, err := a.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "hello")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	waitText(t, c, elem(1), "hello")
	// Both edit at once; both converge.
	s1, _ := a.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 5, " world") })
	s2, _ := c.Edit(ctx, 2000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, ">> ") })
	if err := a.WaitAck(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAck(ctx, s2); err != nil {
		t.Fatal(err)
	}
	waitText(t, a, elem(1), ">> hello world")
	waitText(t, c, elem(1), ">> hello world")
	if !bytes.Equal(snapshotOf(a), snapshotOf(c)) {
		t.Fatal("clients diverged")
	}
	// The node's state says the same.
	resp, err := http.Get(tn.base + "/v1/boards/" + b.Board.ID + "/state?token=" + b.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Elements []crdt.ElementJSON `json:"elements"`
	}
	json.NewDecoder(resp.Body).Decode(&state)
	if len(state.Elements) != 1 || state.Elements[0].Text["text"] != ">> hello world" {
		t.Fatalf("node state = %+v", state)
	}
}

func waitText(t *testing.T, c *client.Client, el crdt.ElementID, want string) {
	t.Helper()
	var got string
	err := c.WaitDoc(ctx10(t), func(d *crdt.Doc) bool { got = d.Text(el, "text"); return got == want })
	if err != nil {
		t.Fatalf("text = %q, want %q: %v", got, want, err)
	}
}

// A client edits offline — a thousand changes made on its own doc while
// disconnected, as a browser's outbox holds them — while another keeps
// editing the same note online. It reconnects, gets what it missed, sends
// its outbox, and everyone ends byte-identical, the node included.
func TestOfflineClientConverges(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"offline"}`)
	ctx := ctx10(t)
	docA := crdt.NewDoc()
	a, err := client.Dial(ctx, client.Options{URL: tn.wsURL(b.Board.ID, b.Token), Replica: 1, Name: "a", Doc: docA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.CloseNow)
	bb := dial(t, tn.wsURL(b.Board.ID, b.Token), 2)
	seq, err := a.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "base")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	waitText(t, bb, elem(1), "base")

	a.CloseNow()
	// Offline: a thousand changes on the local doc, of several kinds.
	var outbox []crdt.Change
	for i := range 1000 {
		tx := docA.Begin(1, int64(2000+i))
		var err error
		switch {
		case i%10 == 0:
			id := elem(100 + i)
			if err = tx.Create(id, "note"); err == nil {
				err = tx.Set(id, "x", crdt.Number(float64(i)))
			}
		case i%10 == 5:
			err = tx.Set(elem(1), "color", crdt.String("#00ff00"))
		case i%10 == 7 && docA.TextLen(elem(1), "text") > 10:
			err = tx.DeleteText(elem(1), "text", docA.TextLen(elem(1), "text")-3, 2)
		default:
			err = tx.InsertText(elem(1), "text", docA.TextLen(elem(1), "text"), string(rune('a'+i%26)))
		}
		c, ok := tx.Commit()
		if err != nil || !ok {
			t.Fatalf("offline edit %d: %v", i, err)
		}
		outbox = append(outbox, c)
	}
	// Meanwhile, online: two edits of the same note.
	s1, _ := bb.Edit(ctx, 2500, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "B was here: ") })
	s2, _ := bb.Edit(ctx, 2501, func(tx *crdt.Tx) error { return tx.Set(elem(1), "x", crdt.Number(42)) })
	for _, s := range []uint64{s1, s2} {
		if err := bb.WaitAck(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	if err := a.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if w := a.Welcome(); w.Catchup != "ops" || w.Changes != 2 {
		t.Fatalf("reconnect catch-up %q with %d changes, want ops with 2", w.Catchup, w.Changes)
	}
	seq, err = a.Send(ctx, outbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if n := a.Pending(); n != 0 {
		t.Fatalf("%d batches still pending", n)
	}
	var va crdt.VersionVector
	a.Read(func(d *crdt.Doc) { va = d.Version() })
	waitVersion(t, bb, va)
	var vb crdt.VersionVector
	bb.Read(func(d *crdt.Doc) { vb = d.Version() })
	if vb.Compare(va) != crdt.Equal {
		t.Fatalf("versions differ: a %v, b %v", va, vb)
	}
	if !bytes.Equal(snapshotOf(a), snapshotOf(bb)) {
		t.Fatal("clients diverged")
	}
	if got, want := tn.state(b.Board.ID, b.Token), clientJSON(t, a); !bytes.Equal(got, want) {
		t.Fatalf("node state differs from the clients'\nnode:   %.300s\nclient: %.300s", got, want)
	}
	// Both edits of the note survived.
	var text string
	a.Read(func(d *crdt.Doc) { text = d.Text(elem(1), "text") })
	if !strings.HasPrefix(text, "B was here: base") || len(text) < 500 {
		t.Fatalf("note text %q", text)
	}
	checkOpsOnce(t, tn, b.Board.ID, b.Token)
}

// The connection drops after a batch was sent and stored but before its
// ack was read: the client sends it again, and nothing is applied twice.
func TestLostAckResend(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"lost ack"}`)
	watcher := dial(t, tn.wsURL(b.Board.ID, b.Token), 2)
	ctx := ctx10(t)

	a := newAuthor(7)
	c1 := a.note(t, elem(5), "lost")
	c2 := a.edit(t, func(tx *crdt.Tx) error { return tx.Set(elem(5), "x", crdt.Number(3)) })
	c3 := a.edit(t, func(tx *crdt.Tx) error { return tx.InsertText(elem(5), "text", 4, " ack") })
	raw := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 7, nil)
	raw.send(c1, c2, c3) // never reads the ack
	// The node fans a batch out after it is durable and acked: once the
	// watcher has it, the ack is on its way.
	waitVersion(t, watcher, crdt.VersionVector{7: c3.End()})
	raw.c.CloseNow()

	// Offline, one more change; then reconnect and resend the whole outbox.
	c4 := a.edit(t, func(tx *crdt.Tx) error { return tx.InsertText(elem(5), "text", 0, "> ") })
	raw2 := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 7, a.d.Version())
	if raw2.welcome.Changes != 0 {
		t.Fatalf("reconnect sent %d changes back to their author", raw2.welcome.Changes)
	}
	ack := raw2.expectAck(raw2.send(c1, c2, c3, c4))
	if ack.Duplicate != 3 || ack.Applied != 1 || ack.Held != 0 {
		t.Fatalf("ack of the resent batch %+v, want 3 duplicates and 1 applied", ack)
	}
	// Once more, all duplicates.
	if ack := raw2.expectAck(raw2.send(c1, c2, c3, c4)); ack.Duplicate != 4 || ack.Applied != 0 {
		t.Fatalf("ack of the second resend %+v, want 4 duplicates", ack)
	}
	if recs := checkOpsOnce(t, tn, b.Board.ID, b.Token); recs[7] != 4 {
		t.Fatalf("the log holds %d records of replica 7, want 4", recs[7])
	}
	if got, want := tn.state(b.Board.ID, b.Token), docJSON(t, a.d); !bytes.Equal(got, want) {
		t.Fatalf("node state %s\nwant %s", got, want)
	}
	waitText(t, watcher, elem(5), "> lost ack")

	// The same through the client library, whose outbox resends on
	// Reconnect: the connection drops right after each send, so the ack may
	// or may not have been read, and the batch may or may not have arrived.
	docC := crdt.NewDoc()
	c, err := client.Dial(ctx, client.Options{URL: tn.wsURL(b.Board.ID, b.Token), Replica: 9, Doc: docC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseNow)
	for i := range 5 {
		if _, err := c.Edit(ctx, int64(5000+i), func(tx *crdt.Tx) error {
			return tx.InsertText(elem(5), "text", 0, fmt.Sprint(i))
		}); err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
		if err := c.Reconnect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitFor(ctx, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	waitClient(t, c, func() bool { return c.Pending() == 0 })
	checkOpsOnce(t, tn, b.Board.ID, b.Token)
	if got, want := tn.state(b.Board.ID, b.Token), clientJSON(t, c); !bytes.Equal(got, want) {
		t.Fatalf("node state %s\nwant %s", got, want)
	}
}

// A client a little behind gets the ops it lacks; a brand-new one gets a
// snapshot; all converge.
func TestCatchup(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"catch-up"}`)
	ctx := ctx10(t)
	u := tn.wsURL(b.Board.ID, b.Token)
	a := dial(t, u, 1)
	bb := dial(t, u, 2)
	if w := bb.Welcome(); w.Catchup != "ops" || w.Changes != 0 {
		t.Fatalf("first client on an empty board: catch-up %q with %d changes", w.Catchup, w.Changes)
	}
	for i := range 3 {
		seq, err := a.Edit(ctx, int64(1000+i), func(tx *crdt.Tx) error {
			if err := tx.Create(elem(i), "note"); err != nil {
				return err
			}
			return tx.InsertText(elem(i), "text", 0, fmt.Sprintf("note %d", i))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WaitAck(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	waitText(t, bb, elem(2), "note 2")

	bb.CloseNow()
	for i := range 5 {
		seq, err := a.Edit(ctx, int64(2000+i), func(tx *crdt.Tx) error {
			return tx.InsertText(elem(i%3), "text", 0, "+")
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WaitAck(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := bb.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if w := bb.Welcome(); w.Catchup != "ops" || w.Changes != 5 {
		t.Fatalf("client behind by 5 changes: catch-up %q with %d changes", w.Catchup, w.Changes)
	}
	// Reconnect returns after "synced": the catch-up is applied already.
	if !bytes.Equal(snapshotOf(a), snapshotOf(bb)) {
		t.Fatal("client that caught up differs")
	}

	c := dial(t, u, 3)
	if w := c.Welcome(); w.Catchup != "snapshot" || w.Changes != 0 {
		t.Fatalf("new client: catch-up %q with %d changes, want a snapshot", w.Catchup, w.Changes)
	}
	if !bytes.Equal(snapshotOf(a), snapshotOf(c)) {
		t.Fatal("client loaded from a snapshot differs")
	}
	// And it goes on live from there.
	seq, _ := c.Edit(ctx, 3000, func(tx *crdt.Tx) error { return tx.InsertText(elem(0), "text", 0, "C:") })
	if err := c.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	var vc crdt.VersionVector
	c.Read(func(d *crdt.Doc) { vc = d.Version() })
	waitVersion(t, a, vc)
	waitVersion(t, bb, vc)
	sa := snapshotOf(a)
	if !bytes.Equal(sa, snapshotOf(bb)) || !bytes.Equal(sa, snapshotOf(c)) {
		t.Fatal("clients diverged")
	}
	if !bytes.Equal(tn.state(b.Board.ID, b.Token), clientJSON(t, c)) {
		t.Fatal("node state differs from the clients'")
	}
}

// JSON-format clients and binary ones edit the same board and converge,
// through live ops, an ops catch-up and a snapshot.
func TestJSONClientsInteroperate(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"json"}`)
	u := tn.wsURL(b.Board.ID, b.Token)
	ctx := ctx10(t)
	bin := dial(t, u, 1)
	js, err := client.Dial(ctx, client.Options{URL: u, Replica: 2, Format: protocol.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(js.CloseNow)

	s1, err := bin.Edit(ctx, 1000, func(tx *crdt.Tx) error {
		if err := tx.Create(elem(1), "note"); err != nil {
			return err
		}
		if err := tx.Set(elem(1), "color", crdt.String("#ffcc00")); err != nil {
			return err
		}
		return tx.InsertText(elem(1), "text", 0, "binary")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bin.WaitAck(ctx, s1); err != nil {
		t.Fatal(err)
	}
	waitText(t, js, elem(1), "binary")
	s2, err := js.Edit(ctx, 1001, func(tx *crdt.Tx) error {
		if err := tx.InsertText(elem(1), "text", 6, " + json ✓"); err != nil {
			return err
		}
		if err := tx.Create(elem(2), "shape"); err != nil {
			return err
		}
		return tx.Set(elem(2), "points", crdt.Null())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := js.WaitAck(ctx, s2); err != nil {
		t.Fatal(err)
	}
	waitText(t, bin, elem(1), "binary + json ✓")

	// The JSON client catches up on ops it missed, in JSON.
	js.CloseNow()
	for i := range 3 {
		s, _ := bin.Edit(ctx, int64(2000+i), func(tx *crdt.Tx) error {
			return tx.Set(elem(2), "x", crdt.Number(float64(i)+0.25))
		})
		if err := bin.WaitAck(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := js.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if w := js.Welcome(); w.Catchup != "ops" || w.Changes != 3 {
		t.Fatalf("JSON client catch-up %q with %d changes", w.Catchup, w.Changes)
	}
	if !bytes.Equal(snapshotOf(bin), snapshotOf(js)) {
		t.Fatal("JSON client diverged after catch-up")
	}
	// A brand-new JSON client gets every change as JSON: snapshots are
	// binary, so JSON sessions never get one.
	js2, err := client.Dial(ctx, client.Options{URL: u, Replica: 3, Format: protocol.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(js2.CloseNow)
	if w := js2.Welcome(); w.Catchup != "ops" || w.Changes == 0 {
		t.Fatalf("new JSON client catch-up %q with %d changes", w.Catchup, w.Changes)
	}
	if !bytes.Equal(snapshotOf(bin), snapshotOf(js2)) {
		t.Fatal("new JSON client diverged after catch-up")
	}
	// Concurrent edits from both formats.
	s3, _ := js2.Edit(ctx, 3000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "J2 ") })
	s4, _ := bin.Edit(ctx, 3000, func(tx *crdt.Tx) error { return tx.InsertText(elem(1), "text", 0, "B ") })
	if err := js2.WaitAck(ctx, s3); err != nil {
		t.Fatal(err)
	}
	if err := bin.WaitAck(ctx, s4); err != nil {
		t.Fatal(err)
	}
	var all crdt.VersionVector
	for _, c := range []*client.Client{bin, js2} {
		c.Read(func(d *crdt.Doc) {
			if all == nil {
				all = d.Version()
			} else {
				all.Merge(d.Version())
			}
		})
	}
	for _, c := range []*client.Client{bin, js, js2} {
		waitVersion(t, c, all)
	}
	want := snapshotOf(bin)
	for _, c := range []*client.Client{js, js2} {
		if !bytes.Equal(snapshotOf(c), want) {
			t.Fatal("JSON and binary clients diverged")
		}
	}
	if !bytes.Equal(tn.state(b.Board.ID, b.Token), clientJSON(t, bin)) {
		t.Fatal("node state differs")
	}
}
