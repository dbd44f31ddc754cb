package room_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// A peer frame names the peer's current role, set by the node: a viewer
// cannot pass for a presenter by what it puts in its presence data, and a
// role change is announced to the others at once, with the new role.
func TestPresenceCarriesTheCurrentRole(t *testing.T) {
	m := newManager(t, room.Config{})
	r := open(t, m)
	watcher := join(t, r, "w", 1, room.RoleEditor, 64)
	readUntil(t, watcher, protocol.TypeSynced)
	viewer := join(t, r, "v", 2, room.RoleViewer, 64)
	readUntil(t, viewer, protocol.TypeSynced)

	peerOf := func(s *room.Session) protocol.Peer {
		t.Helper()
		pm, _ := readUntil(t, s, protocol.TypePresence)
		var p protocol.Presence
		if err := json.Unmarshal(pm.Data, &p); err != nil || p.Peer == nil {
			t.Fatalf("presence frame %s: %v", pm.Data, err)
		}
		return *p.Peer
	}
	// The join, then presence data that claims more than the viewer has.
	if p := peerOf(watcher); p.Session != "v" || p.Role != room.RoleViewer {
		t.Fatalf("join announced %+v, want session v as viewer", p)
	}
	if err := r.Presence(context.Background(), viewer, json.RawMessage(`{"spot":1,"role":"owner"}`)); err != nil {
		t.Fatal(err)
	}
	if p := peerOf(watcher); p.Role != room.RoleViewer || string(p.Data) != `{"spot":1,"role":"owner"}` {
		t.Fatalf("presence relayed as %+v, want role viewer with the data untouched", p)
	}

	// Promoted: the others learn it without waiting for the viewer's next
	// presence.
	m.Reauthorize(context.Background(), board, func(s *room.Session) string {
		if s.ID == "v" {
			return room.RoleEditor
		}
		return s.User.Role
	})
	if p := peerOf(watcher); p.Session != "v" || p.Role != room.RoleEditor {
		t.Fatalf("after the promotion %+v, want session v as editor", p)
	}
}
