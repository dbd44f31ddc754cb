// Package bus carries ops and presence between the nodes of a cluster. A
// node publishes what it accepted on a board's subject; every other node
// with that board open receives it. The interface has two implementations:
// NATS (embedded server by default, or an external cluster by URL) and an
// in-memory hub for tests that run several nodes in one process.
//
// The bus promises at-most-once delivery: a message can be lost (a node
// down, a slow consumer dropped, a partition). Live ops (KindOps) are the
// fast path only; correctness after a loss comes from catch-up between
// nodes (anti-entropy), which runs over the same bus, on the board's
// subject: a room publishes its version vector (KindSync) when it loads,
// every sync interval, after a gap and after a reconnect; every node that
// stores the board answers from its op log with what the asker lacks
// (KindSyncReply, addressed to the asker, paged). A lost request or reply
// costs one round: the next request repairs it. Acks after replication
// use it too (KindReplicate: "store these and confirm"; KindReplicated,
// addressed to the asking node). The room package does all of this
// (server/room, sync.go and confirm.go); the bus only carries bytes.
//
// Subjects are derived from validated board ids only (hex), never from
// client input: cb.<board hex>.<kind> for a board's messages (ops,
// presence, sync, syncreply, replicate, replicated), cb._cluster.<kind>
// for the cluster-wide ones.
package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Kind is what a message carries.
type Kind string

// Message kinds.
const (
	KindOps      Kind = "ops"      // encoded crdt batch, accepted and durable on the sender
	KindPresence Kind = "presence" // ephemeral presence frame (JSON)
)

// Message is one bus message as received.
type Message struct {
	Board [16]byte
	Kind  Kind
	Node  string // the sending node
	Data  []byte
}

// Handler receives messages. It runs on the bus's goroutine and must not
// block: hand the message to the room through a bounded queue.
type Handler func(Message)

// Bus publishes and subscribes per board.
type Bus interface {
	// Publish sends data on the board's subject of this kind. Messages this
	// node published are not delivered back to it.
	Publish(board [16]byte, kind Kind, data []byte) error
	// Subscribe delivers the board's messages (of every kind) from other
	// nodes to h until the returned cancel function is called.
	Subscribe(board [16]byte, h Handler) (cancel func(), err error)
	// SubscribeKind delivers other nodes' board messages of one kind, for
	// every board (cb.*.<kind>): how a node hears sync requests for boards
	// it has not loaded.
	SubscribeKind(kind Kind, h Handler) (cancel func(), err error)
	// PublishCluster sends data to every other node on a cluster-wide
	// subject (heartbeats): cb._cluster.<kind>.
	PublishCluster(kind Kind, data []byte) error
	// SubscribeCluster delivers other nodes' cluster messages of a kind.
	SubscribeCluster(kind Kind, h Handler) (cancel func(), err error)
	// Connected reports whether the bus can currently deliver.
	Connected() bool
	Close() error
}

// Cluster and catch-up message kinds.
const (
	KindHeartbeat  Kind = "heartbeat"  // cluster: a node announces itself
	KindSync       Kind = "sync"       // board: "here is my version: send what I lack"
	KindSyncReply  Kind = "syncreply"  // board: changes for one requesting node
	KindReplicate  Kind = "replicate"  // board: "store these and confirm" (acks after replication)
	KindReplicated Kind = "replicated" // board: "stored": a confirmation for one node
)

func clusterSubject(kind Kind) string { return "cb._cluster." + string(kind) }

// ErrClosed is returned after Close.
var ErrClosed = errors.New("bus: closed")

func subject(board [16]byte, kind Kind) string {
	const hexd = "0123456789abcdef"
	var b strings.Builder
	b.Grow(3 + 32 + 1 + len(kind))
	b.WriteString("cb.")
	for _, c := range board {
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	b.WriteByte('.')
	b.WriteString(string(kind))
	return b.String()
}

// envelope prefixes data with the sending node's id, so receivers can drop
// their own messages and know the origin.
func envelope(node string, data []byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen16+len(node)+len(data))
	b = binary.AppendUvarint(b, uint64(len(node)))
	b = append(b, node...)
	return append(b, data...)
}

func openEnvelope(b []byte) (node string, data []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) || n > 256 {
		return "", nil, fmt.Errorf("bus: bad envelope")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

func parseSubject(s string) (board [16]byte, kind Kind, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != "cb" || len(parts[1]) != 32 {
		return board, "", false
	}
	for i := 0; i < 16; i++ {
		hi, lo := unhex(parts[1][2*i]), unhex(parts[1][2*i+1])
		if hi < 0 || lo < 0 {
			return board, "", false
		}
		board[i] = byte(hi<<4 | lo)
	}
	return board, Kind(parts[2]), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
