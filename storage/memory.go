package storage

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// KeepSnapshots is how many snapshots per board are kept, the latest by
	// seq. Zero (or negative) means 2.
	KeepSnapshots int
}

// Memory is a Store held in memory, for tests of the packages above
// storage. It keeps the whole contract except durability, and runs through
// the same conformance suite as Pebble. One mutex guards everything: it is
// built to be obviously right, not fast. Scans copy what they return under
// the mutex and call fn after releasing it, which gives them the same
// point-in-time view a Pebble iterator has.
type Memory struct {
	keepSnapshots int

	mu struct {
		sync.Mutex
		closed bool
		boards map[BoardID]*memBoard
		meta   map[string]map[string][]byte // ns -> key -> value
	}
}

// memBoard is one board. first == 0 means no log (a board can have a
// snapshot at seq 0 and no log).
type memBoard struct {
	first uint64               // first retained Seq; 0 if no log
	last  uint64               // LastSeq
	log   []Record             // Seqs first..last, Data owned
	index map[uint64][]memSpan // replica -> spans ascending by start (so by end)
	snaps []memSnap            // ascending by seq
}

type memSpan struct{ start, end, seq uint64 }

type memSnap struct {
	seq  uint64
	data []byte
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{keepSnapshots: opts.KeepSnapshots}
	if m.keepSnapshots <= 0 {
		m.keepSnapshots = defaultKeepSnapshots
	}
	m.mu.boards = make(map[BoardID]*memBoard)
	m.mu.meta = make(map[string]map[string][]byte)
	return m
}

// lock admits a call: it checks ctx, then takes the mutex unless the store
// is closed. On success the caller must unlock.
func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// boardLocked returns board b, creating it if create is set; nil otherwise.
func (m *Memory) boardLocked(b BoardID, create bool) *memBoard {
	mb := m.mu.boards[b]
	if mb == nil && create {
		mb = &memBoard{index: make(map[uint64][]memSpan)}
		m.mu.boards[b] = mb
	}
	return mb
}

