package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// fakeClock is a node clock that moves only when told, so rate limits are
// exact.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

const (
	badMaxMessage  = 8 << 10
	badFramesBurst = 20
)

// badEnv is one node with a board holding a few elements, shared by the
// cases of TestBadInput.
type badEnv struct {
	tn    *testNode
	b     created
	clock *fakeClock
	rng   *rand.Rand
	owner *author
	// Elements made by the owner: two notes and an image; note1's text is
	// "abc" and its first character's id is abcID.
	note1, note2, image crdt.ElementID
	abcID               crdt.OpID
	ownerConn           *rawConn
	privateBoard        created
}

func (e *badEnv) url() string { return e.tn.wsURL(e.b.Board.ID, e.b.Token) }

// replica returns a fresh replica id.
func (e *badEnv) replica() crdt.ReplicaID { return crdt.ReplicaID(e.rng.Uint64() | 1<<62) }

func (e *badEnv) state(t *testing.T) []byte { return e.tn.state(e.b.Board.ID, e.b.Token) }

// editOK sends a valid edit from c (whose replica has nothing stored yet
// beyond start-1) and checks it is acked as applied.
func editOK(t *testing.T, c *rawConn, start uint64, e crdt.ElementID, x float64) {
	t.Helper()
	ack := c.expectAck(c.send(change(c.rep, start, setOp(e, "x", crdt.Number(x)))))
	if ack.Applied != 1 {
		t.Fatalf("follow-up edit: ack %+v, want 1 applied", ack)
	}
}

