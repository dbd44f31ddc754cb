// Package protocol defines Corkboard's WebSocket wire protocol: the frames a
// client and a node exchange, their encodings, and the one table of error
// and close codes. docs/PROTOCOL.md is its prose; keep them in step.
//
// Text WebSocket messages carry JSON control frames ({"type": ...}); binary
// messages carry op batches and snapshots in the compact binary form of
// package crdt, behind a one-byte tag. A client may also send and receive
// ops as JSON (hello's "format"), which is slower but needs no codec.
//
// This package only encodes and decodes: it never touches a socket, a room
// or a store. Every decoder returns an error for bad input, never panics.
package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/corkboard/corkboard/crdt"
)

// Subprotocol is the WebSocket subprotocol of this version.
const Subprotocol = "corkboard.v1"

// Limits enforced by nodes; documented in docs/PROTOCOL.md.
const (
	MaxMessageBytes  = 1 << 20 // one WebSocket message
	MaxPresenceBytes = 2048    // presence data of one frame
	MaxNameBytes     = 64      // display name
	// MaxFrameOps bounds the ops of one client ops frame, all its changes
	// together (twice what one change may hold): decoded, an op takes a
	// couple of hundred bytes, and a megabyte of the smallest ops would
	// have decoded to a hundred megabytes. The web client's frames (at
	// most 500 changes and 512 KiB) stay far below it.
	MaxFrameOps = 2 * crdt.MaxOps
)

// Binary message tags (first byte).
const (
	TagOps      byte = 0x01 // client → node: seq uvarint, then a crdt batch
	TagOpsOut   byte = 0x02 // node → client: a crdt batch
	TagSnapshot byte = 0x03 // node → client: a crdt snapshot
	TagFarView  byte = 0x04 // node → client: a far-view summary (server/farview), before a snapshot
)

// Frame types of JSON messages.
const (
	TypeHello    = "hello"
	TypeWelcome  = "welcome"
	TypeOps      = "ops"
	TypeSynced   = "synced"
	TypeAck      = "ack"
	TypeError    = "error"
	TypePresence = "presence"
	TypeLeave    = "leave"
	TypePing     = "ping"
	TypePong     = "pong"
	TypeShutdown = "shutdown"
)

// Formats a client can ask for its ops.
const (
	FormatBinary = "binary"
	FormatJSON   = "json"
)

// Hello is the first frame a client sends.
type Hello struct {
	Type    string             `json:"type"`
	Replica crdt.ReplicaID     `json:"replica"`
	Version crdt.VersionVector `json:"version"`
	Name    string             `json:"name,omitempty"`  // display name for guests
	Color   string             `json:"color,omitempty"` // cursor colour
	Format  string             `json:"format,omitempty"`
	// FarView asks for the far-view summary (TagFarView) ahead of a first
	// visit's snapshot when the board holds at least this many elements;
	// 0: never.
	FarView int `json:"farView,omitempty"`
}

// User describes the person behind a session.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
	Role  string `json:"role"`
}

// Welcome answers a hello.
type Welcome struct {
	Type    string             `json:"type"`
	Node    string             `json:"node"`
	Board   string             `json:"board"`
	Session string             `json:"session"`
	User    User               `json:"user"`
	Version crdt.VersionVector `json:"version"`
	// Catchup says how the node brings the client up to date: "ops" (the
	// changes it lacks follow, Changes of them) or "snapshot" (one binary
	// snapshot message of the board's current state follows: a binary
	// session that lacks much, or any session whose lack reaches past a
	// trimmed log or 16 MiB of changes; docs/PROTOCOL.md section 9).
	// Synced follows both.
	Catchup string `json:"catchup"`
	Changes int    `json:"changes"`
	Peers   []Peer `json:"peers"`
	// Now is the node's clock (unix ms) as it sent the welcome. Clients
	// stamp their changes with their clock's offset to it: a change whose
	// time runs more than a few minutes past the node's clock is refused
	// ("clock_ahead").
	Now int64 `json:"now,omitempty"`
	// Token is set for a guest (no token given): it keeps the guest's
	// identity, so a reconnect with the same replica id is accepted.
	// Clients keep it and present it next time.
	Token string `json:"token,omitempty"`
}

