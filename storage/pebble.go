package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PebbleOptions configures OpenPebble. The zero value is a sensible
// production configuration.
type PebbleOptions struct {
	// KeepSnapshots is how many snapshots per board are kept, the latest by
	// seq; older ones are deleted by PutSnapshot. Zero means 2. Negative is
	// an error.
	KeepSnapshots int
	// CacheSize is the size in bytes of Pebble's block cache, shared by
	// every board. Zero means 32 MiB.
	CacheSize int64
	// MemTableSize is the size in bytes of one memtable: how much is written
	// before a flush to an sstable, and at most how much WAL an open replays
	// per memtable. Zero means 4 MiB (Pebble's default).
	MemTableSize uint64
	// FS is the file system the store lives on. Nil means the operating
	// system's (vfs.Default). Tests pass vfs.NewMem() or
	// vfs.NewCrashableMem() to run in memory and simulate crashes.
	FS vfs.FS
	// Logger receives Pebble's log messages: informational ones at debug
	// level, errors at error level. Nil means slog.Default().
	Logger *slog.Logger
	// SyncGather is the least time between two fsyncs of the log while
	// fsyncs are shared (walGather): a durable append asked for sooner
	// waits for the next one, together with every append asked for
	// meanwhile (Pebble's WALMinSyncInterval). Appends are acknowledged
	// only after their fsync either way; an append after a quiet moment,
	// or of a board committing alone, is synced at once. Zero: no wait.
	//
	// On many small boards that each commit alone, every append was its
	// own fsync (a fourth of a busy node's CPU, in the kernel); gathering
	// for a few milliseconds shares one fsync among many boards at the
	// cost of that much ack latency under load (the node's default:
	// node.DefaultSyncGather). Rejected: a delay in the
	// room before it appends (it would hold each board, not share fsyncs
	// across boards).
	SyncGather time.Duration
}

const (
	defaultCacheSize    = 32 << 20
	defaultMemTableSize = 4 << 20
	// ctxCheckEvery is how many records a scan passes between checks of its
	// context: often enough to stop within a millisecond or so, rarely
	// enough that a cancelCtx's mutex does not show in a profile.
	ctxCheckEvery = 64
)

// Pebble is the Store on a Pebble database: see keys.go for the layout.
//
// Writes to one board are serialised by that board's mutex only while the
// batch is checked and applied to the memtable, not while its WAL fsync is
// awaited (DB.ApplyNoSyncWait, then Batch.SyncWait outside the lock). So the
// next batch of the same board, and batches of every other board, queue
// behind the same fsync: Pebble's commit pipeline writes them to the WAL in
// apply order and one sync covers all of them. Because the WAL is
// sequential, a later batch of a board is never durable without the earlier
// ones, so a crash cannot leave a gap in a board's Seqs.
//
// Rejected designs: holding the board mutex across Commit(pebble.Sync),
// which costs one fsync per batch for a board with concurrent writers;
// choosing Seqs under the mutex and committing outside it, which lets a
// later batch become visible (or durable) before an earlier one and lets two
// overlapping batches both pass the overlap check; and a combiner of our own
// that merges concurrent callers' batches, which redoes what Pebble's commit
// pipeline already does. Pebble marks ApplyNoSyncWait experimental ("do not
// yet use outside CockroachDB"); if it changes, Apply with pebble.Sync under
// the mutex is the drop-in fallback, at the cost above.
//
// Like any Pebble write, a batch is visible to readers once applied, just
// before its fsync completes; only the return of AppendOps means durable.
// If the fsync itself fails, AppendOps returns the error with the outcome
// unknown, and Pebble's WAL is broken for good: the next commit is fatal
// (Pebble calls the Logger's Fatalf, which panics here). The node must not
// recover that panic and go on acking.
type Pebble struct {
	db            *pebble.DB
	keepSnapshots int
	gather        *walGather // nil: SyncGather 0

	mu struct {
		sync.Mutex
		closed   bool
		inflight int        // calls between enter and leave
		drained  *sync.Cond // signalled when closed and inflight reaches 0
		boards   map[BoardID]*pebbleBoard
	}
}

