package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// The key layout of the Pebble store. This comment is the one place it is
// written down; change it here and in the helpers below together, and bump
// storeFormat if old stores no longer read right.
//
// Every key starts with a one-byte space, so the spaces never interleave and
// each can be scanned or range-deleted on its own. Numbers are fixed 8-byte
// big-endian so that byte order is numeric order. A board is its 16 raw bytes.
//
//	space  key                                   value
//	0x00   0x00 "format"                         uvarint storeFormat
//	0x01   0x01 board                            uvarint first retained Seq (the board's head)
//	0x02   0x02 board seq                        record: header, then Data (below)
//	0x03   0x03 board replica start              uvarint seq, uvarint end-start
//	0x04   0x04 board seq                        snapshot data, opaque
//	0x05   0x05 ns 0x00 key                      metadata value, opaque
//	0x06   0x06 board seq                        empty: the snapshots that exist (an index of 0x04)
//
// The head (0x01) exists exactly while the board has a log: it is written
// with the board's first records and removed by DeleteBoard, so listing
// boards reads one key per board. It holds the trim point: records below it
// were dropped by TrimOps. LastSeq is not stored: it is the Seq of the last
// log key, or head-1 when trimming left no record (the snapshot then covers
// the whole log). Storing it would rewrite one key per append for nothing.
//
// The index (0x03) maps a replica's counters to log positions. Its value
// carries End so that the overlap check and ScanReplica read only the index.
// A replica's stored spans never overlap (AppendOps refuses it), so sorted by
// Start they are sorted by End too: the one span that can overlap
// [Start, End] is the last one starting at or before End, found by a single
// SeekLT. TrimOps keeps index entries (about 40 bytes a record, before
// Pebble's prefix compression): without them a re-sent old change would no
// longer be refused as an overlap, and ScanReplica could not tell a peer
// that what it lacks is gone (ErrTrimmed). Rejected: deleting them and
// keeping a per-replica "trimmed through" counter, which is wrong when a
// replica's changes arrive out of order and one older than the counter
// arrives after the trim.
//
// Metadata keys (0x05) put the namespace before the caller's key with a 0x00
// terminator; namespaces never contain 0x00, so no namespace's keys can run
// into another's, and a prefix scan of one namespace is a range scan.
//
// A record value is a small header of varints, then Data:
//
//	byte     recordFormat (1)
//	uvarint  replica
//	uvarint  start
//	uvarint  end - start
//	uvarint  len(author), then author's bytes
//	varint   accepted (unix ms)
//	...      data: the rest of the value
//
// A typical header is 10-20 bytes. Seq is not in the value: it is the key.
const (
	spaceStore byte = 0x00
	spaceHead  byte = 0x01
	spaceLog   byte = 0x02
	spaceIndex byte = 0x03
	spaceSnap  byte = 0x04
	spaceMeta  byte = 0x05
	// spaceSnapSeq: 0x06 ++ board ++ seq (big-endian), empty value — one
	// per stored snapshot, written and deleted in the same batches as the
	// snapshot. Finding a board's latest snapshot walks these small keys
	// instead of the snapshots themselves: a reverse step over the
	// snapshot space reads (and decompresses) the multi-megabyte blocks of
	// two snapshots, where this index plus one point read reads one. Stores
	// written before it have no entries; the snapshot space is walked then.
	spaceSnapSeq byte = 0x06
)

const (
	// storeFormat is the layout version recorded in the store; OpenPebble
	// refuses a store with another.
	storeFormat = 1
	// recordFormat is the first byte of every record value.
	recordFormat = 1
	// maxNamespaceLen bounds metadata namespaces: they are names, not data.
	maxNamespaceLen = 32
)

var storeFormatKey = []byte{spaceStore, 'f', 'o', 'r', 'm', 'a', 't'}