// OpsJSON carries changes in JSON form, both ways. Seq is set by clients
// and echoed by the ack.
type OpsJSON struct {
	Type    string        `json:"type"`
	Seq     uint64        `json:"seq,omitempty"`
	Changes []crdt.Change `json:"changes"`
}

// Synced ends the catch-up: from now on the client gets live ops.
type Synced struct {
	Type    string             `json:"type"`
	Version crdt.VersionVector `json:"version"`
}

// Ack confirms that every change of batch Seq is durable (or was already
// there): the client may drop them from its outbox.
type Ack struct {
	Type      string `json:"type"`
	Seq       uint64 `json:"seq"`
	Applied   int    `json:"applied"`
	Duplicate int    `json:"duplicate"`
	Held      int    `json:"held"`
}

// Error reports a refused frame. Seq names the refused batch, if any;
// for a batch, Accepted says how many of its changes (the first ones) were
// accepted and are durable before the refused one: no ack follows.
// RetryAfter, when set, is in how many seconds the refused batch may be
// sent again with a chance of being taken (the day's bytes of changes,
// which end then).
type Error struct {
	Type       string `json:"type"`
	Code       Code   `json:"code"`
	Message    string `json:"message"`
	Seq        uint64 `json:"seq,omitempty"`
	Accepted   int    `json:"accepted,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// RetryAfterSeconds is an error frame's retryAfter (or a Retry-After
// header's value) for a wait d: whole seconds, rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Peer is one connected session, for presence.
type Peer struct {
	Session string         `json:"session"`
	Replica crdt.ReplicaID `json:"replica"`
	User    string         `json:"user"`
	Name    string         `json:"name"`
	Color   string         `json:"color,omitempty"`
	// Role is the peer's current role on the board (RoleOwner …), from the
	// board's settings at the time of the frame, never from the peer's
	// own data: a client grants what presence asks of it (a presenter's
	// spotlight) only to the roles allowed to ask.
	Role string          `json:"role,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Presence: from a client, Data is its new state (cursor, selection,
// viewport: free-form JSON up to MaxPresenceBytes); from the node, Peer is
// one peer's state.
type Presence struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	Peer *Peer           `json:"peer,omitempty"`
}

// Leave says a peer left.
type Leave struct {
	Type    string `json:"type"`
	Session string `json:"session"`
}

// Ping and Pong check liveness at the application level.
type Ping struct {
	Type string `json:"type"`
	N    uint64 `json:"n,omitempty"`
}

// Roles, from most to least powerful: what a User's Role and a RoleFrame
// name. Packages account and room use these names.
const (
	RoleOwner     = "owner"
	RoleEditor    = "editor"
	RoleCommenter = "commenter"
	RoleViewer    = "viewer"
)

// TypeSettings is the type of SettingsFrame.
const TypeSettings = "settings"

// SettingsFrame tells every connection of a board, on every node, that
// the board's settings changed, with those that govern the canvas: the
// deadline, the voting state and the facilitation timer. Now is the
// node's clock (unix ms), so that clients count down from the node's time.
type SettingsFrame struct {
	Type     string          `json:"type"`               // "settings"
	Deadline int64           `json:"deadline,omitempty"` // unix ms; 0: none
	Closed   bool            `json:"closed,omitempty"`   // past the deadline
	Voting   string          `json:"voting,omitempty"`   // "open", "closed" or "" (none)
	Timer    json.RawMessage `json:"timer,omitempty"`    // the board's timer (meta.Timer)
	Now      int64           `json:"now"`
}

// TypeRole is the type of RoleFrame.
const TypeRole = "role"

