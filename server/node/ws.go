package node

import (
	"context"
	"net/http"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/api"
	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// gatewayConfig is what the WebSocket gateway takes from the node: its
// limits, the rooms, and the node's access decisions.
func (n *Node) gatewayConfig() gateway.Config {
	return gateway.Config{
		Limits: n.cfg.Limits, AllowedOrigins: n.cfg.AllowedOrigins,
		WebSocketsPerIP: n.cfg.HTTP.WebSocketsPerIP, MaxWebSockets: n.cfg.HTTP.MaxWebSockets,
		WebSocketOpensPerIP: n.cfg.HTTP.WebSocketOpensPerIP, Opens: n.limits,
		Now: n.cfg.Now, Log: n.log, Metrics: n.metrics, Rooms: n.rooms,
		ClientIP:     httpguard.ClientIP,
		Enter:        n.enterWS,
		ClaimReplica: n.claimReplica,
		AllowClaim:   n.allowClaim,
		AllowChangeBytes: func(ip string, s *room.Session, size int) (bool, string, time.Duration) {
			user := ""
			if s.Via == access.ViaSession {
				user = s.User.ID
			}
			if ok, retry := n.api.AllowChangeBytes(ip, user, size); !ok {
				return false, n.api.ErrChangeBytes(), retry
			}
			return true, "", 0
		},
		RefundChangeBytes: func(ip string, s *room.Session, size int) {
			user := ""
			if s.Via == access.ViaSession {
				user = s.User.ID
			}
			n.api.RefundChangeBytes(ip, user, size)
		},
		SpaceLow: n.space.Low,
		Joining:  n.api.RememberGuestOn,
		GuestToken: func(who gateway.Visitor, u protocol.User) string {
			return n.api.GuestToken(who.Board, who.BoardEpoch, u)
		},
		Join: n.access.JoinNow,
		Left: func(ctx context.Context, board storage.BoardID, user string, v crdt.VersionVector) {
			n.api.RecordSeen(ctx, board, user, v)
		},
	}
}

// enterWS is enter for a WebSocket: who the connection is for.
func (n *Node) enterWS(w http.ResponseWriter, r *http.Request) (gateway.Visitor, bool) {
	id, m, who, ok := n.api.Enter(w, r)
	if !ok {
		return gateway.Visitor{}, false
	}
	if who.User.Color == "" && who.Via == access.ViaToken {
		// A board token of someone with an account (the creator's own
		// token): their profile's colour too, as with the session cookie.
		who.User.Color = n.api.ProfileColor(r.Context(), who.User.ID)
	}
	return gateway.Visitor{Board: id, User: who.User, Guest: who.Guest, Via: who.Via, Epoch: who.Epoch, Cred: who.Cred,
		BoardEpoch: m.Epoch, Member: api.KeepsVisits(who, m)}, true
}
