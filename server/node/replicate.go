package node

import (
	"context"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/storage"
)

// Between nodes, besides ops (package room):
//
//   - Board settings, account records and replica claims live in the
//     cluster's metadata buckets (package meta, docs/CLUSTER.md): a write
//     is stored by a quorum, and every node applies every write to its
//     view and its open connections through one hook (metadata.go).
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