// RoleFrame tells a client its role on the board changed (an owner
// promoted or demoted it); the node enforces the new role from the next
// change on.
type RoleFrame struct {
	Type string `json:"type"` // "role"
	Role string `json:"role"`
}

// Shutdown tells clients the node is going away: reconnect (elsewhere).
type Shutdown struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// ClientFrame is any JSON frame a client may send, decoded.
type ClientFrame struct {
	Type     string
	Hello    *Hello
	Ops      *OpsJSON
	Presence *Presence
	Ping     *Ping
}

var errBadFrame = errors.New("protocol: bad frame")

// DecodeClientText decodes a client's JSON frame, strictly. The frame must
// be valid UTF-8 as a whole: encoding/json keeps raw bytes (presence data)
// as they are, and relaying invalid UTF-8 in a text message makes every
// browser that gets it drop its connection (RFC 6455, section 8.1).
func DecodeClientText(b []byte) (ClientFrame, error) {
	if !utf8.Valid(b) {
		return ClientFrame{}, fmt.Errorf("%w: a text message must be valid UTF-8", errBadFrame)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return ClientFrame{}, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	f := ClientFrame{Type: head.Type}
	if head.Type == TypeOps && jsonOpsOver(b, MaxFrameOps) {
		// Counted before decoding: decoded, a megabyte of empty ops
		// ({},{},…) was 349,490 of them, 429 MB allocated, before the
		// count below refused it.
		return ClientFrame{}, fmt.Errorf("%w: ops: more than %d ops", errBadFrame, MaxFrameOps)
	}
	var dst any
	switch head.Type {
	case TypeHello:
		f.Hello = &Hello{}
		dst = f.Hello
	case TypeOps:
		f.Ops = &OpsJSON{}
		dst = f.Ops
	case TypePresence:
		f.Presence = &Presence{}
		dst = f.Presence
	case TypePing:
		f.Ping = &Ping{}
		dst = f.Ping
	default:
		return ClientFrame{}, fmt.Errorf("%w: unknown type %q", errBadFrame, head.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return ClientFrame{}, fmt.Errorf("%w: %s: %v", errBadFrame, head.Type, err)
	}
	if dec.More() {
		return ClientFrame{}, fmt.Errorf("%w: trailing data", errBadFrame)
	}
	switch {
	case f.Hello != nil:
		if f.Hello.Replica == 0 {
			return ClientFrame{}, fmt.Errorf("%w: hello: replica missing", errBadFrame)
		}
		if len(f.Hello.Name) > MaxNameBytes || len(f.Hello.Color) > 32 {
			return ClientFrame{}, fmt.Errorf("%w: hello: name or colour too long", errBadFrame)
		}
		switch f.Hello.Format {
		case "", FormatBinary, FormatJSON:
		default:
			return ClientFrame{}, fmt.Errorf("%w: hello: unknown format %q", errBadFrame, f.Hello.Format)
		}
	case f.Ops != nil:
		if len(f.Ops.Changes) == 0 {
			return ClientFrame{}, fmt.Errorf("%w: ops: no changes", errBadFrame)
		}
		n := 0
		for _, c := range f.Ops.Changes {
			n += len(c.Ops)
		}
		if n > MaxFrameOps {
			return ClientFrame{}, fmt.Errorf("%w: ops: more than %d ops", errBadFrame, MaxFrameOps)
		}
	case f.Presence != nil:
		if len(f.Presence.Data) > MaxPresenceBytes || f.Presence.Peer != nil {
			return ClientFrame{}, fmt.Errorf("%w: presence: data over %d bytes or peer set", errBadFrame, MaxPresenceBytes)
		}
		if len(f.Presence.Data) > 0 && !json.Valid(f.Presence.Data) {
			return ClientFrame{}, fmt.Errorf("%w: presence: data is not JSON", errBadFrame)
		}
	}
	return f, nil
}

// jsonOpsOver says whether a JSON ops frame holds more than max ops,
// without decoding it: it counts the values of the arrays four levels deep
// (the frame, its "changes" array, a change, its "ops" array), as their
// commas and one for each such array. Values of any kind count: a null or
// a number in "ops" was decoded into an op all the same (0,0,0,… passed a
// count of objects). Anything else an array at that depth would hold is
// counted too, so the count never falls below the ops; a frame that is
// not JSON is left to the decoder.
func jsonOpsOver(b []byte, max int) bool {
	depth, n := 0, 0
	var arrays uint64 // bit i: the container at depth i+1 is an array
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',':
			if depth == 4 && arrays&(1<<3) != 0 {
				n++
			}
		case '{', '[':
			if depth < 64 {
				if c == '[' {
					arrays |= 1 << depth
				} else {
					arrays &^= 1 << depth
				}
			}
			depth++
			if depth == 4 && c == '[' {
				n++ // its first value
			}
		case '}', ']':
			depth--
		}
		if n > max {
			return true
		}
	}
	return false
}

