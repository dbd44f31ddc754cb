package node

import (
	"context"

	"github.com/corkboard/corkboard/storage"
)

// SetReadHook sets the hook every connection's reader calls with each
// message it reads (nil: none), for tests that inject a panic; it returns
// a function that restores the previous hook.
func SetReadHook(f func(data []byte)) (restore func()) {
	var p *func([]byte)
	if f != nil {
		p = &f
	}
	old := readHook.Swap(p)
	return func() { readHook.Store(old) }
}

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
	return n.notifyBoard(ctx, m)
}
