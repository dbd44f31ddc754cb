package storage

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Sentinel errors. Every error a Store returns is one of these (or a context
// error, or an error from the underlying engine) wrapped with the name of the
// operation, so callers test with errors.Is.
var (
	// ErrNotFound: the key, snapshot or board asked for does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrOverlap: AppendOps was given a record whose (Replica, Start..End)
	// overlaps counters already stored for that board and replica, or another
	// record of the same call. Nothing of the call was written.
	ErrOverlap = errors.New("storage: overlapping op counters")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("storage: closed")
	// ErrCorrupt: data read back does not decode (a bad key, a bad record
	// header, an index entry without its log record). The store never panics
	// on bad data; it returns this.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrInvalid: the caller passed an argument the contract forbids (a
	// record with Start 0 or End < Start, a malformed namespace, a snapshot
	// beyond the end of the log). A caller bug, not a storage fault.
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrTrimmed: ScanReplica was asked for records that TrimOps has dropped.
	// The caller answers with a snapshot instead (see ScanReplica).
	ErrTrimmed = errors.New("storage: records trimmed")
)

// opError wraps err with the operation's name: "append ops: storage: closed".
func opError(op string, err error) error {
	return fmt.Errorf("%s: %w", op, err)
}

// BoardID identifies a board: a UUID, stored as its 16 raw bytes. The byte
// order is the sort order of keys and of Store.Boards, and it matches the
// order of the canonical strings.
type BoardID [16]byte

// String returns the canonical lowercase UUID form,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func (b BoardID) String() string { return uuid.UUID(b).String() }

// ParseBoardID parses the canonical UUID form (hex digits in either case).
// Any other form (braces, "urn:uuid:", no hyphens) is rejected with
// ErrInvalid: a board id has exactly one spelling on the wire.
func ParseBoardID(s string) (BoardID, error) {
	var b BoardID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return BoardID{}, fmt.Errorf("parse board id %q: %w", s, ErrInvalid)
	}
	groups := [...]struct{ from, to, at int }{{0, 8, 0}, {9, 13, 4}, {14, 18, 6}, {19, 23, 8}, {24, 36, 10}}
	for _, g := range groups {
		if _, err := hex.Decode(b[g.at:], []byte(s[g.from:g.to])); err != nil {
			return BoardID{}, fmt.Errorf("parse board id %q: %w", s, ErrInvalid)
		}
	}
	return b, nil
}

// Record is one entry of a board's op log: an encoded change (one or more ops
// of one replica, with consecutive counters Start..End) and the little the
// store needs to index it. The store never decodes Data.
type Record struct {
	Seq      uint64 // position in this node's log of the board, 1,2,3..., assigned by AppendOps
	Replica  uint64 // the change's replica id
	Start    uint64 // first op counter covered (>=1)
	End      uint64 // last op counter covered (>=Start)
	Author   string // who sent it (user id); "" for anonymous
	Accepted int64  // unix ms at which this node accepted it (passed in by the caller)
	Data     []byte // the encoded change, opaque
}

// MetaWrite is one write of an ApplyMeta batch: a Put of Val under (NS, Key),
// or a delete of (NS, Key) when Delete is set.
type MetaWrite struct {
	NS     string
	Key    []byte
	Val    []byte
	Delete bool
}

