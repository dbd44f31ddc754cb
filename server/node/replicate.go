package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/corkboard/corkboard/crdt"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Replication between nodes of what is not an op:
//
//   - Account records (users, members, invites, sessions...: records.go)
//     the same way, last writer by their Updated time.
//   - Board metadata: every create and delete is published on the bus
//     (bus.KindMeta) and kept by every node, last writer wins by the
//     metadata's Updated time (ties by its bytes); a deletion is a
//     tombstone (Deleted), so a late copy cannot bring a board back. A
//     starting node asks the others for all of it (bus.KindMetaSync).
//   - Sync requests for a board (bus.KindSync) are answered by every node
//     that stores the board, loading its room if needed (the room unloads
//     again when idle).
//
// Rejected: a metadata store shared by all nodes (NATS JetStream KV, or a
// database). It would make every node depend on it to open a board; copies
// in each node's Pebble, merged by last writer, keep nodes independent.

func (n *Node) startReplication() {
	subs := []struct {
		kind    bus.Kind
		cluster bool
		h       bus.Handler
	}{
		{bus.KindMeta, true, n.onMeta},
		{bus.KindMetaSync, true, func(bus.Message) { go n.publishAllMeta() }},
		{bus.KindClaim, true, n.onClaim},
		{bus.KindRecord, true, n.onRecord},
		{bus.KindSync, false, n.onSyncRequest},
		{bus.KindReplicate, false, n.onReplicate},
		{kindBlob, false, n.onBlobChunk},
		{kindBlobWant, false, n.onBlobWant},
	}
	for _, s := range subs {
		var cancel func()
		var err error
		if s.cluster {
			cancel, err = n.bus.SubscribeCluster(s.kind, s.h)
		} else {
			cancel, err = n.bus.SubscribeKind(s.kind, s.h)
		}
		if err != nil {
			n.log.Warn("replication: subscribe failed", "kind", string(s.kind), "err", err)
			continue
		}
		n.unsubs = append(n.unsubs, cancel)
	}
	n.bus.PublishCluster(bus.KindMetaSync, nil)
}

// publishMeta stores a board's metadata and tells the other nodes.
func (n *Node) publishMeta(ctx context.Context, m *BoardMeta) error {
	b, _ := json.Marshal(m)
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return err
	}
	if err := n.store.PutMeta(ctx, "board", id[:], b); err != nil {
		return err
	}
	n.bus.PublishCluster(bus.KindMeta, b)
	return nil
}

// updateMeta is the read-modify-write of a board's metadata, serialised
// with other writes and merges by n.metaMu: change edits the current
// record (a refusal leaves it as it was); the result is stamped, stored,
// sent to the other nodes, and applied to this node's open connections
// before updateMeta returns (the other nodes apply it when it reaches
// them: onMeta).
func (n *Node) updateMeta(ctx context.Context, board string, change func(m *BoardMeta) error) error {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return err
	}
	n.metaMu.Lock()
	m, err := n.loadBoard(ctx, id)
	if err != nil {
		n.metaMu.Unlock()
		if errors.Is(err, storage.ErrNotFound) {
			return refuse(404, protocol.CodeUnknownBoard, "no such board")
		}
		return err
	}
	if err := change(m); err != nil {
		n.metaMu.Unlock()
		return err
	}
	m.Updated = n.stamp(m.Updated)
	err = n.publishMeta(ctx, m)
	n.metaMu.Unlock()
	if err != nil {
		return err
	}
	n.refreshRoles(id)
	return nil
}

// onMeta keeps another node's metadata write if it is newer, and applies
// it to this node's open connections of the board: an access change made
// on any node reaches every session.
func (n *Node) onMeta(msg bus.Message) {
	var m BoardMeta
	if json.Unmarshal(msg.Data, &m) != nil {
		return
	}
	id, err := storage.ParseBoardID(m.ID)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	old, err := n.store.GetMeta(ctx, "board", id[:])
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err == nil {
		var cur BoardMeta
		if json.Unmarshal(old, &cur) == nil && (cur.Updated > m.Updated || (cur.Updated == m.Updated && bytes.Compare(old, msg.Data) >= 0)) {
			return // ours is as new or newer
		}
	}
	if n.store.PutMeta(ctx, "board", id[:], msg.Data) != nil {
		return
	}
	if m.Deleted {
		n.rooms.DeleteBoard(ctx, id)
		return
	}
	go n.refreshRoles(id)
}

// publishAllMeta answers a starting node: every board's metadata.
func (n *Node) publishAllMeta() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.store.ScanMeta(ctx, "board", nil, func(_, val []byte) error {
		n.bus.PublishCluster(bus.KindMeta, append([]byte(nil), val...))
		return nil
	})
	n.store.ScanMeta(ctx, "replica", nil, func(_, val []byte) error {
		n.bus.PublishCluster(bus.KindClaim, append([]byte(nil), val...))
		return nil
	})
	n.publishAllRecords(ctx)
}

// replicaClaim says which user owns a replica id on a board. Claims are
// copied to every node; when two nodes let two users claim one id at the
// same moment, every node keeps the earliest claim (then the smaller user
// id), so they agree on the owner.
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

// onClaim keeps another node's claim unless an earlier one is known.
func (n *Node) onClaim(msg bus.Message) {
	c := decodeClaim(msg.Data)
	board, err := storage.ParseBoardID(c.Board)
	if err != nil || c.User == "" || c.Replica == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.claimMu.Lock()
	defer n.claimMu.Unlock()
	key := claimKey(board, c.Replica)
	if cur, err := n.store.GetMeta(ctx, "replica", key); err == nil {
		old := decodeClaim(cur)
		if old.User == c.User || old.At < c.At || (old.At == c.At && old.User <= c.User) {
			return
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return
	}
	n.store.PutMeta(ctx, "replica", key, msg.Data)
}

// onReplicate stores another node's changes for a board this node knows
// and confirms (acks after replication).
func (n *Node) onReplicate(msg bus.Message) {
	board := storage.BoardID(msg.Board)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := n.loadBoard(ctx, board); err != nil {
			return
		}
		rm, err := n.rooms.Open(ctx, board)
		if err != nil {
			return
		}
		rm.Replicate(ctx, msg.Node, msg.Data)
	}()
}

// onSyncRequest answers another node's sync request for a board this node
// stores.
func (n *Node) onSyncRequest(msg bus.Message) {
	board := storage.BoardID(msg.Board)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := n.loadBoard(ctx, board); err != nil {
			return // unknown or deleted here
		}
		rm, err := n.rooms.Open(ctx, board)
		if err != nil {
			return
		}
		rm.AnswerSync(ctx, msg.Node, msg.Data)
	}()
}