// httpError checks a refused upgrade: its status and the JSON error body.
func httpError(t *testing.T, resp *http.Response, err error, status int, code protocol.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("the upgrade succeeded, want %d", status)
	}
	if resp == nil {
		t.Fatalf("no HTTP response: %v", err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if code == "" {
		return
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code    protocol.Code `json:"code"`
			Message string        `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body %s, want code %q with a message", body, code)
	}
}

func newBadEnv(t *testing.T) *badEnv {
	seed := uint64(time.Now().UnixNano())
	t.Logf("replica seed %d", seed)
	e := &badEnv{clock: newFakeClock(), rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	e.tn = startNode(t, func(c *node.Config) {
		c.Now = e.clock.Now
		c.Limits.MaxMessage = badMaxMessage
		c.Limits.FramesPerSecond = 1
		c.Limits.FramesBurst = badFramesBurst
	})
	e.b = e.tn.createBoard(`{"name":"bad input"}`)
	e.privateBoard = e.tn.createBoard(`{"name":"private","access":"private"}`)
	e.note1, e.note2, e.image = elem(1), elem(2), elem(3)
	e.owner = newAuthor(e.replica())
	c1 := e.owner.note(t, e.note1, "abc")
	e.abcID = crdt.OpID{Replica: e.owner.rep, Counter: c1.Start + 1} // after the create
	c2 := e.owner.note(t, e.note2, "xyz")
	c3 := e.owner.edit(t, func(tx *crdt.Tx) error {
		if err := tx.Create(e.image, "image"); err != nil {
			return err
		}
		return tx.Set(e.image, "alt", crdt.String("a cat"))
	})
	e.ownerConn = rawJoin(t, e.url(), e.owner.rep, nil)
	if ack := e.ownerConn.expectAck(e.ownerConn.send(c1, c2, c3)); ack.Applied != 3 {
		t.Fatalf("setup: ack %+v", ack)
	}
	return e
}

func TestBadInput(t *testing.T) {
	e := newBadEnv(t)
	// Each case sends its bad input and checks the documented answer. It
	// returns the connection if it must still be usable (nil if it was
	// closed or never opened), and whether that connection may edit.
	cases := []struct {
		name string
		bad  func(t *testing.T, e *badEnv) (c *rawConn, canEdit bool)
		// after, if set, runs once the state was found unchanged.
		after func(t *testing.T, e *badEnv, c *rawConn)
	}{
		{"malformed JSON frame", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.write(websocket.MessageText, []byte(`{"type":"ops","seq":1,"changes":[`))
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"unknown frame type", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.write(websocket.MessageText, []byte(`{"type":"welcome"}`))
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"JSON ops with an invalid change", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			bad := fmt.Sprintf(`{"type":"ops","seq":1,"changes":[{"replica":"%v","start":0,"time":{"ms":5,"l":0},"ops":[{"op":"create","el":"%v","kind":"note"}]}]}`, c.rep, elem(50))
			c.write(websocket.MessageText, []byte(bad))
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"second hello", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: c.rep, Version: crdt.VersionVector{}})
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"binary frame with a bad tag", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			frame := protocol.EncodeOpsFrame(1, []crdt.Change{change(c.rep, 1, setOp(e.note1, "x", crdt.Number(1)))})
			frame[0] = 0x09
			c.write(websocket.MessageBinary, frame)
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"truncated batch", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			frame := protocol.EncodeOpsFrame(1, []crdt.Change{
				change(c.rep, 1, setOp(e.note1, "x", crdt.Number(1))),
				change(c.rep, 2, setOp(e.note2, "x", crdt.Number(2))),
			})
			c.write(websocket.MessageBinary, frame[:len(frame)-3])
			c.expectError(protocol.CodeMalformed)
			return c, true
		}, nil},
		{"oversized message", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			big := make([]crdt.Change, 0, 200)
			for i := range 200 {
				big = append(big, change(c.rep, uint64(i+1), setOp(e.note1, "color", crdt.String(strings.Repeat("y", 40)))))
			}
			frame := protocol.EncodeOpsFrame(1, big)
			if len(frame) <= badMaxMessage {
				t.Fatalf("frame of %d bytes is not over the limit", len(frame))
			}
			c.write(websocket.MessageBinary, frame)
			c.expectClose(protocol.CloseTooBig)
			return nil, false
		}, nil},
		{"unknown board", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			var id [16]byte
			for i := range id {
				id[i] = byte(e.rng.Uint32())
			}
			id[6], id[8] = id[6]&0x0f|0x40, id[8]&0x3f|0x80
			board := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
			_, resp, err := wsDial(t, e.tn.wsURL(board, e.b.Token), nil, protocol.Subprotocol)
			httpError(t, resp, err, 404, protocol.CodeUnknownBoard)
			return nil, false
		}, nil},
		{"bad board id", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			for _, id := range []string{"not-a-board", strings.ReplaceAll(e.b.Board.ID, "-", ""), "{" + e.b.Board.ID + "}"} {
				_, resp, err := wsDial(t, e.tn.wsURL(id, e.b.Token), nil, protocol.Subprotocol)
				httpError(t, resp, err, 400, protocol.CodeMalformed)
			}
			return nil, false
		}, nil},
		{"wrong subprotocol", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			for _, sub := range [][]string{{"corkboard.v0"}, nil} {
				c, resp, err := wsDial(t, e.url(), nil, sub...)
				if err != nil {
					t.Fatalf("dial with subprotocols %v: %v (%s)", sub, err, statusOf(resp))
				}
				if got := c.Subprotocol(); got != "" {
					t.Fatalf("node chose subprotocol %q", got)
				}
				r := &rawConn{t: t, c: c}
				r.expectClose(protocol.CloseProtocol)
			}
			return nil, false
		}, nil},
		{"first frame not hello", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			rep := e.replica()
			c := rawOpen(t, e.url(), rep)
			c.writeJSON(protocol.Ping{Type: protocol.TypePing})
			c.expectClose(protocol.CloseProtocol)
			c = rawOpen(t, e.url(), rep)
			c.send(change(rep, 1, setOp(e.note1, "x", crdt.Number(9))))
			c.expectClose(protocol.CloseProtocol)
			c = rawOpen(t, e.url(), rep)
			c.write(websocket.MessageText, []byte(`{"type":"hello"}`)) // no replica
			c.expectClose(protocol.CloseProtocol)
			return nil, false
		}, nil},
		{"text field on an image", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpInsertText, Element: e.image, Key: "text", Text: "meow"}))
			c.expectError(protocol.CodeSchema)
			return c, true
		}, nil},
		{"x as a string on a note", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(c.rep, 1, setOp(e.note1, "x", crdt.String("12"))))
			c.expectError(protocol.CodeSchema)
			return c, true
		}, nil},
		{"re-create a note as an image", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpCreate, Element: e.note2, Key: "image"}))
			c.expectError(protocol.CodeSchema)
			return c, true
		}, nil},
		{"viewer edits", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.tn.wsURL(e.b.Board.ID, tokenOf(t, e.b.Links["viewer"])), e.replica(), nil)
			if c.welcome.User.Role != "viewer" {
				t.Fatalf("viewer link gave role %q", c.welcome.User.Role)
			}
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpCreate, Element: elem(60), Key: "note"}))
			c.expectError(protocol.CodeForbidden)
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpVote, Element: e.note1, Key: "dot", Voter: "me", Value: crdt.Number(1)}))
			c.expectError(protocol.CodeForbidden)
			return c, false
		}, nil},
		{"commenter edits a note", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.tn.wsURL(e.b.Board.ID, tokenOf(t, e.b.Links["commenter"])), e.replica(), nil)
			if c.welcome.User.Role != "commenter" {
				t.Fatalf("commenter link gave role %q", c.welcome.User.Role)
			}
			c.send(change(c.rep, 1, setOp(e.note1, "x", crdt.Number(5))))
			c.expectError(protocol.CodeForbidden)
			// A comment that also touches a note is refused whole.
			c.send(change(c.rep, 1,
				crdt.Op{Type: crdt.OpCreate, Element: elem(61), Key: "comment"},
				crdt.Op{Type: crdt.OpInsertText, Element: e.note1, Key: "text", Text: "!"}))
			c.expectError(protocol.CodeForbidden)
			return c, false
		}, func(t *testing.T, e *badEnv, c *rawConn) {
			// But a comment alone is fine.
			ack := c.expectAck(c.send(change(c.rep, 1,
				crdt.Op{Type: crdt.OpCreate, Element: elem(62), Key: "comment"},
				setOp(elem(62), "target", crdt.String(e.note1.String())),
				crdt.Op{Type: crdt.OpInsertText, Element: elem(62), Key: "text", Text: "nice idea"})))
			if ack.Applied != 1 {
				t.Fatalf("comment: ack %+v", ack)
			}
			var st struct {
				Elements []crdt.ElementJSON `json:"elements"`
			}
			json.Unmarshal(e.state(t), &st)
			found := false
			for _, el := range st.Elements {
				found = found || el.ID == elem(62) && el.Kind == "comment" && el.Text["text"] == "nice idea"
			}
			if !found {
				t.Fatal("the commenter's comment is not in the state")
			}
		}},
		{"change of another replica", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(e.replica(), 1, setOp(e.note1, "x", crdt.Number(5))))
			c.expectError(protocol.CodeWrongReplica)
			// Not even the owner's replica.
			c.send(change(e.owner.rep, 100, setOp(e.note1, "x", crdt.Number(5))))
			c.expectError(protocol.CodeWrongReplica)
			return c, true
		}, nil},
		{"replica of another user", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			// The owner's replica, claimed by the owner at setup, from the
			// editor link.
			c := rawOpen(t, e.tn.wsURL(e.b.Board.ID, tokenOf(t, e.b.Links["editor"])), e.owner.rep)
			c.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: e.owner.rep, Version: crdt.VersionVector{}})
			c.expectClose(protocol.CloseReplica)
			// The owner may still use it.
			e.ownerConn.ping()
			return nil, false
		}, nil},
		{"insert after another element's character", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpInsertText, Element: e.note2, Key: "text", Text: "oops", Left: e.abcID}))
			c.expectError(protocol.CodeInvalidOp)
			return c, true
		}, nil},
		{"delete another element's characters", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			c.send(change(c.rep, 1, crdt.Op{Type: crdt.OpDeleteText, Element: e.note2, Key: "text", Target: e.abcID, Count: 2}))
			c.expectError(protocol.CodeInvalidOp)
			return c, true
		}, nil},
		{"private board without a token", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			_, resp, err := wsDial(t, e.tn.wsURL(e.privateBoard.Board.ID, ""), nil, protocol.Subprotocol)
			httpError(t, resp, err, 401, protocol.CodeUnauthorized)
			if code, _ := e.tn.get("/v1/boards/" + e.privateBoard.Board.ID + "/state"); code != 401 {
				t.Fatalf("state of a private board without a token: %d", code)
			}
			// Its owner gets in.
			rawJoin(t, e.tn.wsURL(e.privateBoard.Board.ID, e.privateBoard.Token), e.replica(), nil).ping()
			return nil, false
		}, nil},
		{"bad token", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			tok := e.privateBoard.Token
			for _, bad := range []string{"abc.def", tok[:len(tok)-2] + "xx", e.b.Token} {
				_, resp, err := wsDial(t, e.tn.wsURL(e.privateBoard.Board.ID, bad), nil, protocol.Subprotocol)
				httpError(t, resp, err, 401, "")
			}
			// A token for another board is refused too, and so is a bad
			// token on a public board (no silent fallback to a guest).
			_, resp, err := wsDial(t, e.tn.wsURL(e.b.Board.ID, "abc.def"), nil, protocol.Subprotocol)
			httpError(t, resp, err, 401, protocol.CodeUnauthorized)
			return nil, false
		}, nil},
		{"rate limited", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			c := rawJoin(t, e.url(), e.replica(), nil)
			const n = badFramesBurst + 5
			for i := range n {
				c.writeJSON(protocol.Ping{Type: protocol.TypePing, N: uint64(i + 1)})
			}
			pongs, limited := 0, 0
			for pongs+limited < n {
				typ, data, err := c.read()
				if err != nil {
					t.Fatalf("connection ended: %v", err)
				}
				switch typ {
				case protocol.TypePong:
					pongs++
				case protocol.TypeError:
					var er protocol.Error
					json.Unmarshal(data, &er)
					if er.Code != protocol.CodeRateLimited {
						t.Fatalf("error %s", data)
					}
					limited++
				}
			}
			if pongs != badFramesBurst || limited != n-badFramesBurst {
				t.Fatalf("%d pongs and %d refusals, want %d and %d", pongs, limited, badFramesBurst, n-badFramesBurst)
			}
			// Edits are refused too until the bucket refills.
			c.send(change(c.rep, 1, setOp(e.note1, "x", crdt.Number(5))))
			c.expectError(protocol.CodeRateLimited)
			e.clock.advance(time.Minute)
			return c, true
		}, nil},
		{"bad origin", func(t *testing.T, e *badEnv) (*rawConn, bool) {
			for _, o := range []string{"http://evil.example", "https://127.0.0.1.evil.example", "null"} {
				_, resp, err := wsDial(t, e.url(), http.Header{"Origin": {o}}, protocol.Subprotocol)
				httpError(t, resp, err, 403, "")
			}
			// The node's own origin is fine.
			c := rawJoinHeader(t, e.url(), e.replica(), nil, http.Header{"Origin": {e.tn.base}})
			return c, true
		}, nil},
	}
	parent := t
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every connection's frame budget refills between cases (the
			// clock stands still within one), the owner's included.
			e.clock.advance(time.Minute)
			e.ownerConn.t = t
			defer func() { e.ownerConn.t = parent }()
			before := e.state(t)
			c, canEdit := tc.bad(t, e)
			if after := e.state(t); !bytes.Equal(before, after) {
				t.Fatalf("stored state changed:\nbefore %s\nafter  %s", before, after)
			}
			if tc.after != nil {
				tc.after(t, e, c)
			}
			if c != nil {
				if canEdit {
					editOK(t, c, 1, e.note2, float64(1000+i))
				} else {
					c.ping()
				}
			}
			// The board takes edits as before.
			ack := e.ownerConn.expectAck(e.ownerConn.send(e.owner.edit(t, func(tx *crdt.Tx) error {
				return tx.Set(e.note1, "y", crdt.Number(float64(i)))
			})))
			if ack.Applied != 1 {
				t.Fatalf("owner's edit after the case: %+v", ack)
			}
		})
	}
	checkOpsOnce(t, e.tn, e.b.Board.ID, e.b.Token)
}
