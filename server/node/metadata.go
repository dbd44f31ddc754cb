package node

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/reply"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// The cluster's metadata (board settings, account records, replica
// claims) is package meta's. The node wires it: the adapters below give
// the packages above meta the small interfaces they declare (access.Records,
// api.Boards, notify.Records...), turning meta's errors into answers; and
// allowClaim counts a new replica id of the board claimed from client
// address ip (HTTPLimits.ReplicaClaimsPerIP, an hour, in the whole
// cluster); one already claimed, by anyone, is not counted (the claim
// says whose it is). A new claim is a write to the metadata quorum
// anyway: the shared count costs one more.
func (n *Node) allowClaim(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, ip string) bool {
	max := n.cfg.HTTP.ReplicaClaimsPerIP
	if max < 0 {
		return true
	}
	if user, err := n.meta.ClaimOf(ctx, board, rep); err != nil || user != "" {
		return true // claimed already, or unknown: ClaimReplica decides
	}
	return n.limits.AllowShared(ctx, "replica-claim:"+board.String()+" "+ip, max, time.Hour)
}

// metaChanged applies every change, made on this node or another, to this
// node's rooms and sessions.

// metaErr turns meta's errors into refusals: no quorum is a 503, a board
// missing a 404.
func metaErr(err error) error {
	switch {
	case errors.Is(err, meta.ErrUnavailable):
		return reply.Refuse(503, protocol.CodeUnavailable, "the cluster's metadata store cannot take writes now (no quorum); try again")
	case errors.Is(err, meta.ErrNoBoard):
		return reply.Refuse(404, protocol.CodeUnknownBoard, "no such board")
	}
	return err
}

// loadBoard reads a board's settings; a storage.ErrNotFound when it has
// none or was deleted.
func (n *Node) loadBoard(ctx context.Context, id storage.BoardID) (*BoardMeta, error) {
	return n.meta.Board(ctx, id)
}

// claimReplica refuses a replica id that belongs to another user: nobody
// can send changes under another person's replica. With claim, an
// unclaimed id becomes the user's. A connection only checks its replica
// when it opens, and claims it with its first changes: a claim is kept
// for good in the whole cluster, so a visitor who only looks leaves none
// behind.
func (n *Node) claimReplica(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string, claim bool) (protocol.CloseCode, string) {
	switch err := n.meta.ClaimReplica(ctx, board, rep, user, claim); {
	case err == nil:
		return 0, ""
	case errors.Is(err, meta.ErrClaimed):
		return protocol.CloseReplica, "replica id belongs to another user"
	case errors.Is(err, meta.ErrUnavailable):
		return protocol.CloseRetry, "the cluster cannot grant a new replica id now; reconnect later"
	}
	return protocol.CloseRetry, "storage error"
}

// metaChanged applies a metadata change, made on this node or another,
// to this node (the meta store's one hook): new settings, a member's new
// role or removal, a revoked session take effect on open connections at
// once; a deleted board is dropped.
func (n *Node) metaChanged(ns string, key, val []byte) {
	switch ns {
	case meta.NSBoard:
		if len(key) != 16 {
			return
		}
		board := storage.BoardID(key)
		var m BoardMeta
		if val == nil || (json.Unmarshal(val, &m) == nil && m.Deleted) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				n.rooms.DeleteBoard(ctx, board)
			}()
			return
		}
		go func() {
			n.refreshRoles(board)
			n.tellSettings(board, &m)
		}()
	case account.NSMember:
		if len(key) < 16 {
			return
		}
		go n.refreshRoles(storage.BoardID(key[:16]))
	case account.NSWebhook:
		if len(key) >= 16 {
			n.notes.WebhooksChanged(storage.BoardID(key[:16]))
		}
	case account.NSSession:
		var s account.Session
		if json.Unmarshal(val, &s) == nil && s.Revoked {
			go n.closeSession(string(key))
		}
	}
}

