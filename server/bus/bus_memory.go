package bus

import (
	"sync"
)

// Hub is an in-memory bus shared by several nodes in one process (tests).
// Each node gets its own Memory from Hub.Node.
type Hub struct {
	mu struct {
		sync.Mutex
		subs    map[[16]byte]map[*memSub]struct{}
		cluster map[Kind]map[*memSub]struct{}
		kinds   map[Kind]map[*memSub]struct{}
		cut     map[string]bool // nodes cut off: nothing to or from them
	}
}

type memSub struct {
	node string
	h    Handler
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	h := &Hub{}
	h.mu.subs = map[[16]byte]map[*memSub]struct{}{}
	h.mu.cluster = map[Kind]map[*memSub]struct{}{}
	h.mu.kinds = map[Kind]map[*memSub]struct{}{}
	h.mu.cut = map[string]bool{}
	return h
}

// Cut cuts a node off the hub (cut=true) or brings it back: while cut,
// messages to and from it are dropped, as in a network partition.
func (h *Hub) Cut(node string, cut bool) {
	h.mu.Lock()
	h.mu.cut[node] = cut
	h.mu.Unlock()
}

// reachable reports whether a message from one node reaches another.
func (h *Hub) reachableLocked(from, to string) bool {
	return from != to && !h.mu.cut[from] && !h.mu.cut[to]
}

// Memory is one node's view of a Hub.
type Memory struct {
	hub    *Hub
	node   string
	closed bool
}

// Node returns the bus of the named node.
func (h *Hub) Node(name string) *Memory { return &Memory{hub: h, node: name} }

// Publish delivers synchronously to every other node's handlers.
func (m *Memory) Publish(board [16]byte, kind Kind, data []byte) error {
	if m.closed {
		return ErrClosed
	}
	m.hub.mu.Lock()
	var hs []Handler
	for s := range m.hub.mu.subs[board] {
		if m.hub.reachableLocked(m.node, s.node) {
			hs = append(hs, s.h)
		}
	}
	for s := range m.hub.mu.kinds[kind] {
		if m.hub.reachableLocked(m.node, s.node) {
			hs = append(hs, s.h)
		}
	}
	m.hub.mu.Unlock()
	for _, h := range hs {
		h(Message{Board: board, Kind: kind, Node: m.node, Data: append([]byte(nil), data...)})
	}
	return nil
}

// Subscribe registers h for the board.
func (m *Memory) Subscribe(board [16]byte, h Handler) (func(), error) {
	if m.closed {
		return nil, ErrClosed
	}
	s := &memSub{node: m.node, h: h}
	m.hub.mu.Lock()
	if m.hub.mu.subs[board] == nil {
		m.hub.mu.subs[board] = map[*memSub]struct{}{}
	}
	m.hub.mu.subs[board][s] = struct{}{}
	m.hub.mu.Unlock()
	return func() {
		m.hub.mu.Lock()
		delete(m.hub.mu.subs[board], s)
		m.hub.mu.Unlock()
	}, nil
}

// SubscribeKind registers h for board messages of the kind on any board.
func (m *Memory) SubscribeKind(kind Kind, h Handler) (func(), error) {
	if m.closed {
		return nil, ErrClosed
	}
	s := &memSub{node: m.node, h: h}
	m.hub.mu.Lock()
	if m.hub.mu.kinds[kind] == nil {
		m.hub.mu.kinds[kind] = map[*memSub]struct{}{}
	}
	m.hub.mu.kinds[kind][s] = struct{}{}
	m.hub.mu.Unlock()
	return func() {
		m.hub.mu.Lock()
		delete(m.hub.mu.kinds[kind], s)
		m.hub.mu.Unlock()
	}, nil
}

// PublishCluster delivers synchronously to every other node's handlers.
func (m *Memory) PublishCluster(kind Kind, data []byte) error {
	if m.closed {
		return ErrClosed
	}
	m.hub.mu.Lock()
	var hs []Handler
	for s := range m.hub.mu.cluster[kind] {
		if m.hub.reachableLocked(m.node, s.node) {
			hs = append(hs, s.h)
		}
	}
	m.hub.mu.Unlock()
	for _, h := range hs {
		h(Message{Kind: kind, Node: m.node, Data: append([]byte(nil), data...)})
	}
	return nil
}

// SubscribeCluster registers h for the kind.
func (m *Memory) SubscribeCluster(kind Kind, h Handler) (func(), error) {
	if m.closed {
		return nil, ErrClosed
	}
	s := &memSub{node: m.node, h: h}
	m.hub.mu.Lock()
	if m.hub.mu.cluster[kind] == nil {
		m.hub.mu.cluster[kind] = map[*memSub]struct{}{}
	}
	m.hub.mu.cluster[kind][s] = struct{}{}
	m.hub.mu.Unlock()
	return func() {
		m.hub.mu.Lock()
		delete(m.hub.mu.cluster[kind], s)
		m.hub.mu.Unlock()
	}, nil
}

// Connected is always true until Close.
func (m *Memory) Connected() bool { return !m.closed }

// Close stops publishing.
func (m *Memory) Close() error { m.closed = true; return nil }
