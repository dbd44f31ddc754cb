package room

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
)

// Catch-up between nodes (anti-entropy). The bus is at-most-once: a node
// that was down, cut off, or too slow misses ops. So a room asks the other
// nodes for what it lacks — when it loads, every SyncInterval, after a gap
// shows (a change held for a counter it never received), and when the bus
// reconnects — by publishing its version vector (bus.KindSync). Every node
// that stores the board answers, from its op log, with the changes the
// asker lacks (bus.KindSyncReply, addressed to the asker, paged); the asker
// applies them like any remote ops: persist, push to its sessions, never
// republish. When an answer shows the asker has changes the answerer lacks,
// the answerer asks in turn, so both sides converge.
//
// Rejected: NATS request-reply with one inbox per request. Several nodes
// may hold the board, and the asker wants all of their answers; a
// broadcast request with addressed replies on the board's subject does
// that with the subscriptions the rooms already have, and works the same
// on the in-memory bus.

const (
	// maxSyncChanges and maxSyncBytes bound one reply; "more" asks again.
	maxSyncChanges = 5000
	maxSyncBytes   = 4 << 20
	// minSyncGap debounces requests triggered by gaps.
	minSyncGap = time.Second
)

type syncRequest struct {
	from    string
	version crdt.VersionVector
}

// Sync makes the room ask the other nodes for what it lacks.
func (r *Room) Sync() {
	select {
	case r.inbox <- syncNow{}:
	case <-r.done:
	default: // the inbox is full: the periodic sync will do
	}
}

type syncNow struct{}

// answerSyncRequest hands a sync request from another node to the room
// (Manager.Route).
func (r *Room) answerSyncRequest(ctx context.Context, from string, data []byte) error {
	var vv crdt.VersionVector
	if err := vv.UnmarshalBinary(data); err != nil {
		return err
	}
	return r.send(ctx, syncRequest{from: from, version: vv})
}

// requestSync publishes this room's version vector.
func (r *Room) requestSync(force bool) {
	now := time.Now()
	if !force && now.Sub(r.lastSync) < minSyncGap {
		return
	}
	r.lastSync = now
	vv, _ := r.doc.Version().MarshalBinary()
	if err := r.cfg.Bus.Publish(r.board, bus.KindSync, vv); err != nil {
		if h := r.cfg.Hooks.BusErrors; h != nil {
			h()
		}
	} else if h := r.cfg.Hooks.SyncRequested; h != nil {
		h()
	}
}

// syncFailed calls the SyncFailed hook.
func (r *Room) syncFailed(reason string) {
	if h := r.cfg.Hooks.SyncFailed; h != nil {
		h(reason)
	}
}

// answerSync replies with the changes the asker lacks, from the op log.
func (r *Room) answerSync(req syncRequest) {
	version := r.doc.Version()
	if version.Compare(req.version) == crdt.Before || hasMore(req.version, version) {
		r.requestSync(false) // the asker has something we lack
	}
	got, err := ChangesSince(context.Background(), r.cfg.Store, r.board, req.version, r.logVersion(),
		Limit{Changes: maxSyncChanges, Bytes: maxSyncBytes})
	if err != nil {
		r.log.Warn("sync: reading the log failed", "err", err)
		r.syncFailed("read")
		return
	}
	if got.Trimmed {
		r.log.Warn("sync: history trimmed by retention; this node cannot bring the asker up to date", "asker", req.from)
		r.syncFailed("trimmed")
	}
	if len(got.Entries) == 0 {
		return
	}
	encoded := make([][]byte, len(got.Entries))
	for i, e := range got.Entries {
		encoded[i] = e.Data
	}
	if err := r.cfg.Bus.Publish(r.board, bus.KindSyncReply, encodeSyncReply(req.from, got.More, encoded)); err != nil {
		if h := r.cfg.Hooks.BusErrors; h != nil {
			h()
		}
	} else if h := r.cfg.Hooks.SyncSent; h != nil {
		h(len(encoded))
	}
}

// hasMore reports whether a covers an op b lacks.
func hasMore(a, b crdt.VersionVector) bool {
	for rep, c := range a {
		if c > b[rep] {
			return true
		}
	}
	return false
}

// A sync reply: uvarint len(to) to, more (1 byte), crdt batch (of changes
// encoded as stored).
func encodeSyncReply(to string, more bool, encoded [][]byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(to)))
	b = append(b, to...)
	m := byte(0)
	if more {
		m = 1
	}
	b = append(b, m)
	return crdt.AppendBatch(b, encoded)
}

func decodeSyncReply(b []byte) (to string, more bool, batch []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 256 || uint64(len(b)-k) < n+1 {
		return "", false, nil, false
	}
	to = string(b[k : k+int(n)])
	return to, b[k+int(n)] == 1, b[k+int(n)+1:], true
}

// fromSyncReply applies a reply addressed to this node.
func (r *Room) fromSyncReply(data []byte) {
	to, more, batch, ok := decodeSyncReply(data)
	if !ok || to != r.cfg.Node {
		if !ok {
			r.syncFailed("decode")
		}
		return
	}
	if !r.fromOps(batch) {
		r.syncFailed("decode")
	} else if n, k := binary.Uvarint(batch); k > 0 {
		if h := r.cfg.Hooks.SyncReceived; h != nil {
			h(int(n))
		}
	}
	if more {
		r.requestSync(true)
	}
}
