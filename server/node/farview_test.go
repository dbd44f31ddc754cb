package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/farview"
	"github.com/corkboard/corkboard/server/protocol"
)

// farJoin says hello on a new connection with farView and version, and
// returns the catch-up's frames up to "synced", by type.
func farJoin(t *testing.T, u string, hdr http.Header, rep crdt.ReplicaID, farView int, version crdt.VersionVector) (types []string, frames [][]byte) {
	t.Helper()
	r := rawOpenHeader(t, u, rep, hdr)
	if version == nil {
		version = crdt.VersionVector{}
	}
	r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: rep, Version: version, Name: "far", FarView: farView})
	r.until(func(typ string, data []byte) bool {
		types, frames = append(types, typ), append(frames, data)
		return typ == protocol.TypeSynced
	})
	return types, frames
}

// TestFarViewFrame: a first visit that asks for it gets the far-view
// summary between the welcome and the snapshot, and it is the summary of
// exactly the state the snapshot and its tail bring the client to; a
// board under the asked size, a hello without farView, and a client with
// a copy already get none.
func TestFarViewFrame(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "far", "access": "members"})["board"].(map[string]any)["id"].(string)
	oc := e.dial(board, owner, 0x9100)
	const notes = 40
	for i := range notes {
		mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error {
			id := newID(fmt.Sprintf("far-%d", i))
			if err := noteTx(id, "n")(tx); err != nil {
				return err
			}
			return tx.Set(id, "x", crdt.Number(float64(i*260)))
		})
	}
	u := "ws" + strings.TrimPrefix(e.tn.base, "http") + "/v1/boards/" + board + "/ws"
	hdr := http.Header{"Authorization": {"Session " + owner}}

	// caughtUp returns the doc the catch-up's frames make, checking that
	// the far view came first and is the summary of exactly that doc.
	caughtUp := func(rep crdt.ReplicaID) *crdt.Doc {
		t.Helper()
		types, frames := farJoin(t, u, hdr, rep, notes, nil)
		if len(types) < 4 || types[0] != protocol.TypeWelcome || types[1] != "binary:0x4" || types[2] != "binary:0x3" {
			t.Fatalf("frames %v, want welcome, the far view (0x4), the snapshot (0x3), ..., synced", types)
		}
		d, err := crdt.LoadSnapshot(frames[2][1:])
		if err != nil {
			t.Fatal(err)
		}
		for i, typ := range types[3:] {
			if typ != "binary:0x2" {
				continue
			}
			changes, err := protocol.DecodeOpsOut(frames[3+i])
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if _, _, err := d.Apply(c); err != nil {
					t.Fatal(err)
				}
			}
		}
		if want := farview.Encode(d); !bytes.Equal(frames[1][1:], want) {
			t.Fatalf("the far view (%d bytes) is not the summary of the state the catch-up brings (%d bytes)", len(frames[1])-1, len(want))
		}
		return d
	}
	d := caughtUp(0x9101)
	s, err := farview.Decode(farview.Encode(d))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != notes {
		t.Errorf("%d items, want %d notes", len(s.Items), notes)
	}
	// The node keeps the far view and the snapshot it made for a version:
	// after a change, the next first visit gets both of the new one.
	late := newID("far-late")
	mustEdit(t, oc, e.clk.Now(), noteTx(late, "late"))
	if d := caughtUp(0x9102); !d.Exists(late) {
		t.Error("a first visit after a change got the state before it")
	}

	for _, c := range []struct {
		name    string
		farView int
		version crdt.VersionVector
	}{
		{"a board under the asked size", notes + 10, nil},
		{"a hello without farView", 0, nil},
		{"a client with a copy", 1, crdt.VersionVector{0x9100: 1}},
	} {
		types, _ := farJoin(t, u, hdr, crdt.ReplicaID(0x9200+c.farView), c.farView, c.version)
		for _, typ := range types {
			if typ == "binary:0x4" {
				t.Errorf("%s: a far view was sent (%v)", c.name, types)
			}
		}
	}
}

// TestFarViewNeedsAccess: the far view is sent on the board's own
// connection only, so whoever may not read the board (GET .../state)
// cannot open it and gets no summary: a stranger, anonymous on a
// members-only board, another board's token, a password board without
// the password.
func TestFarViewNeedsAccess(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	stranger := e.signIn("stranger@example.com")
	private := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "private", "access": "members"})["board"].(map[string]any)["id"].(string)
	pw := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame"})
	pwBoard := pw["board"].(map[string]any)["id"].(string)
	other := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "other"})
	otherToken := other["token"].(string)
	for _, b := range []string{private, pwBoard} {
		mustEdit(t, e.dial(b, owner, 0x9300), e.clk.Now(), noteTx(newID("secret"), "secret"))
	}
	wsURL := func(b, token string) string {
		u := "ws" + strings.TrimPrefix(e.tn.base, "http") + "/v1/boards/" + b + "/ws"
		if token != "" {
			u += "?token=" + token
		}
		return u
	}
	for _, c := range []struct {
		name, url, session string
	}{
		{"a stranger", wsURL(private, ""), stranger},
		{"anonymous on a members-only board", wsURL(private, ""), ""},
		{"another board's token", wsURL(private, otherToken), ""},
		{"a password board without the password", wsURL(pwBoard, ""), ""},
	} {
		// The same refusal as the board's state.
		path := "/v1/boards/" + private + "/state"
		if strings.Contains(c.url, pwBoard) {
			path = "/v1/boards/" + pwBoard + "/state"
		}
		if strings.Contains(c.url, "?token=") {
			path += "?token=" + otherToken
		}
		code, _ := e.call("GET", path, c.session, nil)
		hdr := http.Header{}
		if c.session != "" {
			hdr.Set("Authorization", "Session "+c.session)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{protocol.Subprotocol}})
		cancel()
		if err == nil {
			conn.CloseNow()
			t.Errorf("%s: connected (the state answers %d)", c.name, code)
			continue
		}
		if resp == nil || resp.StatusCode != code || (code != 401 && code != 403) {
			t.Errorf("%s: the socket answered %v, the state %d: want the same refusal", c.name, statusOf(resp), code)
		}
	}
	// The owner, for contrast, gets the far view.
	types, _ := farJoin(t, wsURL(private, ""), http.Header{"Authorization": {"Session " + owner}}, 0x9301, 1, nil)
	if len(types) < 2 || types[1] != "binary:0x4" {
		t.Errorf("the owner's frames %v: no far view", types)
	}
}