// AppendOps implements Store.
func (m *Memory) AppendOps(ctx context.Context, board BoardID, recs []Record) error {
	// Formatted only on error: the success path stays free of it.
	opErr := func(err error) error { return fmt.Errorf("append ops %s: %w", board, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	defer m.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := checkRecords(recs); err != nil {
		return opErr(err)
	}
	mb := m.boardLocked(board, false)
	if mb != nil {
		for i := range recs {
			r := &recs[i]
			spans := mb.index[r.Replica]
			// The last span starting at or before r.End is the only
			// candidate, as in the Pebble index.
			j := sort.Search(len(spans), func(j int) bool { return spans[j].start > r.End })
			if j > 0 && spans[j-1].end >= r.Start {
				s := spans[j-1]
				return opErr(fmt.Errorf("replica %d counters %d..%d overlap stored %d..%d: %w", r.Replica, r.Start, r.End, s.start, s.end, ErrOverlap))
			}
		}
	}
	mb = m.boardLocked(board, true)
	if mb.first == 0 {
		mb.first = 1
	}
	for i := range recs {
		r := recs[i]
		mb.last++
		r.Seq = mb.last
		r.Data = bytes.Clone(r.Data)
		if r.Data == nil {
			r.Data = []byte{}
		}
		mb.log = append(mb.log, r)
		spans := mb.index[r.Replica]
		j := sort.Search(len(spans), func(j int) bool { return spans[j].start > r.Start })
		mb.index[r.Replica] = slices.Insert(spans, j, memSpan{r.Start, r.End, r.Seq})
		recs[i].Seq = r.Seq
	}
	return nil
}

// cloneRecord returns r with its own copy of Data.
func cloneRecord(r Record) Record {
	r.Data = append([]byte{}, r.Data...)
	return r
}

// ScanOps implements Store.
func (m *Memory) ScanOps(ctx context.Context, board BoardID, from uint64, fn func(Record) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan ops %s: %w", board, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	var out []Record
	if mb := m.boardLocked(board, false); mb != nil && mb.first != 0 {
		i := uint64(0)
		if from > mb.first {
			i = min(from-mb.first, uint64(len(mb.log)))
		}
		for _, r := range mb.log[i:] {
			out = append(out, cloneRecord(r))
		}
	}
	m.mu.Unlock()
	return callEach(ctx, opErr, out, fn)
}

// callEach calls fn for each record, checking ctx as the Pebble scans do.
func callEach(ctx context.Context, opErr func(error) error, recs []Record, fn func(Record) error) error {
	for i, r := range recs {
		if (i+1)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opErr(err)
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// ScanReplica implements Store.
func (m *Memory) ScanReplica(ctx context.Context, board BoardID, replica uint64, fromCounter uint64, fn func(Record) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan replica %d of %s: %w", replica, board, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	var out []Record
	if mb := m.boardLocked(board, false); mb != nil && mb.first != 0 {
		spans := mb.index[replica]
		i := sort.Search(len(spans), func(i int) bool { return spans[i].end >= fromCounter })
		for _, s := range spans[i:] {
			if s.seq < mb.first {
				m.mu.Unlock()
				return opErr(fmt.Errorf("seq %d below first retained %d: %w", s.seq, mb.first, ErrTrimmed))
			}
			out = append(out, cloneRecord(mb.log[s.seq-mb.first]))
		}
	}
	m.mu.Unlock()
	return callEach(ctx, opErr, out, fn)
}

// LastSeq implements Store.
func (m *Memory) LastSeq(ctx context.Context, board BoardID) (uint64, error) {
	if err := m.lock(ctx); err != nil {
		return 0, opError("last seq "+board.String(), err)
	}
	defer m.mu.Unlock()
	if mb := m.boardLocked(board, false); mb != nil {
		return mb.last, nil
	}
	return 0, nil
}

// PutSnapshot implements Store.
func (m *Memory) PutSnapshot(ctx context.Context, board BoardID, seq uint64, data []byte) error {
	opErr := func(err error) error { return fmt.Errorf("put snapshot %s at seq %d: %w", board, seq, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	defer m.mu.Unlock()
	var last uint64
	if mb := m.boardLocked(board, false); mb != nil {
		last = mb.last
	}
	if seq > last {
		return opErr(fmt.Errorf("beyond last seq %d: %w", last, ErrInvalid))
	}
	mb := m.boardLocked(board, true)
	snaps := slices.DeleteFunc(mb.snaps, func(s memSnap) bool { return s.seq == seq })
	i := sort.Search(len(snaps), func(i int) bool { return snaps[i].seq > seq })
	snaps = slices.Insert(snaps, i, memSnap{seq, append([]byte{}, data...)})
	if n := len(snaps) - m.keepSnapshots; n > 0 {
		snaps = slices.Delete(snaps, 0, n)
	}
	mb.snaps = snaps
	return nil
}

// LatestSnapshot implements Store.
func (m *Memory) LatestSnapshot(ctx context.Context, board BoardID) (uint64, []byte, error) {
	opErr := func(err error) error { return fmt.Errorf("latest snapshot %s: %w", board, err) }
	if err := m.lock(ctx); err != nil {
		return 0, nil, opErr(err)
	}
	defer m.mu.Unlock()
	mb := m.boardLocked(board, false)
	if mb == nil || len(mb.snaps) == 0 {
		return 0, nil, opErr(ErrNotFound)
	}
	s := mb.snaps[len(mb.snaps)-1]
	return s.seq, append([]byte{}, s.data...), nil
}

// TrimOps implements Store.
func (m *Memory) TrimOps(ctx context.Context, board BoardID, before uint64) error {
	opErr := func(err error) error { return fmt.Errorf("trim ops %s before %d: %w", board, before, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	defer m.mu.Unlock()
	mb := m.boardLocked(board, false)
	if mb == nil || mb.first == 0 || len(mb.snaps) == 0 {
		return nil
	}
	upTo := min(before, mb.snaps[len(mb.snaps)-1].seq+1, mb.last+1)
	if upTo <= mb.first {
		return nil
	}
	mb.log = slices.Clone(mb.log[upTo-mb.first:])
	mb.first = upTo
	return nil
}

// DeleteBoard implements Store.
func (m *Memory) DeleteBoard(ctx context.Context, board BoardID) error {
	if err := m.lock(ctx); err != nil {
		return opError("delete board "+board.String(), err)
	}
	defer m.mu.Unlock()
	delete(m.mu.boards, board)
	return nil
}

// Boards implements Store.
func (m *Memory) Boards(ctx context.Context, fn func(BoardID) error) error {
	const op = "boards"
	if err := m.lock(ctx); err != nil {
		return opError(op, err)
	}
	var ids []BoardID
	for b, mb := range m.mu.boards {
		if mb.first != 0 {
			ids = append(ids, b)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(ids, func(a, b BoardID) int { return bytes.Compare(a[:], b[:]) })
	for i, b := range ids {
		if (i+1)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opError(op, err)
			}
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// PutMeta implements Store.
func (m *Memory) PutMeta(ctx context.Context, ns string, key []byte, val []byte) error {
	return m.ApplyMeta(ctx, []MetaWrite{{NS: ns, Key: key, Val: val}})
}

// DeleteMeta implements Store.
func (m *Memory) DeleteMeta(ctx context.Context, ns string, key []byte) error {
	return m.ApplyMeta(ctx, []MetaWrite{{NS: ns, Key: key, Delete: true}})
}

// GetMeta implements Store.
func (m *Memory) GetMeta(ctx context.Context, ns string, key []byte) ([]byte, error) {
	opErr := func(err error) error { return fmt.Errorf("get meta %s/%x: %w", ns, key, err) }
	if err := m.lock(ctx); err != nil {
		return nil, opErr(err)
	}
	defer m.mu.Unlock()
	if err := checkNamespace(ns); err != nil {
		return nil, opErr(err)
	}
	v, ok := m.mu.meta[ns][string(key)]
	if !ok {
		return nil, opErr(ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// ScanMeta implements Store.
func (m *Memory) ScanMeta(ctx context.Context, ns string, prefix []byte, fn func(key, val []byte) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan meta %s/%x: %w", ns, prefix, err) }
	if err := m.lock(ctx); err != nil {
		return opErr(err)
	}
	if err := checkNamespace(ns); err != nil {
		m.mu.Unlock()
		return opErr(err)
	}
	type kv struct{ k, v []byte }
	var out []kv
	for k, v := range m.mu.meta[ns] {
		if strings.HasPrefix(k, string(prefix)) {
			out = append(out, kv{[]byte(k), append([]byte{}, v...)})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	for i, e := range out {
		if (i+1)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opErr(err)
			}
		}
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

// ApplyMeta implements Store.
func (m *Memory) ApplyMeta(ctx context.Context, writes []MetaWrite) error {
	const op = "apply meta"
	if err := m.lock(ctx); err != nil {
		return opError(op, err)
	}
	defer m.mu.Unlock()
	for _, w := range writes {
		if err := checkNamespace(w.NS); err != nil {
			return opError(op, err)
		}
	}
	for _, w := range writes {
		if w.Delete {
			delete(m.mu.meta[w.NS], string(w.Key))
			continue
		}
		if m.mu.meta[w.NS] == nil {
			m.mu.meta[w.NS] = make(map[string][]byte)
		}
		m.mu.meta[w.NS][string(w.Key)] = append([]byte{}, w.Val...)
	}
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return opError("close", ErrClosed)
	}
	m.mu.closed = true
	m.mu.boards, m.mu.meta = nil, nil
	return nil
}

var _ Store = (*Memory)(nil)

// LogBytes implements LogSizer: the bytes of the board's retained records'
// data.
func (m *Memory) LogBytes(ctx context.Context, board BoardID) (int64, error) {
	if err := m.lock(ctx); err != nil {
		return 0, fmt.Errorf("log bytes %s: %w", board, err)
	}
	defer m.mu.Unlock()
	var total int64
	if b := m.mu.boards[board]; b != nil {
		for _, r := range b.log {
			total += int64(len(r.Data))
		}
	}
	return total, nil
}
