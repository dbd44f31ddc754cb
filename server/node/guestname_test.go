package node_test

import (
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestGuestHelloNameChecked: a guest picks its display name in its hello,
// and that name is shown in everyone else's presence labels. A name with
// U+202E (right-to-left override), NUL or ESC used to pass (only its
// length was checked); such a hello is now closed with 4103, like any
// invalid hello, over a real WebSocket. A right-to-left script, an
// emoji sequence and surrounding spaces are fine.
func TestGuestHelloNameChecked(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	board := boardID(t, e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "open", "access": "password", "password": "open sesame"}))
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"access": "public"})
	u := e.tn.wsURL(board, "")

	for i, name := range []string{"Ana\u202Egnp.exe", "a\x00b", "a\x1b[31mb", "x\u2066y", "line\u2028two", "\u200fAna"} {
		rep := crdt.ReplicaID(0x5100 + i)
		r := rawOpen(t, u, rep)
		r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: rep, Version: crdt.VersionVector{}, Name: name})
		r.expectClose(protocol.CloseProtocol)
	}
	for i, name := range []string{"مريم", "Ana 👩\u200d💻", "  Bo  "} {
		rep := crdt.ReplicaID(0x5200 + i)
		r := rawOpen(t, u, rep)
		r.writeJSON(protocol.Hello{Type: protocol.TypeHello, Replica: rep, Version: crdt.VersionVector{}, Name: name})
		r.until(func(typ string, data []byte) bool {
			if typ == protocol.TypeWelcome && !strings.Contains(string(data), `"name":"`+strings.TrimSpace(name)+`"`) {
				t.Fatalf("guest %q welcomed as %s", name, data)
			}
			return typ == protocol.TypeWelcome
		})
	}
}