// pebbleBoard is the cached state of one board. An entry is created on the
// first call that names the board and lives until Close: a few dozen bytes a
// board, and dropping it on DeleteBoard would race with callers holding it.
type pebbleBoard struct {
	// mu serialises writers of the board (AppendOps, PutSnapshot, TrimOps,
	// DeleteBoard) and guards the fields below.
	mu     sync.Mutex
	loaded bool   // fields below were read from the database
	first  uint64 // the head: first retained Seq; 0 if the board has no log
	last   uint64 // LastSeq
	// ends caches, per replica, the end of its highest stored span (0:
	// none stored), so that an append past it needs no index seek
	// (checkOverlapLocked): a replica's next change always starts after
	// its last one. Filled on a miss, raised by appends, dropped by
	// DeleteBoard, and cleared when it holds maxEndsCached replicas.
	//
	// Rejected: no cache (an iterator and a seek per append were a
	// seventh of a busy node's CPU on many small boards).
	ends map[uint64]uint64
}

// maxEndsCached bounds pebbleBoard.ends (16 bytes and map overhead each).
const maxEndsCached = 4096

// OpenPebble opens (creating if needed) the store in dir.
func OpenPebble(dir string, opts PebbleOptions) (*Pebble, error) {
	const op = "open pebble"
	if opts.KeepSnapshots < 0 {
		return nil, fmt.Errorf("%s: KeepSnapshots %d: %w", op, opts.KeepSnapshots, ErrInvalid)
	}
	keep := opts.KeepSnapshots
	if keep == 0 {
		keep = defaultKeepSnapshots
	}
	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = defaultCacheSize
	}
	memTableSize := opts.MemTableSize
	if memTableSize == 0 {
		memTableSize = defaultMemTableSize
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var gather *walGather
	if opts.SyncGather > 0 {
		gather = &walGather{d: opts.SyncGather}
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference
	db, err := pebble.Open(dir, &pebble.Options{
		Cache:              cache,
		FS:                 opts.FS,
		MemTableSize:       memTableSize,
		Logger:             pebbleLogger{logger.With("component", "pebble")},
		FormatMajorVersion: pebble.FormatNewest,
		WALMinSyncInterval: gather.interval(),
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, dir, err)
	}
	if err := checkFormat(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s %s: %w", op, dir, err)
	}
	p := &Pebble{db: db, keepSnapshots: keep, gather: gather}
	p.mu.drained = sync.NewCond(&p.mu.Mutex)
	p.mu.boards = make(map[BoardID]*pebbleBoard)
	return p, nil
}

// walGather is PebbleOptions.SyncGather as Pebble takes it
// (WALMinSyncInterval, asked after each fsync of the log how long to hold
// the next one back). It holds it back while the fsyncs serve more than
// one op-log append each on average (a moving average over the last
// eight or so): several boards are committing, and the wait lets each
// fsync serve more of them. While each fsync serves one append — a quiet
// node, or one busy board committing alone, whose room waits for its
// fsync before it appends again, so nobody would share the next one —
// the next fsync runs as soon as it is asked for, and no timer is armed.
//
// Rejected: a fixed interval (every commit of a lone busy board waited
// for it, for nothing: ack latency on a big board); deciding on the last
// fsync alone (on many boards one fsync in three served a single append,
// and each such answer let the next fsync run at once: more fsyncs);
// an interval scaled to the rate of appends (the interval caps the
// fsyncs per second either way, and a longer one only adds ack latency
// once the appends outnumber the fsyncs).
type walGather struct {
	d       time.Duration
	appends atomic.Int64 // durable op-log appends asked for since the last answer
	// avg is appends per fsync, a moving average ×256. Atomic only because
	// the flush loops of two logs may overlap for a moment at a switch.
	avg atomic.Int64
}

// interval is the WALMinSyncInterval of g (nil for a nil g: no wait).
func (g *walGather) interval() func() time.Duration {
	if g == nil {
		return nil
	}
	return func() time.Duration {
		n := min(g.appends.Swap(0), 64)
		avg := g.avg.Load()
		avg += (n*256 - avg) / 8
		g.avg.Store(avg)
		if avg <= 256+64 { // at most 1.25 appends per fsync
			return 0
		}
		return g.d
	}
}

// appended counts a durable op-log append for the gather.
func (g *walGather) appended() {
	if g != nil {
		g.appends.Add(1)
	}
}

// checkFormat stamps an empty database with storeFormat and refuses one
// stamped otherwise, or one that holds keys but no stamp (not ours).
func checkFormat(db *pebble.DB) error {
	v, closer, err := db.Get(storeFormatKey)
	switch {
	case err == nil:
		defer closer.Close()
		if !bytes.Equal(v, encodeHeadValue(storeFormat)) {
			return fmt.Errorf("store format %x, want %d: %w", v, storeFormat, ErrCorrupt)
		}
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	nonEmpty := it.First()
	if err := it.Close(); err != nil {
		return err
	}
	if nonEmpty {
		return fmt.Errorf("database holds keys but no store format: %w", ErrCorrupt)
	}
	return db.Set(storeFormatKey, encodeHeadValue(storeFormat), pebble.Sync)
}

// enter admits a call: it fails if ctx is done or the store is closed, and
// otherwise counts the call in progress until leave, so that Close waits
// for it (Pebble panics on use after close).
func (p *Pebble) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return ErrClosed
	}
	p.mu.inflight++
	return nil
}

