package crdt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// ReplicaID names a replica: a browser tab, a CLI, or a node making ops of
// its own. It is chosen at random by the replica (64 bits, so collisions
// among the replicas of one board are negligible) and never reused.
//
// Rejected: 16-byte UUIDs as replica ids. Every op, register and character
// carries a replica id, so 8 bytes instead of 16 halves that part of memory
// and of the encoding; ids only need to be unique per board.
type ReplicaID uint64

// String renders the id as 16 lowercase hex digits, the form used in JSON.
func (r ReplicaID) String() string {
	var b [16]byte
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[r&0xf]
		r >>= 4
	}
	return string(b[:])
}

// ParseReplicaID parses the 16-hex-digit form made by String.
func ParseReplicaID(s string) (ReplicaID, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("crdt: replica id %q: want 16 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("crdt: replica id %q: %w", s, ErrMalformed)
	}
	if v == 0 {
		return 0, fmt.Errorf("crdt: replica id 0 is reserved: %w", ErrMalformed)
	}
	return ReplicaID(v), nil
}

// MarshalText implements encoding.TextMarshaler.
func (r ReplicaID) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *ReplicaID) UnmarshalText(b []byte) error {
	v, err := ParseReplicaID(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// OpID identifies one op, and one character of text: the replica that made
// it and that replica's counter. Counters start at 1 and are contiguous per
// replica; a text insert of n characters takes n counters, one per character.
// The zero OpID means "none" (for example the start or the end of a text).
type OpID struct {
	Replica ReplicaID
	Counter uint64
}

// IsZero reports whether id is the "none" id.
func (id OpID) IsZero() bool { return id.Replica == 0 && id.Counter == 0 }

// String renders the id as "counter@replica".
func (id OpID) String() string {
	if id.IsZero() {
		return "none"
	}
	return strconv.FormatUint(id.Counter, 10) + "@" + id.Replica.String()
}

// ElementID names an element (or a board). It is a 16-byte UUID made by
// whoever creates the element; this package treats it as opaque bytes and
// never makes one. The zero ElementID is Root: the board itself, parent of
// every element that has not been moved elsewhere.
type ElementID [16]byte

// Root is the board's root node in the element tree.
var Root ElementID

// IsRoot reports whether e is Root.
func (e ElementID) IsRoot() bool { return e == Root }

// String renders e in the canonical 8-4-4-4-12 UUID form.
func (e ElementID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], e[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], e[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], e[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], e[8:10])
	b[23] = '-'
	hex.Encode(b[24:], e[10:])
	return string(b[:])
}

// ParseElementID parses the canonical UUID form (case-insensitive).
func ParseElementID(s string) (ElementID, error) {
	var e ElementID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return e, fmt.Errorf("crdt: element id %q: %w", s, ErrMalformed)
	}
	src := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(e[:], []byte(src)); err != nil {
		return e, fmt.Errorf("crdt: element id %q: %w", s, ErrMalformed)
	}
	return e, nil
}

// MarshalText implements encoding.TextMarshaler.
func (e ElementID) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *ElementID) UnmarshalText(b []byte) error {
	v, err := ParseElementID(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Errors returned by this package. Decoders and Apply wrap them with detail;
// test with errors.Is.
var (
	// ErrMalformed: the input does not decode, or breaks a structural rule.
	ErrMalformed = errors.New("crdt: malformed input")
	// ErrInvalidOp: the op is well-formed but cannot apply to this document
	// (it names a character of another text, say).
	ErrInvalidOp = errors.New("crdt: invalid op")
	// ErrMissing: a dependency of the change has not arrived yet.
	ErrMissing = errors.New("crdt: dependency missing")
	// ErrConflict: an op id is reused with different content.
	ErrConflict = errors.New("crdt: op id reused with different content")
)
