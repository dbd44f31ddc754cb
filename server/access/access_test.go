package access

import (
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// A board token's role is read from the board's settings now, never from
// the token: a deleted link, an older epoch or a members-only board give
// nothing, and a link made before links were records gets no more than
// the board's visitors.
func TestTokenRoleFollowsTheBoard(t *testing.T) {
	c := New(Config{Now: time.Now})
	board := func(edit func(m *meta.Board)) *meta.Board {
		m := &meta.Board{ID: "b", Owner: "u-owner", Access: meta.AccessPublic, PublicRole: room.RoleViewer, Epoch: 3,
			LinkRecords: true, Links: []meta.Link{{ID: "l1", Role: room.RoleEditor}}}
		if edit != nil {
			edit(m)
		}
		return m
	}
	token := func(user, role string, epoch int) Identity {
		return Identity{User: protocol.User{ID: user, Role: role}, Via: ViaToken, Epoch: epoch}
	}
	for _, c2 := range []struct {
		name string
		m    *meta.Board
		who  Identity
		want string
	}{
		{"owner", board(nil), token("u-owner", room.RoleOwner, 3), room.RoleOwner},
		{"owner, older epoch", board(nil), token("u-owner", room.RoleOwner, 2), ""},
		{"link", board(nil), token(LinkPrefix+"l1", room.RoleViewer, 3), room.RoleEditor},
		{"deleted link", board(func(m *meta.Board) { m.Links = nil }), token(LinkPrefix+"l1", room.RoleEditor, 3), ""},
		{"link, members only", board(func(m *meta.Board) { m.Access = meta.AccessMembers }), token(LinkPrefix+"l1", room.RoleEditor, 3), ""},
		{"owner, members only", board(func(m *meta.Board) { m.Access = meta.AccessMembers }), token("u-owner", room.RoleOwner, 3), room.RoleOwner},
		{"old link", board(func(m *meta.Board) { m.LinkRecords = false }), token(LinkPrefix+"x", room.RoleEditor, 3), room.RoleViewer},
		{"guest", board(func(m *meta.Board) { m.PublicRole = room.RoleCommenter }), token(GuestPrefix+"g", room.RoleEditor, 3), room.RoleCommenter},
		{"someone else", board(nil), token("u-other", room.RoleEditor, 3), ""},
	} {
		if got := c.TokenRole(c2.m, c2.who); got != c2.want {
			t.Errorf("%s: role %q, want %q", c2.name, got, c2.want)
		}
	}
	if MinRole(room.RoleEditor, room.RoleViewer) != room.RoleViewer || MinRole(room.RoleViewer, "") != "" {
		t.Error("MinRole is not the lesser role")
	}
}