func (p *Pebble) leave() {
	p.mu.Lock()
	p.mu.inflight--
	if p.mu.closed && p.mu.inflight == 0 {
		p.mu.drained.Broadcast()
	}
	p.mu.Unlock()
}

// board returns the cached state of b, creating an unloaded entry.
func (p *Pebble) board(b BoardID) *pebbleBoard {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.mu.boards[b]
	if s == nil {
		s = &pebbleBoard{}
		p.mu.boards[b] = s
	}
	return s
}

// loadBoardLocked reads the state of b into s if it is not cached yet.
// s.mu must be held.
func (p *Pebble) loadBoardLocked(b BoardID, s *pebbleBoard) error {
	if s.loaded {
		return nil
	}
	var first uint64
	v, closer, err := p.db.Get(headKey(b))
	switch {
	case err == nil:
		first, err = decodeHeadValue(v)
		closer.Close()
		if err != nil {
			return err
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	it, err := p.db.NewIter(boardBounds(spaceLog, b))
	if err != nil {
		return err
	}
	var last uint64
	if it.Last() {
		_, last, err = decodeLogKey(it.Key())
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if first == 0 && last != 0 {
		return fmt.Errorf("board %s has log records but no head: %w", b, ErrCorrupt)
	}
	if first > 0 {
		last = max(last, first-1)
	}
	s.first, s.last, s.loaded = first, last, true
	return nil
}

// boardBounds bounds an iterator to the keys of board b in space sp.
func boardBounds(sp byte, b BoardID) *pebble.IterOptions {
	lo := boardPrefix(sp, b)
	return &pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)}
}

// AppendOps implements Store.
func (p *Pebble) AppendOps(ctx context.Context, board BoardID, recs []Record) error {
	// Formatted only on error: the success path stays free of it.
	opErr := func(err error) error { return fmt.Errorf("append ops %s: %w", board, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	if len(recs) == 0 {
		return nil
	}
	if err := checkRecords(recs); err != nil {
		return opErr(err)
	}
	base, batch, err := p.applyAppend(board, recs)
	if err != nil {
		return opErr(err)
	}
	// The board's mutex is released: other writers of this board apply
	// their batches behind ours and share this fsync.
	err = batch.SyncWait()
	_ = batch.Close()
	if err != nil {
		return opErr(err)
	}
	for i := range recs {
		recs[i].Seq = base + uint64(i)
	}
	return nil
}

// applyAppend checks recs against the stored index, chooses their Seqs and
// applies them to the memtable, under the board's mutex. It returns the
// first Seq and the batch, whose SyncWait the caller owes.
func (p *Pebble) applyAppend(board BoardID, recs []Record) (uint64, *pebble.Batch, error) {
	s := p.board(board)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := p.loadBoardLocked(board, s); err != nil {
		return 0, nil, err
	}
	if err := p.checkOverlapLocked(board, s, recs); err != nil {
		return 0, nil, err
	}
	if s.last > math.MaxUint64-uint64(len(recs)) {
		return 0, nil, fmt.Errorf("log full: %w", ErrInvalid)
	}
	size, most := 0, 0
	for i := range recs {
		n := recordValueSize(&recs[i])
		size += logKeyLen + indexKeyLen + n + 2*10 + 16
		most = max(most, n)
	}
	batch := p.db.NewBatchWithSize(size)
	base := s.last + 1
	buf := make([]byte, 0, most) // one buffer for every value (Set copies it)
	for i := range recs {
		r := &recs[i]
		seq := base + uint64(i)
		buf = encodeRecordValue(buf[:0], r)
		if err := batch.Set(logKey(board, seq), buf, nil); err != nil {
			_ = batch.Close()
			return 0, nil, err
		}
		if err := batch.Set(indexKey(board, r.Replica, r.Start), encodeIndexValue(seq, r.Start, r.End), nil); err != nil {
			_ = batch.Close()
			return 0, nil, err
		}
	}
	if s.first == 0 {
		if err := batch.Set(headKey(board), encodeHeadValue(1), nil); err != nil {
			_ = batch.Close()
			return 0, nil, err
		}
	}
	p.gather.appended()
	if err := p.db.ApplyNoSyncWait(batch, pebble.Sync); err != nil {
		// Only argument errors get here (commit errors are fatal in
		// Pebble), so nothing was applied and the batch needs no SyncWait.
		_ = batch.Close()
		return 0, nil, err
	}
	s.last += uint64(len(recs))
	if s.first == 0 {
		s.first = 1
	}
	for i := range recs {
		if e, ok := s.ends[recs[i].Replica]; ok && recs[i].End > e {
			s.ends[recs[i].Replica] = recs[i].End
		}
	}
	return base, batch, nil
}

// checkOverlapLocked returns ErrOverlap if a record of recs overlaps a
// stored span of its replica. The board's mutex must be held, so that no
// batch of the board is applied between this check and ours. A record that
// starts after its replica's highest stored end (s.ends, read once with a
// seek to the replica's last span) cannot overlap; only the others need
// the exact seek.
func (p *Pebble) checkOverlapLocked(board BoardID, s *pebbleBoard, recs []Record) error {
	var it *pebble.Iterator
	defer func() {
		if it != nil {
			it.Close()
		}
	}()
	for i := range recs {
		r := &recs[i]
		if e, ok := s.ends[r.Replica]; ok && r.Start > e {
			continue
		}
		if it == nil {
			var err error
			if it, err = p.db.NewIter(boardBounds(spaceIndex, board)); err != nil {
				it = nil
				return err
			}
		}
		rp := indexReplicaPrefix(board, r.Replica)
		if _, ok := s.ends[r.Replica]; !ok {
			// The replica's highest span (spans of a replica never
			// overlap, so it has the highest end).
			var ok bool
			if end := prefixEnd(rp); end != nil {
				ok = it.SeekLT(end)
			} else {
				ok = it.Last()
			}
			var maxEnd uint64
			if ok && bytes.HasPrefix(it.Key(), rp) {
				_, _, start, err := decodeIndexKey(it.Key())
				if err != nil {
					return err
				}
				v, err := it.ValueAndErr()
				if err != nil {
					return err
				}
				if _, maxEnd, err = decodeIndexValue(v, start); err != nil {
					return err
				}
			} else if err := it.Error(); err != nil {
				return err
			}
			if len(s.ends) >= maxEndsCached {
				clear(s.ends)
			}
			if s.ends == nil {
				s.ends = make(map[uint64]uint64)
			}
			s.ends[r.Replica] = maxEnd
			if r.Start > maxEnd {
				continue
			}
		}
		// The last stored span starting at or before r.End is the only one
		// that can overlap (keys.go).
		var ok bool
		if r.End == math.MaxUint64 {
			if end := prefixEnd(rp); end != nil {
				ok = it.SeekLT(end)
			} else {
				ok = it.Last()
			}
		} else {
			ok = it.SeekLT(indexKey(board, r.Replica, r.End+1))
		}
		if !ok || !bytes.HasPrefix(it.Key(), rp) {
			if err := it.Error(); err != nil {
				return err
			}
			continue
		}
		_, _, start, err := decodeIndexKey(it.Key())
		if err != nil {
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		_, end, err := decodeIndexValue(v, start)
		if err != nil {
			return err
		}
		if end >= r.Start {
			return fmt.Errorf("replica %d counters %d..%d overlap stored %d..%d: %w", r.Replica, r.Start, r.End, start, end, ErrOverlap)
		}
	}
	if it != nil {
		return it.Error()
	}
	return nil
}

// ScanOps implements Store.
func (p *Pebble) ScanOps(ctx context.Context, board BoardID, from uint64, fn func(Record) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan ops %s: %w", board, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	bounds := boardBounds(spaceLog, board)
	bounds.LowerBound = logKey(board, from)
	it, err := p.db.NewIter(bounds)
	if err != nil {
		return opErr(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opErr(err)
			}
		}
		rec, err := readRecord(it)
		if err != nil {
			return opErr(err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return opErr(err)
	}
	return nil
}

// readRecord decodes the log record under it into a Record that owns its
// Data.
func readRecord(it *pebble.Iterator) (Record, error) {
	_, seq, err := decodeLogKey(it.Key())
	if err != nil {
		return Record{}, err
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return Record{}, err
	}
	rec, err := decodeRecordValue(seq, v)
	if err != nil {
		return Record{}, err
	}
	rec.Data = bytes.Clone(rec.Data)
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	return rec, nil
}

// ScanReplica implements Store. It reads from one Pebble snapshot, so a
// concurrent TrimOps cannot pull a record out from under it between the
// index and the log.
func (p *Pebble) ScanReplica(ctx context.Context, board BoardID, replica uint64, fromCounter uint64, fn func(Record) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan replica %d of %s: %w", replica, board, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	snap := p.db.NewSnapshot()
	defer snap.Close()
	var first uint64
	v, closer, err := snap.Get(headKey(board))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return nil // no log
	case err != nil:
		return opErr(err)
	}
	first, err = decodeHeadValue(v)
	closer.Close()
	if err != nil {
		return opErr(err)
	}
	rp := indexReplicaPrefix(board, replica)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: rp, UpperBound: prefixEnd(rp)})
	if err != nil {
		return opErr(err)
	}
	defer it.Close()

	// Pass 1, only if something was trimmed: refuse before calling fn if a
	// record we would return is gone. It reads the index alone.
	if first > 1 {
		for ok := seekReplica(it, rp, fromCounter); ok; ok = it.Next() {
			seq, _, _, err := indexEntry(it)
			if err != nil {
				return opErr(err)
			}
			if seq < first {
				return opErr(fmt.Errorf("seq %d below first retained %d: %w", seq, first, ErrTrimmed))
			}
		}
		if err := it.Error(); err != nil {
			return opErr(err)
		}
	}

	// One iterator over the board's log, positioned by seek for each
	// record, instead of a Get per record: a Get builds a fresh iterator
	// stack every time, which dominated catching up a node on a long log.
	lp := boardPrefix(spaceLog, board)
	logIt, err := snap.NewIter(&pebble.IterOptions{LowerBound: lp, UpperBound: prefixEnd(lp)})
	if err != nil {
		return opErr(err)
	}
	defer logIt.Close()
	n := 0
	for ok := seekReplica(it, rp, fromCounter); ok; ok = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opErr(err)
			}
		}
		seq, start, end, err := indexEntry(it)
		if err != nil {
			return opErr(err)
		}
		rec, err := seekRecord(logIt, board, seq)
		if err != nil {
			return opErr(err)
		}
		if rec.Replica != replica || rec.Start != start || rec.End != end {
			return opErr(fmt.Errorf("index entry replica %d counters %d..%d points at seq %d holding replica %d counters %d..%d: %w",
				replica, start, end, seq, rec.Replica, rec.Start, rec.End, ErrCorrupt))
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return opErr(err)
	}
	return nil
}

