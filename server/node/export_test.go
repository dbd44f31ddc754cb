package node

import (
	"context"

	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/storage"
)

// SetReadHook sets the hook every connection's reader calls with each
// message it reads (gateway.SetReadHook).
func SetReadHook(f func(data []byte)) (restore func()) { return gateway.SetReadHook(f) }

// NotifyBoardAfter runs the notifier on a board with the metadata read
// before between runs: a change made during a pass (tests of stale
// writes).
func (n *Node) NotifyBoardAfter(ctx context.Context, board string, between func()) error {
	id, err := storage.ParseBoardID(board)
	if err != nil {
		return err
	}
	m, err := n.loadBoard(ctx, id)
	if err != nil {
		return err
	}
	between()
	return n.notes.NotifyBoard(ctx, m)
}
