package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/protocol"
)

// ---- REST ----

// get fetches base+path and returns the status and body.
func (tn *testNode) get(path string) (int, []byte) {
	tn.t.Helper()
	resp, err := http.Get(tn.base + path)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// state returns the board's /state body.
func (tn *testNode) state(board, token string) []byte {
	tn.t.Helper()
	code, b := tn.get("/v1/boards/" + board + "/state?token=" + url.QueryEscape(token))
	if code != 200 {
		tn.t.Fatalf("state: %d %s", code, b)
	}
	return b
}

// opEntry is one change of GET /ops, with who sent it.
type opEntry struct {
	crdt.Change
	Author string
}

// ops returns every change the node has of the board, in log order.
func (tn *testNode) ops(board, token string) (crdt.VersionVector, []opEntry) {
	tn.t.Helper()
	code, b := tn.get("/v1/boards/" + board + "/ops?token=" + url.QueryEscape(token))
	if code != 200 {
		tn.t.Fatalf("ops: %d %s", code, b)
	}
	var out struct {
		Version crdt.VersionVector `json:"version"`
		Changes []json.RawMessage  `json:"changes"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		tn.t.Fatalf("ops: %v", err)
	}
	var entries []opEntry
	for _, raw := range out.Changes {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			tn.t.Fatal(err)
		}
		var e opEntry
		json.Unmarshal(fields["author"], &e.Author)
		delete(fields, "author")
		delete(fields, "accepted")
		rest, _ := json.Marshal(fields)
		if err := e.Change.UnmarshalJSON(rest); err != nil {
			tn.t.Fatalf("ops: change %s: %v", raw, err)
		}
		entries = append(entries, e)
	}
	return out.Version, entries
}

// checkOpsOnce fails unless the node's log holds every counter of every
// replica it has exactly once, and returns how many records each replica
// has.
func checkOpsOnce(t testing.TB, tn *testNode, board, token string) map[crdt.ReplicaID]int {
	t.Helper()
	version, entries := tn.ops(board, token)
	seen := map[crdt.OpID]int{}
	records := map[crdt.ReplicaID]int{}
	for _, e := range entries {
		records[e.Replica]++
		for c := e.Start; c <= e.End(); c++ {
			seen[crdt.OpID{Replica: e.Replica, Counter: c}]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("op %v is in the log %d times", id, n)
		}
	}
	for rep, top := range version {
		for c := uint64(1); c <= top; c++ {
			if seen[crdt.OpID{Replica: rep, Counter: c}] == 0 {
				t.Errorf("op %d@%v is in the version but not in the log", c, rep)
			}
		}
	}
	return records
}

func docJSON(t testing.TB, d *crdt.Doc) []byte {
	t.Helper()
	b, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clientJSON(t testing.TB, c *client.Client) []byte {
	var b []byte
	c.Read(func(d *crdt.Doc) { b = docJSON(t, d) })
	return b
}

// tokenOf returns the token of a link URL from board creation.
func tokenOf(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")
	if f, err := url.ParseQuery(u.Fragment); err == nil && f.Get("token") != "" {
		tok = f.Get("token")
	}
	if tok == "" {
		t.Fatalf("link %q has no token", link)
	}
	return tok
}

// ---- clients ----

var pingFrame = protocol.JSON(protocol.Ping{Type: protocol.TypePing, N: 1})

// waitClient waits until pred, which may call the client's own locking
// getters (Peers, Errors, Welcome...), holds. Between two checks it waits for
// the next message from the node, and sends a ping first so that one is
// sure to come: no wake-up can be missed, and nothing sleeps.
func waitClient(t testing.TB, c *client.Client, pred func() bool) {
	t.Helper()
	ctx := ctx10(t)
	for !pred() {
		first := true
		err := c.WaitFor(ctx, func() bool {
			if first {
				first = false
				// Under the client's lock; the write does not need it.
				c.SendRaw(ctx, false, pingFrame)
				return false
			}
			return true
		})
		if err != nil {
			t.Fatalf("waiting: %v", err)
		}
	}
}

// waitVersion waits until the client's doc has at least version v.
func waitVersion(t testing.TB, c *client.Client, v crdt.VersionVector) {
	t.Helper()
	err := c.WaitDoc(ctx10(t), func(d *crdt.Doc) bool {
		o := d.Version().Compare(v)
		return o == crdt.Equal || o == crdt.After
	})
	if err != nil {
		t.Fatalf("waiting for version %v: %v", v, err)
	}
}

// author makes changes of one replica on its own doc, as an offline client
// does.
type author struct {
	d   *crdt.Doc
	rep crdt.ReplicaID
	ms  int64
}

func newAuthor(rep crdt.ReplicaID) *author {
	return &author{d: crdt.NewDoc(), rep: rep, ms: 1_700_000_000_000}
}

func (a *author) edit(t testing.TB, fn func(tx *crdt.Tx) error) crdt.Change {
	t.Helper()
	a.ms++
	tx := a.d.Begin(a.rep, a.ms)
	if err := fn(&tx); err != nil {
		tx.Commit()
		t.Fatal(err)
	}
	c, ok := tx.Commit()
	if !ok {
		t.Fatal("empty change")
	}
	return c
}

func (a *author) note(t testing.TB, e crdt.ElementID, text string) crdt.Change {
	t.Helper()
	return a.edit(t, func(tx *crdt.Tx) error {
		if err := tx.Create(e, "note"); err != nil {
			return err
		}
		return tx.InsertText(e, "text", 0, text)
	})
}

// ---- raw WebSocket connections ----

// rawConn is a WebSocket connection driven frame by frame, to see exactly
// what the node sends.
type rawConn struct {
	t       testing.TB
	c       *websocket.Conn
	rep     crdt.ReplicaID
	seq     uint64
	welcome protocol.Welcome
}

func wsDial(t testing.TB, u string, hdr http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: subprotocols, HTTPHeader: hdr})
	if err == nil {
		c.SetReadLimit(64 << 20)
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// rawOpen opens a connection without saying hello.
func rawOpen(t testing.TB, u string, rep crdt.ReplicaID) *rawConn {
	t.Helper()
	return rawOpenHeader(t, u, rep, nil)
}

func rawOpenHeader(t testing.TB, u string, rep crdt.ReplicaID, hdr http.Header) *rawConn {
	t.Helper()
	c, resp, err := wsDial(t, u, hdr, protocol.Subprotocol)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, statusOf(resp))
	}
	return &rawConn{t: t, c: c, rep: rep}
}

// rawJoin opens a connection, says hello with version and reads the
// catch-up up to "synced".
func rawJoin(t testing.TB, u string, rep crdt.ReplicaID, version crdt.VersionVector) *rawConn {
	t.Helper()
	return rawJoinHeader(t, u, rep, version, nil)
}

func rawJoinHeader(t testing.TB, u string, rep crdt.ReplicaID, version crdt.VersionVector, hdr http.Header) *rawConn {
	t.Helper()
	r := rawOpenHeader(t, u, rep, hdr)
	if version == nil {
		version = crdt.VersionVector{}
	}
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: rep, Version: version, Name: fmt.Sprintf("raw%d", rep)})
	r.until(func(typ string, data []byte) bool {
		if typ == protocol.TypeWelcome {
			if err := json.Unmarshal(data, &r.welcome); err != nil {
				t.Fatal(err)
			}
		}
		return typ == protocol.TypeSynced
	})
	return r
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

func (r *rawConn) write(typ websocket.MessageType, data []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.c.Write(ctx, typ, data); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) writeJSON(v any) { r.write(websocket.MessageText, protocol.JSON(v)) }

// send sends changes as a binary ops batch and returns its seq.
func (r *rawConn) send(changes ...crdt.Change) uint64 {
	r.t.Helper()
	r.seq++
	r.write(websocket.MessageBinary, protocol.EncodeOpsFrame(r.seq, changes))
	return r.seq
}

// read returns the next message: its frame type ("binary:0x2" for binary
// messages) and data, or the error that ended the connection.
func (r *rawConn) read() (string, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := r.c.Read(ctx)
	if err != nil {
		return "", nil, err
	}
	if typ == websocket.MessageBinary {
		if len(data) == 0 {
			return "binary:empty", data, nil
		}
		return fmt.Sprintf("binary:%#x", data[0]), data, nil
	}
	var h struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		r.t.Fatalf("node sent a text message that is not JSON: %q", data)
	}
	return h.Type, data, nil
}

// until reads messages until pred holds of one.
func (r *rawConn) until(pred func(typ string, data []byte) bool) {
	r.t.Helper()
	for {
		typ, data, err := r.read()
		if err != nil {
			r.t.Fatalf("connection ended: %v", err)
		}
		if pred(typ, data) {
			return
		}
	}
}

// expectAck reads until the ack of seq; an error frame or another ack first
// fails the test.
func (r *rawConn) expectAck(seq uint64) protocol.Ack {
	r.t.Helper()
	var ack protocol.Ack
	r.until(func(typ string, data []byte) bool {
		switch typ {
		case protocol.TypeError:
			r.t.Fatalf("want ack %d, got error %s", seq, data)
		case protocol.TypeAck:
			json.Unmarshal(data, &ack)
			if ack.Seq != seq {
				r.t.Fatalf("want ack %d, got %s", seq, data)
			}
			return true
		}
		return false
	})
	return ack
}

// expectError reads until an error frame and checks its code; an ack
// first fails the test (the bad input was taken).
func (r *rawConn) expectError(code protocol.Code) protocol.Error {
	r.t.Helper()
	var e protocol.Error
	r.until(func(typ string, data []byte) bool {
		switch typ {
		case protocol.TypeAck:
			r.t.Fatalf("want error %q, got %s", code, data)
		case protocol.TypeError:
			json.Unmarshal(data, &e)
			return true
		}
		return false
	})
	if e.Code != code {
		r.t.Fatalf("error code %q (%s), want %q", e.Code, e.Message, code)
	}
	return e
}

// expectClose reads until the connection ends and checks the close code.
func (r *rawConn) expectClose(code protocol.CloseCode) {
	r.t.Helper()
	for {
		typ, data, err := r.read()
		if err == nil {
			if typ == protocol.TypeAck {
				r.t.Fatalf("want close %d, got %s", code, data)
			}
			continue
		}
		if got := protocol.CloseCode(websocket.CloseStatus(err)); got != code {
			r.t.Fatalf("connection ended with %v (status %d), want close %d", err, got, code)
		}
		return
	}
}

// ping checks the connection is alive: a ping gets its pong.
func (r *rawConn) ping() {
	r.t.Helper()
	r.writeJSON(protocol.Ping{Type: protocol.TypePing, N: 77})
	r.until(func(typ string, data []byte) bool {
		if typ == protocol.TypeError {
			r.t.Fatalf("ping answered by %s", data)
		}
		return typ == protocol.TypePong && bytes.Contains(data, []byte(`"n":77`))
	})
}

// change builds a change by hand, for ops a local doc would refuse to make.
// It is stamped now (a millisecond per counter later, so that a replica's
// times increase): a node refuses changes from the future (clock_ahead).
func change(rep crdt.ReplicaID, start uint64, ops ...crdt.Op) crdt.Change {
	return crdt.Change{Replica: rep, Start: start, Time: crdt.MakeTimestamp(uint64(time.Now().UnixMilli())+start, 0), Ops: ops}
}

func setOp(e crdt.ElementID, key string, v crdt.Value) crdt.Op {
	return crdt.Op{Type: crdt.OpSet, Element: e, Key: key, Value: v}
}
