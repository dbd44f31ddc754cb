package node

import (
	"context"
	"errors"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/api"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Who may do what on a board is package access's; these are the node's
// calls into it from its wiring and its metadata (replicate.go,
// records.go).

// refreshRoles recomputes the role of every open connection of a board
// after its access or a membership changed (access.Checker.RefreshRoles).
func (n *Node) refreshRoles(board storage.BoardID) { n.access.RefreshRoles(board) }

// roomPolicy is room.Config.Policy: the policy of a board being loaded.
func (n *Node) roomPolicy(ctx context.Context, board storage.BoardID) room.Policy {
	return n.access.RoomPolicy(ctx, board)
}

// memberRole is notify.Config.Role: a member's role on a board under its
// settings as they are now ("" for a board deleted meanwhile).
func (n *Node) memberRole(ctx context.Context, board storage.BoardID, user string) (string, error) {
	m, err := n.loadBoard(ctx, board)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return n.access.MemberRole(ctx, board, m, user)
}

// authorRole is room.Config.AuthorRole: whose a replica's claim is, and
// the role the board gives that user now (access.Checker.UserRole).
func (n *Node) authorRole(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID) (user, role string, ok bool) {
	// From the node's view only: this runs on the board's goroutine, which
	// a partitioned cluster must not hold (a claim the view lacks yet
	// leaves the author unknown: the role recorded when it was held, or
	// the change applies as the node that admitted it judged).
	user = n.meta.LocalClaimOf(ctx, board, rep)
	if user == "" || api.NodeWriter(user) {
		// Unknown, or a replica of a node's own writer (anonymous REST
		// writes, ballots), whose changes speak for other people: the
		// node that admitted them judged them (a ballot held here and
		// judged as the writer's own was refused, and this node's tally
		// went apart from the others').
		return "", "", false
	}
	m, err := n.loadBoard(ctx, board)
	if err != nil {
		return "", "", false
	}
	role, err = n.access.UserRole(ctx, board, m, user)
	if err != nil {
		return "", "", false
	}
	return user, role, true
}

// sessionSweeper closes the connections of expired sign-in sessions until
// ctx ends (access.Checker.SessionSweeper).
func (n *Node) sessionSweeper(ctx context.Context) { n.access.SessionSweeper(ctx) }

// SweepSessions runs one pass of the expired-session check (tests with a
// fake clock; the node runs it every minute by itself).
func (n *Node) SweepSessions(ctx context.Context) { n.access.SweepSessions(ctx) }

// viaSession marks a session of a signed-in person (closeSession).
const viaSession = access.ViaSession