// EncodeOpsFrame builds a client's binary ops message.
func EncodeOpsFrame(seq uint64, changes []crdt.Change) []byte {
	b := []byte{TagOps}
	b = binary.AppendUvarint(b, seq)
	return append(b, crdt.EncodeBatch(changes)...)
}

// DecodeOpsFrame decodes a client's binary ops message.
func DecodeOpsFrame(b []byte) (seq uint64, changes []crdt.Change, err error) {
	if len(b) == 0 || b[0] != TagOps {
		return 0, nil, fmt.Errorf("%w: binary message must start with tag %#x", errBadFrame, TagOps)
	}
	seq, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad seq", errBadFrame)
	}
	// From here on the seq is known: errors return it, so the refusal can
	// name the batch.
	changes, err = crdt.DecodeBatchLimit(b[1+n:], MaxFrameOps)
	if err != nil {
		return seq, nil, err
	}
	if len(changes) == 0 {
		return seq, nil, fmt.Errorf("%w: ops: no changes", errBadFrame)
	}
	return seq, changes, nil
}

// EncodeOpsOut builds the node's binary ops message from encoded changes.
func EncodeOpsOut(encoded [][]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, e := range encoded {
		n += len(e) + binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	b = append(b, TagOpsOut)
	b = binary.AppendUvarint(b, uint64(len(encoded)))
	for _, e := range encoded {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// DecodeOpsOut decodes the node's binary ops message (for clients and tests).
func DecodeOpsOut(b []byte) ([]crdt.Change, error) {
	if len(b) == 0 || b[0] != TagOpsOut {
		return nil, fmt.Errorf("%w: not an ops message", errBadFrame)
	}
	return crdt.DecodeBatch(b[1:])
}

// JSON marshals a frame; frames are plain structs, so this cannot fail.
func JSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: " + err.Error())
	}
	return b
}

// Unmarshal decodes a node's JSON frame (for clients).
func Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// MergeOpsOut joins several node ops messages (TagOpsOut) into one, without
// decoding the changes: a slow moment's backlog goes out as one WebSocket
// message instead of many. Messages that do not parse are an error.
func MergeOpsOut(msgs [][]byte) ([]byte, error) {
	total, size := uint64(0), 1+binary.MaxVarintLen64
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		if len(m) == 0 || m[0] != TagOpsOut {
			return nil, fmt.Errorf("%w: not an ops message", errBadFrame)
		}
		n, k := binary.Uvarint(m[1:])
		if k <= 0 {
			return nil, fmt.Errorf("%w: bad count", errBadFrame)
		}
		total += n
		bodies[i] = m[1+k:]
		size += len(bodies[i])
	}
	out := make([]byte, 0, size)
	out = append(out, TagOpsOut)
	out = binary.AppendUvarint(out, total)
	for _, b := range bodies {
		out = append(out, b...)
	}
	return out, nil
}
