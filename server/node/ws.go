package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// gatewayConfig is what the WebSocket gateway takes from the node: its
// limits, the rooms, and the node's access decisions.
func (n *Node) gatewayConfig() gateway.Config {
	return gateway.Config{
		Limits: n.cfg.Limits, AllowedOrigins: n.cfg.AllowedOrigins,
		WebSocketsPerIP: n.cfg.HTTP.WebSocketsPerIP, MaxWebSockets: n.cfg.HTTP.MaxWebSockets,
		Now: n.cfg.Now, Log: n.log, Metrics: n.metrics, Rooms: n.rooms,
		ClientIP:     httpguard.ClientIP,
		Enter:        n.enterWS,
		ClaimReplica: n.claimReplica,
		Joining:      n.api.RememberGuestOn,
		GuestToken: func(who gateway.Visitor, u protocol.User) string {
			return n.api.GuestToken(who.Board, who.BoardEpoch, u)
		},
		Joined: n.access.RecheckJoined,
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
	return gateway.Visitor{Board: id, User: who.User, Guest: who.Guest, Via: who.Via, Epoch: who.Epoch, Cred: who.Cred,
		BoardEpoch: m.Epoch, Member: who.Via == access.ViaSession}, true
}

// claimReplica refuses a replica id that belongs to another user: nobody
// can send changes under another person's replica. With claim, an
// unclaimed id becomes the user's. A connection only checks its replica
// when it opens, and claims it with its first changes: a claim is a record
// kept for good and copied to every node, so a visitor who only looks
// leaves none behind.
func (n *Node) claimReplica(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string, claim bool) (protocol.CloseCode, string) {
	key := claimKey(board, rep)
	owner := func(b []byte) (protocol.CloseCode, string) {
		if decodeClaim(b).User != user {
			return protocol.CloseReplica, "replica id belongs to another user"
		}
		return 0, ""
	}
	cur, err := n.meta.Get(ctx, meta.NSClaim, key)
	switch {
	case err == nil:
		return owner(cur)
	case !errors.Is(err, storage.ErrNotFound):
		return protocol.CloseRetry, "storage error"
	case !claim:
		return 0, ""
	}
	// Created once in the claims bucket: of two people connecting at the
	// same moment, on any nodes, with the same new replica id, one gets it.
	c := replicaClaim{Board: board.String(), Replica: rep, User: user, At: n.cfg.Now().UnixMilli()}
	b, _ := json.Marshal(c)
	switch err := n.meta.Create(ctx, meta.NSClaim, key, b); {
	case err == nil:
		return 0, ""
	case errors.Is(err, meta.ErrExists):
		if cur, err := n.meta.Latest(ctx, meta.NSClaim, key); err == nil {
			return owner(cur)
		}
	}
	return protocol.CloseRetry, "storage error"
}