const (
	boardKeyLen = 1 + 16
	logKeyLen   = 1 + 16 + 8
	indexKeyLen = 1 + 16 + 8 + 8
	snapKeyLen  = 1 + 16 + 8
)

// boardPrefix is the prefix of a board's keys in space sp.
func boardPrefix(sp byte, b BoardID) []byte {
	k := make([]byte, boardKeyLen, indexKeyLen)
	k[0] = sp
	copy(k[1:], b[:])
	return k
}

func headKey(b BoardID) []byte { return boardPrefix(spaceHead, b) }

func logKey(b BoardID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(boardPrefix(spaceLog, b), seq)
}

func snapKey(b BoardID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(boardPrefix(spaceSnap, b), seq)
}

func snapSeqKey(b BoardID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(boardPrefix(spaceSnapSeq, b), seq)
}

func indexReplicaPrefix(b BoardID, replica uint64) []byte {
	return binary.BigEndian.AppendUint64(boardPrefix(spaceIndex, b), replica)
}

func indexKey(b BoardID, replica, start uint64) []byte {
	return binary.BigEndian.AppendUint64(indexReplicaPrefix(b, replica), start)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// for an exclusive upper bound; nil (no bound) if there is none.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func decodeHeadKey(k []byte) (BoardID, error) {
	if len(k) != boardKeyLen || k[0] != spaceHead {
		return BoardID{}, fmt.Errorf("head key %x: %w", k, ErrCorrupt)
	}
	return BoardID(k[1:17]), nil
}

// decodeSeqKey decodes a log or snapshot key of space sp.
func decodeSeqKey(sp byte, k []byte) (BoardID, uint64, error) {
	if len(k) != logKeyLen || k[0] != sp {
		return BoardID{}, 0, fmt.Errorf("key %x in space %#x: %w", k, sp, ErrCorrupt)
	}
	return BoardID(k[1:17]), binary.BigEndian.Uint64(k[17:]), nil
}

func decodeLogKey(k []byte) (BoardID, uint64, error)  { return decodeSeqKey(spaceLog, k) }
func decodeSnapKey(k []byte) (BoardID, uint64, error) { return decodeSeqKey(spaceSnap, k) }

func decodeIndexKey(k []byte) (b BoardID, replica, start uint64, err error) {
	if len(k) != indexKeyLen || k[0] != spaceIndex {
		return BoardID{}, 0, 0, fmt.Errorf("index key %x: %w", k, ErrCorrupt)
	}
	return BoardID(k[1:17]), binary.BigEndian.Uint64(k[17:25]), binary.BigEndian.Uint64(k[25:]), nil
}

// checkNamespace enforces the namespace rule: 1 to 32 bytes of lowercase
// ASCII letters, digits, '_', '-' and '.'. The rule keeps 0x00 (the
// terminator) out and keeps namespaces readable in a key dump.
func checkNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > maxNamespaceLen {
		return fmt.Errorf("namespace %q: length %d not in 1..%d: %w", ns, len(ns), maxNamespaceLen, ErrInvalid)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("namespace %q: byte %#x not allowed: %w", ns, c, ErrInvalid)
		}
	}
	return nil
}

// metaKey returns the key of (ns, key); ns must have passed checkNamespace.
// With a prefix for key it is the prefix of a ScanMeta range.
func metaKey(ns string, key []byte) []byte {
	k := make([]byte, 0, 1+len(ns)+1+len(key))
	k = append(k, spaceMeta)
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, key...)
}

func decodeMetaKey(k []byte) (ns string, key []byte, err error) {
	if len(k) < 3 || k[0] != spaceMeta {
		return "", nil, fmt.Errorf("meta key %x: %w", k, ErrCorrupt)
	}
	i := bytes.IndexByte(k[1:], 0)
	if i < 0 {
		return "", nil, fmt.Errorf("meta key %x: no namespace terminator: %w", k, ErrCorrupt)
	}
	ns = string(k[1 : 1+i])
	if checkNamespace(ns) != nil {
		return "", nil, fmt.Errorf("meta key %x: bad namespace: %w", k, ErrCorrupt)
	}
	return ns, k[2+i:], nil
}

