package node

import (
	"context"
	"encoding/binary"
	"encoding/json"

	"github.com/corkboard/corkboard/crdt"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Between nodes, besides ops (package room):
//
//   - Board settings, account records and replica claims live in the
//     cluster's metadata buckets (package meta, docs/CLUSTER.md): a write
//     is stored by a quorum, and every node applies every write to its
//     view and its open connections through one hook (metaChanged).
//   - Sync and replicate requests for a board (bus.KindSync,
//     bus.KindReplicate) are the room manager's (room.Manager.Route).

func (n *Node) startReplication() {
	subs := []struct {
		kind bus.Kind
		h    bus.Handler
	}{
		{kindBlob, n.onBlobChunk},
		{kindBlobWant, n.onBlobWant},
	}
	for _, s := range subs {
		cancel, err := n.bus.SubscribeKind(s.kind, s.h)
		if err != nil {
			n.log.Warn("replication: subscribe failed", "kind", string(s.kind), "err", err)
			continue
		}
		n.unsubs = append(n.unsubs, cancel)
	}
	// Sync and replicate requests for a board: the rooms' own business.
	if stop, err := n.rooms.Route(func(ctx context.Context, b storage.BoardID) bool { _, err := n.loadBoard(ctx, b); return err == nil }); err == nil {
		n.unsubs = append(n.unsubs, stop)
	} else {
		n.log.Warn("replication: routing board requests failed", "err", err)
	}
}

// publishMeta stores a board's metadata as it is (a new board).
func (n *Node) publishMeta(ctx context.Context, m *BoardMeta) error {
	b, _ := json.Marshal(m)
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return err
	}
	return metaErr(n.meta.Put(ctx, meta.NSBoard, id[:], b))
}

// updateMeta is the read-modify-write of a board's metadata: change edits
// the current record (a refusal leaves it as it was), and the result is
// stored if nobody changed the board's metadata meanwhile, on any node
// (else change runs again on the newer record). It is applied to this
// node's open connections before updateMeta returns, and to the other
// nodes' as it reaches them (metaChanged).
func (n *Node) updateMeta(ctx context.Context, board string, change func(m *BoardMeta) error) error {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return err
	}
	err = n.meta.Update(ctx, meta.NSBoard, id[:], func(old []byte, found bool) ([]byte, error) {
		var m BoardMeta
		if !found || json.Unmarshal(old, &m) != nil || m.Deleted {
			return nil, refuse(404, protocol.CodeUnknownBoard, "no such board")
		}
		if err := change(&m); err != nil {
			return nil, err
		}
		m.Updated = n.stamp(m.Updated)
		return json.Marshal(&m)
	})
	if err != nil {
		return metaErr(err)
	}
	n.refreshRoles(id)
	return nil
}

// replicaClaim says which user owns a replica id on a board. A claim is
// created once in the claims bucket and never overwritten: when two nodes
// let two users claim one id at the same moment, one creation fails, and
// every node agrees on the owner.
type replicaClaim struct {
	Board   string         `json:"board"`
	Replica crdt.ReplicaID `json:"replica"`
	User    string         `json:"user"`
	At      int64          `json:"at"` // unix ms
}

func claimKey(board storage.BoardID, rep crdt.ReplicaID) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), board[:]...), uint64(rep))
}

func decodeClaim(b []byte) replicaClaim {
	var c replicaClaim
	if json.Unmarshal(b, &c) != nil {
		c.User = string(b) // a bare user id, as stored before claims were shared
	}
	return c
}