// Store is the node's durable store: per board an append-only op log, an
// index of it by (replica, counter), and the latest few snapshots; beside them
// a small namespaced key/value space for metadata. See the package doc for
// the contract every implementation keeps; the conformance suite checks it.
//
// Byte slices passed in are not retained after a method returns; byte slices
// passed out (to fn, or returned) belong to the caller.
//
// Scan callbacks run without any store lock held and may call other methods
// of the store, except Close. Every method is safe for concurrent use.
type Store interface {
	// AppendOps appends recs to the board's log atomically and durably: it
	// returns only after the write is fsynced. It assigns Seq to each record,
	// in order, and returns it in place. A record whose (Replica, Start..End)
	// overlaps counters already stored for that board and replica (or another
	// record of recs) fails the whole call with ErrOverlap: the caller
	// de-duplicates first. Concurrent calls, on one board or many, share
	// fsyncs (group commit). Appending nothing is a no-op.
	AppendOps(ctx context.Context, board BoardID, recs []Record) error
	// ScanOps calls fn for the board's records with Seq >= from, ascending,
	// and stops at the first error fn returns, which it returns. Records
	// dropped by TrimOps are skipped silently: Seq is dense, so a caller that
	// needs the whole range sees the gap in the first Seq it is given.
	ScanOps(ctx context.Context, board BoardID, from uint64, fn func(Record) error) error
	// ScanReplica calls fn, ascending by Start, for the records of one
	// replica whose End >= fromCounter: what a peer whose version vector
	// entry for the replica is fromCounter-1 lacks. If any of those records
	// was dropped by TrimOps it returns ErrTrimmed before calling fn at all,
	// since a gap in one replica's counters cannot be seen by the caller; the
	// caller then sends a snapshot plus ScanOps of the tail.
	ScanReplica(ctx context.Context, board BoardID, replica uint64, fromCounter uint64, fn func(Record) error) error
	// LastSeq returns the Seq of the board's last record, 0 for a board with
	// no log. Trimming never lowers it.
	LastSeq(ctx context.Context, board BoardID) (uint64, error)
	// PutSnapshot stores data, the caller's encoded board state as of log
	// position seq (0 <= seq <= LastSeq, else ErrInvalid), durably. Only the
	// latest few snapshots by seq are kept (a configured number); putting one
	// at an existing seq replaces it.
	PutSnapshot(ctx context.Context, board BoardID, seq uint64, data []byte) error
	// LatestSnapshot returns the snapshot with the highest seq, or
	// ErrNotFound if the board has none.
	LatestSnapshot(ctx context.Context, board BoardID) (seq uint64, data []byte, err error)
	// TrimOps drops log records with Seq < before, but never one past the
	// latest snapshot: records after it are what opening the board replays.
	// Without a snapshot it drops nothing. Durable on return.
	TrimOps(ctx context.Context, board BoardID, before uint64) error
	// PutMeta stores val under (ns, key), durably. ns is a short name
	// ("board", "member"): 1 to 32 bytes of a-z, 0-9, '_', '-', '.', else
	// ErrInvalid. key may be any bytes, empty included.
	PutMeta(ctx context.Context, ns string, key []byte, val []byte) error
	// GetMeta returns the value under (ns, key), or ErrNotFound.
	GetMeta(ctx context.Context, ns string, key []byte) ([]byte, error)
	// DeleteMeta removes (ns, key), durably; absent keys are not an error.
	DeleteMeta(ctx context.Context, ns string, key []byte) error
	// ScanMeta calls fn, ascending by key, for the keys of ns that start with
	// prefix, and stops at the first error fn returns, which it returns.
	ScanMeta(ctx context.Context, ns string, prefix []byte, fn func(key, val []byte) error) error
	// ApplyMeta applies writes atomically and durably, in order (a later
	// write to the same key wins).
	ApplyMeta(ctx context.Context, writes []MetaWrite) error
	// DeleteBoard removes the board's log, index and snapshots, durably; not
	// its metadata. A later AppendOps starts again at Seq 1.
	DeleteBoard(ctx context.Context, board BoardID) error
	// Boards calls fn for every board that has a log, ascending, and stops at
	// the first error fn returns, which it returns.
	Boards(ctx context.Context, fn func(BoardID) error) error
	// Close waits for calls in progress, then releases the store; later
	// calls return ErrClosed, as does a second Close.
	Close() error
}

// defaultKeepSnapshots is how many snapshots per board are kept when the
// options leave it zero: the latest, plus one in case the latest turns out
// not to decode under a newer version of the node.
const defaultKeepSnapshots = 2

// checkRecords validates recs against the contract and checks that they do
// not overlap one another. It does not look at the store.
func checkRecords(recs []Record) error {
	type span struct{ replica, start, end uint64 }
	var spans []span
	for i := range recs {
		r := &recs[i]
		if r.Start == 0 || r.End < r.Start {
			return fmt.Errorf("record %d (replica %d counters %d..%d): %w", i, r.Replica, r.Start, r.End, ErrInvalid)
		}
		if len(recs) > 1 {
			spans = append(spans, span{r.Replica, r.Start, r.End})
		}
	}
	if len(spans) < 2 {
		return nil
	}
	// A batch is usually a handful of records; quadratic is cheaper than
	// sorting below a few dozen, and sorting keeps the worst case sane.
	if len(spans) <= 32 {
		for i := range spans {
			for j := i + 1; j < len(spans); j++ {
				a, b := spans[i], spans[j]
				if a.replica == b.replica && a.start <= b.end && b.start <= a.end {
					return fmt.Errorf("replica %d counters %d..%d and %d..%d in one call: %w", a.replica, a.start, a.end, b.start, b.end, ErrOverlap)
				}
			}
		}
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int {
		if c := cmp.Compare(a.replica, b.replica); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	for i := 1; i < len(spans); i++ {
		a, b := spans[i-1], spans[i]
		if a.replica == b.replica && b.start <= a.end {
			return fmt.Errorf("replica %d counters %d..%d and %d..%d in one call: %w", a.replica, a.start, a.end, b.start, b.end, ErrOverlap)
		}
	}
	return nil
}

// MetaCache is a Store that can also apply metadata writes without
// waiting for them to be durable (Pebble.ApplyMetaUnsynced): for a copy of
// data kept durably elsewhere, which can be rebuilt from there.
type MetaCache interface {
	ApplyMetaUnsynced(ctx context.Context, writes []MetaWrite) error
}

// LogSizer is a Store that can tell how many bytes a board's op log takes
// (Pebble.LogBytes, Memory.LogBytes): what a node's per-board bound on
// history (room.Config.MaxLogBytes) reads when a board loads and after a
// trim.
type LogSizer interface {
	LogBytes(ctx context.Context, board BoardID) (int64, error)
}