// tellSettings sends the board's connections on this node a "settings"
// frame (the deadline, voting state and timer), after their roles were
// decided again: clients learn of a deadline, a vote opened or closed, a
// timer started, at once rather than at their next poll. Sent on every
// change of the board's record (it is small, and idempotent for clients).
// Rejected: relaying the frame over the bus from the node that made the
// change (every node already hears the change from the metadata store,
// and a relayed frame could overtake the new policy on another node).
func (n *Node) tellSettings(board storage.BoardID, m *BoardMeta) {
	now := n.cfg.Now().UnixMilli()
	f := protocol.SettingsFrame{Type: protocol.TypeSettings, Deadline: m.Deadline, Closed: m.Deadline != 0 && now >= m.Deadline, Now: now}
	if m.Voting != nil {
		f.Voting = m.Voting.State
	}
	if m.Timer != nil {
		f.Timer, _ = json.Marshal(m.Timer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.rooms.Tell(ctx, board, protocol.JSON(f))
}

// closeSession closes every open connection of a sign-in session (by its
// token's hash) on this node: it signed out or was revoked.
func (n *Node) closeSession(hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, board := range n.rooms.Boards() {
		n.rooms.Reauthorize(ctx, board, func(s *room.Session) string {
			if s.Via == viaSession && s.Cred == hash {
				return ""
			}
			return s.User.Role
		})
	}
}

// records are the account records: notify.Records, access.Records,
// api.Records.
type records struct{ n *Node }

func (r records) Get(ctx context.Context, ns string, key []byte, v any) error {
	return r.n.meta.GetJSON(ctx, ns, key, v)
}

func (r records) Put(ctx context.Context, ns string, key []byte, v any) error {
	return metaErr(r.n.meta.PutJSON(ctx, ns, key, v))
}

func (r records) Delete(ctx context.Context, ns string, key []byte) error {
	return metaErr(r.n.meta.Delete(ctx, ns, key))
}

func (r records) Update(ctx context.Context, ns string, key []byte, v any, change func(found bool) error) error {
	return metaErr(r.n.meta.UpdateJSON(ctx, ns, key, v, change))
}

// Lock serialises a count over several records and a write on this node
// (api.Records.Lock); across nodes, Update's compare-and-set keeps a
// record's concurrent writes from being lost.
func (r records) Lock()   { r.n.recMu.Lock() }
func (r records) Unlock() { r.n.recMu.Unlock() }

func (r records) PutLocked(ctx context.Context, ns string, key []byte, v any) error {
	return r.Put(ctx, ns, key, v)
}

func (r records) Stamp(old int64) int64 { return r.n.meta.Stamp(old) }

// boards are the board settings and the listings of account records by
// board and by user: notify.Boards, access.Boards, api.Boards.
type boards struct{ n *Node }

func (b boards) Load(ctx context.Context, board storage.BoardID) (*BoardMeta, error) {
	return b.n.loadBoard(ctx, board)
}

func (b boards) All(ctx context.Context) ([]BoardMeta, error) { return b.n.meta.Boards(ctx) }

func (b boards) BallotVoters(ctx context.Context, board storage.BoardID, session string) ([]string, error) {
	return b.n.meta.BallotVoters(ctx, board, session)
}

func (b boards) Create(ctx context.Context, m *BoardMeta) error {
	return metaErr(b.n.meta.CreateBoard(ctx, m))
}

// Update changes a board's settings (meta.Store.UpdateBoard); this node's
// open connections follow before it returns, the other nodes' as the
// change reaches them (metaChanged).
func (b boards) Update(ctx context.Context, board string, change func(m *BoardMeta) error) error {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return err
	}
	if err := b.n.meta.UpdateBoard(ctx, id, change); err != nil {
		return metaErr(err)
	}
	b.n.refreshRoles(id)
	return nil
}

func (b boards) Members(ctx context.Context, board storage.BoardID) ([]account.Member, error) {
	return b.n.meta.Members(ctx, board)
}

func (b boards) Webhooks(ctx context.Context, board storage.BoardID) []account.Webhook {
	return b.n.meta.Webhooks(ctx, board)
}

func (b boards) Of(ctx context.Context, user string, fn func(storage.BoardID) error) error {
	return b.n.meta.BoardsOf(ctx, user, fn)
}

func (b boards) InviteHashes(ctx context.Context, board storage.BoardID, fn func(hash []byte) error) error {
	return b.n.meta.InviteHashes(ctx, board, fn)
}