// seekReplica positions it, bounded to the index entries of the replica
// whose prefix is rp, at the first entry whose End >= fromCounter.
func seekReplica(it *pebble.Iterator, rp []byte, fromCounter uint64) bool {
	if fromCounter == 0 {
		return it.First()
	}
	// The last entry starting at or before fromCounter may still cover it;
	// every entry after it starts (so ends) above fromCounter.
	var ok bool
	if fromCounter == math.MaxUint64 {
		ok = it.Last()
	} else {
		ok = it.SeekLT(binary.BigEndian.AppendUint64(slices.Clip(rp), fromCounter+1))
	}
	if !ok {
		return it.First()
	}
	if _, _, end, err := indexEntry(it); err != nil || end >= fromCounter {
		return true // an entry that does not decode is the caller's to report
	}
	return it.Next()
}

// indexEntry decodes the index entry under it.
func indexEntry(it *pebble.Iterator) (seq, start, end uint64, err error) {
	_, _, start, err = decodeIndexKey(it.Key())
	if err != nil {
		return 0, 0, 0, err
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, 0, 0, err
	}
	seq, end, err = decodeIndexValue(v, start)
	return seq, start, end, err
}

// getRecord reads one log record from snap.
// seekRecord reads log record seq through an iterator over the board's log.
func seekRecord(it *pebble.Iterator, board BoardID, seq uint64) (Record, error) {
	k := logKey(board, seq)
	if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
		if err := it.Error(); err != nil {
			return Record{}, err
		}
		return Record{}, fmt.Errorf("index entry points at missing seq %d: %w", seq, ErrCorrupt)
	}
	return readRecord(it)
}

