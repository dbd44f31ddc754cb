package room

import (
	"context"
	"fmt"
	"time"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/storage"
)

// routeTimeout bounds opening a room to answer another node.
const routeTimeout = 10 * time.Second

// Route makes the manager take the cluster messages for a board that ask
// something of this node whether or not the board is loaded here: sync
// requests (bus.KindSync, answered from the op log) and replicate requests
// (bus.KindReplicate, stored and confirmed). It opens the board's room for
// them (the room unloads again when idle). keeps reports whether this node
// keeps the board (its metadata exists and is not deleted): a message for
// any other board is dropped. The board's other messages (ops, presence,
// sync replies, confirmations) concern only a loaded room, which gets them
// on its own subscription. The returned function stops the routing.
//
// Rejected: leaving the routing to the node, as before: the room package
// then had no say over which of its messages reach it, and the node held
// two handlers that only opened a room and called into it.
func (m *Manager) Route(keeps func(ctx context.Context, board storage.BoardID) bool) (stop func(), err error) {
	routes := []struct {
		kind bus.Kind
		to   func(r *Room, ctx context.Context, from string, data []byte) error
	}{
		{bus.KindSync, (*Room).answerSyncRequest},
		{bus.KindReplicate, (*Room).replicateRequest},
	}
	var cancels []func()
	stop = func() {
		for _, c := range cancels {
			c()
		}
	}
	for _, rt := range routes {
		cancel, err := m.cfg.Bus.SubscribeKind(rt.kind, func(msg bus.Message) {
			// The bus's goroutine must not wait for a room to load.
			go m.route(msg, keeps, rt.to)
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("room: route %s: %w", rt.kind, err)
		}
		cancels = append(cancels, cancel)
	}
	return stop, nil
}

// route hands one message to its board's room, opening it if the node
// keeps the board.
func (m *Manager) route(msg bus.Message, keeps func(context.Context, storage.BoardID) bool, to func(*Room, context.Context, string, []byte) error) {
	ctx, cancel := context.WithTimeout(context.Background(), routeTimeout)
	defer cancel()
	board := storage.BoardID(msg.Board)
	if !keeps(ctx, board) {
		return // unknown or deleted here
	}
	r, err := m.Open(ctx, board)
	if err != nil {
		return
	}
	to(r, ctx, msg.Node, msg.Data)
}