// The head value: the first retained Seq (>= 1). The same encoding stamps
// the store format.
func encodeHeadValue(first uint64) []byte { return binary.AppendUvarint(nil, first) }

func decodeHeadValue(v []byte) (first uint64, err error) {
	first, n := binary.Uvarint(v)
	if n <= 0 || n != len(v) || first == 0 {
		return 0, fmt.Errorf("board head %x: %w", v, ErrCorrupt)
	}
	return first, nil
}

func encodeIndexValue(seq, start, end uint64) []byte {
	v := make([]byte, 0, 2*binary.MaxVarintLen64)
	v = binary.AppendUvarint(v, seq)
	return binary.AppendUvarint(v, end-start)
}

// decodeIndexValue decodes an index value of the entry whose key holds start.
func decodeIndexValue(v []byte, start uint64) (seq, end uint64, err error) {
	seq, n := binary.Uvarint(v)
	if n <= 0 || seq == 0 {
		return 0, 0, fmt.Errorf("index value %x: %w", v, ErrCorrupt)
	}
	span, m := binary.Uvarint(v[n:])
	if m <= 0 || n+m != len(v) || span > math.MaxUint64-start {
		return 0, 0, fmt.Errorf("index value %x: %w", v, ErrCorrupt)
	}
	return seq, start + span, nil
}

// encodeRecordValue appends the value of r's log key to dst: the header,
// then r.Data. r must have passed checkRecords.
func encodeRecordValue(dst []byte, r *Record) []byte {
	dst = append(dst, recordFormat)
	dst = binary.AppendUvarint(dst, r.Replica)
	dst = binary.AppendUvarint(dst, r.Start)
	dst = binary.AppendUvarint(dst, r.End-r.Start)
	dst = binary.AppendUvarint(dst, uint64(len(r.Author)))
	dst = append(dst, r.Author...)
	dst = binary.AppendVarint(dst, r.Accepted)
	return append(dst, r.Data...)
}

// recordValueSize is the length of encodeRecordValue's output.
func recordValueSize(r *Record) int {
	return 1 + uvarintLen(r.Replica) + uvarintLen(r.Start) + uvarintLen(r.End-r.Start) +
		uvarintLen(uint64(len(r.Author))) + len(r.Author) + binary.MaxVarintLen64 + len(r.Data)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// decodeRecordValue decodes a log value; seq comes from the key. The
// returned Data aliases v. Any malformed value, including one that decodes
// to Start 0 or an End that overflows, is ErrCorrupt.
func decodeRecordValue(seq uint64, v []byte) (Record, error) {
	corrupt := func(what string) (Record, error) {
		return Record{}, fmt.Errorf("record seq %d: %s: %w", seq, what, ErrCorrupt)
	}
	if len(v) == 0 || v[0] != recordFormat {
		return corrupt("unknown format")
	}
	p := v[1:]
	next := func() (uint64, bool) {
		x, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return x, true
	}
	r := Record{Seq: seq}
	var span, alen uint64
	var ok bool
	if r.Replica, ok = next(); !ok {
		return corrupt("bad replica")
	}
	if r.Start, ok = next(); !ok || r.Start == 0 {
		return corrupt("bad start")
	}
	if span, ok = next(); !ok || span > math.MaxUint64-r.Start {
		return corrupt("bad end")
	}
	r.End = r.Start + span
	if alen, ok = next(); !ok || alen > uint64(len(p)) {
		return corrupt("bad author")
	}
	r.Author = string(p[:alen])
	p = p[alen:]
	acc, n := binary.Varint(p)
	if n <= 0 {
		return corrupt("bad accepted time")
	}
	r.Accepted = acc
	r.Data = p[n:]
	return r, nil
}