// LastSeq implements Store. It reads the database once per board; after
// that the cached value, kept by the writers, is returned.
func (p *Pebble) LastSeq(ctx context.Context, board BoardID) (uint64, error) {
	opErr := func(err error) error { return fmt.Errorf("last seq %s: %w", board, err) }
	if err := p.enter(ctx); err != nil {
		return 0, opErr(err)
	}
	defer p.leave()
	s := p.board(board)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := p.loadBoardLocked(board, s); err != nil {
		return 0, opErr(err)
	}
	return s.last, nil
}

// PutSnapshot implements Store. The new snapshot and the deletion of those
// beyond KeepSnapshots are one batch, so a crash leaves either the old set
// or the new one.
func (p *Pebble) PutSnapshot(ctx context.Context, board BoardID, seq uint64, data []byte) error {
	opErr := func(err error) error { return fmt.Errorf("put snapshot %s at seq %d: %w", board, seq, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	s := p.board(board)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := p.loadBoardLocked(board, s); err != nil {
		return opErr(err)
	}
	if seq > s.last {
		return opErr(fmt.Errorf("beyond last seq %d: %w", s.last, ErrInvalid))
	}
	// The seqs to keep: the new one and the newest stored, up to keep.
	keep := []uint64{seq}
	stored, err := p.snapshotSeqs(board, p.keepSnapshots+1)
	if err != nil {
		return opErr(err)
	}
	for _, sq := range stored {
		if sq != seq {
			keep = append(keep, sq)
		}
	}
	slices.Sort(keep)
	slices.Reverse(keep)
	batch := p.db.NewBatch()
	defer batch.Close()
	var cutoff uint64 // snapshots below it are deleted
	if len(keep) > p.keepSnapshots {
		cutoff = keep[p.keepSnapshots-1]
		if err := batch.DeleteRange(snapKey(board, 0), snapKey(board, cutoff), nil); err != nil {
			return opErr(err)
		}
		if err := batch.DeleteRange(snapSeqKey(board, 0), snapSeqKey(board, cutoff), nil); err != nil {
			return opErr(err)
		}
	}
	if seq >= cutoff {
		if err := batch.Set(snapKey(board, seq), data, nil); err != nil {
			return opErr(err)
		}
		if err := batch.Set(snapSeqKey(board, seq), nil, nil); err != nil {
			return opErr(err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return opErr(err)
	}
	return nil
}

// LatestSnapshot implements Store: the latest seq from the small index
// (keys.go, spaceSnapSeq), then one point read; in a store written before
// the index, the snapshot space itself.
func (p *Pebble) LatestSnapshot(ctx context.Context, board BoardID) (uint64, []byte, error) {
	opErr := func(err error) error { return fmt.Errorf("latest snapshot %s: %w", board, err) }
	if err := p.enter(ctx); err != nil {
		return 0, nil, opErr(err)
	}
	defer p.leave()
	for _, sp := range []byte{spaceSnapSeq, spaceSnap} {
		it, err := p.db.NewIter(boardBounds(sp, board))
		if err != nil {
			return 0, nil, opErr(err)
		}
		if !it.Last() {
			err := it.Error()
			it.Close()
			if err != nil {
				return 0, nil, opErr(err)
			}
			continue
		}
		_, seq, err := decodeSeqKey(sp, it.Key())
		if err != nil {
			it.Close()
			return 0, nil, opErr(err)
		}
		if sp == spaceSnap {
			v, err := it.ValueAndErr()
			if err == nil {
				v = bytes.Clone(v)
			}
			it.Close()
			if err != nil {
				return 0, nil, opErr(err)
			}
			return seq, v, nil
		}
		it.Close()
		v, closer, err := p.db.Get(snapKey(board, seq))
		if errors.Is(err, pebble.ErrNotFound) {
			return 0, nil, opErr(fmt.Errorf("snapshot %d listed but missing: %w", seq, ErrCorrupt))
		}
		if err != nil {
			return 0, nil, opErr(err)
		}
		v = bytes.Clone(v)
		closer.Close()
		return seq, v, nil
	}
	return 0, nil, opErr(ErrNotFound)
}

// snapshotSeqs returns the seqs of the board's newest snapshots, newest
// first, at most max: from the index, or for a store written before it
// (no entries) from the snapshot keys themselves.
func (p *Pebble) snapshotSeqs(board BoardID, max int) ([]uint64, error) {
	var out []uint64
	for _, sp := range []byte{spaceSnapSeq, spaceSnap} {
		it, err := p.db.NewIter(boardBounds(sp, board))
		if err != nil {
			return nil, err
		}
		for ok := it.Last(); ok && len(out) < max; ok = it.Prev() {
			_, sq, err := decodeSeqKey(sp, it.Key())
			if err != nil {
				_ = it.Close()
				return nil, err
			}
			out = append(out, sq)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return out, nil
}

// latestSnapshotSeq returns the seq of the board's latest snapshot, and
// false if it has none.
func (p *Pebble) latestSnapshotSeq(board BoardID) (uint64, bool, error) {
	seqs, err := p.snapshotSeqs(board, 1)
	if err != nil || len(seqs) == 0 {
		return 0, false, err
	}
	return seqs[0], true, nil
}

// TrimOps implements Store. One range deletion drops the records and the
// head moves up in the same batch; index entries stay (keys.go says why).
func (p *Pebble) TrimOps(ctx context.Context, board BoardID, before uint64) error {
	opErr := func(err error) error { return fmt.Errorf("trim ops %s before %d: %w", board, before, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	s := p.board(board)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := p.loadBoardLocked(board, s); err != nil {
		return opErr(err)
	}
	if s.first == 0 {
		return nil // no log
	}
	snapSeq, ok, err := p.latestSnapshotSeq(board)
	if err != nil {
		return opErr(err)
	}
	if !ok {
		return nil
	}
	// The latest snapshot covers records up to snapSeq; the log past it is
	// what opening the board replays, and is kept.
	upTo := min(before, snapSeq+1, s.last+1)
	if upTo <= s.first {
		return nil
	}
	batch := p.db.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange(logKey(board, 0), logKey(board, upTo), nil); err != nil {
		return opErr(err)
	}
	if err := batch.Set(headKey(board), encodeHeadValue(upTo), nil); err != nil {
		return opErr(err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return opErr(err)
	}
	s.first = upTo
	return nil
}

// DeleteBoard implements Store.
func (p *Pebble) DeleteBoard(ctx context.Context, board BoardID) error {
	opErr := func(err error) error { return fmt.Errorf("delete board %s: %w", board, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	s := p.board(board)
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := p.db.NewBatch()
	defer batch.Close()
	for _, sp := range []byte{spaceLog, spaceIndex, spaceSnap, spaceSnapSeq} {
		b := boardBounds(sp, board)
		if err := batch.DeleteRange(b.LowerBound, b.UpperBound, nil); err != nil {
			return opErr(err)
		}
	}
	if err := batch.Delete(headKey(board), nil); err != nil {
		return opErr(err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return opErr(err)
	}
	s.first, s.last, s.loaded = 0, 0, true
	s.ends = nil
	return nil
}

// Boards implements Store: it lists the heads.
func (p *Pebble) Boards(ctx context.Context, fn func(BoardID) error) error {
	const op = "boards"
	if err := p.enter(ctx); err != nil {
		return opError(op, err)
	}
	defer p.leave()
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: []byte{spaceHead}, UpperBound: []byte{spaceHead + 1}})
	if err != nil {
		return opError(op, err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opError(op, err)
			}
		}
		b, err := decodeHeadKey(it.Key())
		if err != nil {
			return opError(op, err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return opError(op, err)
	}
	return nil
}

// PutMeta implements Store.
func (p *Pebble) PutMeta(ctx context.Context, ns string, key []byte, val []byte) error {
	return p.ApplyMeta(ctx, []MetaWrite{{NS: ns, Key: key, Val: val}})
}

// DeleteMeta implements Store.
func (p *Pebble) DeleteMeta(ctx context.Context, ns string, key []byte) error {
	return p.ApplyMeta(ctx, []MetaWrite{{NS: ns, Key: key, Delete: true}})
}

// GetMeta implements Store.
func (p *Pebble) GetMeta(ctx context.Context, ns string, key []byte) ([]byte, error) {
	opErr := func(err error) error { return fmt.Errorf("get meta %s/%x: %w", ns, key, err) }
	if err := p.enter(ctx); err != nil {
		return nil, opErr(err)
	}
	defer p.leave()
	if err := checkNamespace(ns); err != nil {
		return nil, opErr(err)
	}
	v, closer, err := p.db.Get(metaKey(ns, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, opErr(ErrNotFound)
	}
	if err != nil {
		return nil, opErr(err)
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

// ScanMeta implements Store.
func (p *Pebble) ScanMeta(ctx context.Context, ns string, prefix []byte, fn func(key, val []byte) error) error {
	opErr := func(err error) error { return fmt.Errorf("scan meta %s/%x: %w", ns, prefix, err) }
	if err := p.enter(ctx); err != nil {
		return opErr(err)
	}
	defer p.leave()
	if err := checkNamespace(ns); err != nil {
		return opErr(err)
	}
	lo := metaKey(ns, prefix)
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return opErr(err)
	}
	defer it.Close()
	nsLen := len(metaKey(ns, nil))
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return opErr(err)
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return opErr(err)
		}
		if err := fn(append([]byte{}, it.Key()[nsLen:]...), append([]byte{}, v...)); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return opErr(err)
	}
	return nil
}

// ApplyMeta implements Store.
func (p *Pebble) ApplyMeta(ctx context.Context, writes []MetaWrite) error {
	return p.applyMeta(ctx, writes, pebble.Sync)
}

// ApplyMetaUnsynced applies writes atomically and in order, as ApplyMeta,
// without waiting for the log's fsync (MetaCache): they are in the log
// when it returns and survive the process, and a later durable write, or
// the next fsync, makes them durable; a machine that loses power may lose
// the last ones, whole batches at a time and never one without those
// before it.
//
// It is for the node's view of the cluster's metadata (server/meta),
// whose source of truth is elsewhere and which resumes from the revision
// stored in each batch: its watch applies one change at a time, and with
// each apply waiting for an fsync held back by --sync-gather while boards
// commit, 5,000 new connections' replica claims on a node busy with 1,000
// boards took 200 applies a second, and one in a hundred of their first
// changes waited 8-10 s for its ack.
func (p *Pebble) ApplyMetaUnsynced(ctx context.Context, writes []MetaWrite) error {
	return p.applyMeta(ctx, writes, pebble.NoSync)
}

func (p *Pebble) applyMeta(ctx context.Context, writes []MetaWrite, sync *pebble.WriteOptions) error {
	const op = "apply meta"
	if err := p.enter(ctx); err != nil {
		return opError(op, err)
	}
	defer p.leave()
	for _, w := range writes {
		if err := checkNamespace(w.NS); err != nil {
			return opError(op, err)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	batch := p.db.NewBatch()
	defer batch.Close()
	for _, w := range writes {
		var err error
		if w.Delete {
			err = batch.Delete(metaKey(w.NS, w.Key), nil)
		} else {
			err = batch.Set(metaKey(w.NS, w.Key), w.Val, nil)
		}
		if err != nil {
			return opError(op, err)
		}
	}
	if err := batch.Commit(sync); err != nil {
		return opError(op, err)
	}
	return nil
}

// Flush writes Pebble's memtables to sstables, so that the next open
// replays little WAL. Optional: the node calls it on graceful shutdown,
// before Close. Not part of Store: the memory store has nothing to flush.
func (p *Pebble) Flush() error {
	const op = "flush"
	if err := p.enter(context.Background()); err != nil {
		return opError(op, err)
	}
	defer p.leave()
	if err := p.db.Flush(); err != nil {
		return opError(op, err)
	}
	return nil
}

// Checkpoint writes a consistent copy of the store as it is now into dir,
// which must not exist, while writes go on: Pebble's checkpoint (its
// sstables hard-linked when dir is on the same file system, copied
// otherwise; the WAL synced, then copied). The copy opens with OpenPebble
// like any store. Not part of Store: the memory store has no files.
func (p *Pebble) Checkpoint(dir string) error {
	const op = "checkpoint"
	if err := p.enter(context.Background()); err != nil {
		return opError(op, err)
	}
	defer p.leave()
	if err := p.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return opError(op, err)
	}
	return nil
}

// Close implements Store. It must not be called from a scan callback: it
// waits for that scan.
func (p *Pebble) Close() error {
	const op = "close"
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return opError(op, ErrClosed)
	}
	p.mu.closed = true
	for p.mu.inflight > 0 {
		p.mu.drained.Wait()
	}
	p.mu.Unlock()
	if err := p.db.Close(); err != nil {
		return opError(op, err)
	}
	return nil
}

// pebbleLogger passes Pebble's log messages to slog. Pebble's Infof is
// chatty on open ("Found 1 WALs"), so it goes to debug. Pebble calls
// Fatalf when its commit pipeline is broken (a failed WAL write or sync)
// and must not return; panicking keeps the stack and refuses to go on
// acking writes that may not be durable.
type pebbleLogger struct{ l *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error("fatal: " + msg)
	panic("storage: pebble: " + msg)
}

var _ Store = (*Pebble)(nil)

// LogBytes implements LogSizer: the bytes the board's records and their
// index take in the store's tables, as Pebble estimates them (compressed,
// on disk). Records still only in the memtable, and in the log being
// replayed into it at open, are not counted: the estimate runs at most a
// memtable or two (MemTableSize) behind what the board wrote.
func (p *Pebble) LogBytes(ctx context.Context, board BoardID) (int64, error) {
	if err := p.enter(ctx); err != nil {
		return 0, fmt.Errorf("log bytes %s: %w", board, err)
	}
	defer p.leave()
	var total int64
	for _, sp := range []byte{spaceLog, spaceIndex} {
		lo := boardPrefix(sp, board)
		n, err := p.db.EstimateDiskUsage(lo, prefixEnd(lo))
		if err != nil {
			return 0, fmt.Errorf("log bytes %s: %w", board, err)
		}
		total += int64(n)
	}
	return total, nil
}
