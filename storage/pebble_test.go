package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Tests of the Pebble store beyond the conformance suite: what survives a
// reopen (the cached state is rebuilt from the keys alone), and what it
// does with data it did not write.

func TestPebbleReopen(t *testing.T) {
	fs := vfs.NewMem()
	opts := PebbleOptions{FS: fs, Logger: quietLogger}
	s := openTestPebble(t, "db", opts)
	full, trimmed, deleted := board(1), board(2), board(3)
	for i := uint64(1); i <= 10; i++ {
		mustAppend(t, s, full, rec(1, i, i))
		mustAppend(t, s, trimmed, rec(1, i, i))
		mustAppend(t, s, deleted, rec(1, i, i))
	}
	if err := s.PutSnapshot(ctx, trimmed, 10, []byte("all")); err != nil {
		t.Fatal(err)
	}
	if err := s.TrimOps(ctx, trimmed, 100); err != nil { // drops the whole log
		t.Fatal(err)
	}
	if err := s.DeleteBoard(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta(ctx, "board", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, full, rec(1, 11, 11)) // this one only in the WAL
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestPebble(t, "db", opts)
	for _, tc := range []struct {
		b         BoardID
		last      uint64
		first     uint64 // first Seq ScanOps returns, 0 for none
		appendSeq uint64
	}{
		{full, 11, 1, 12},
		{trimmed, 10, 0, 11}, // LastSeq survives trimming everything
		{deleted, 0, 0, 1},
	} {
		if n := lastSeq(t, s, tc.b); n != tc.last {
			t.Errorf("board %s: LastSeq %d, want %d", tc.b, n, tc.last)
		}
		var first uint64
		if recs := scanOps(t, s, tc.b, 0); len(recs) > 0 {
			first = recs[0].Seq
		}
		if first != tc.first {
			t.Errorf("board %s: first seq %d, want %d", tc.b, first, tc.first)
		}
		if got := mustAppend(t, s, tc.b, rec(2, 1, 1)); got[0].Seq != tc.appendSeq {
			t.Errorf("board %s: append got seq %d, want %d", tc.b, got[0].Seq, tc.appendSeq)
		}
	}
	// The trim point survived too: a re-sent trimmed record is an overlap and
	// ScanReplica says trimmed.
	if err := s.AppendOps(ctx, trimmed, []Record{rec(1, 3, 3)}); !errors.Is(err, ErrOverlap) {
		t.Errorf("re-append of trimmed record after reopen: %v", err)
	}
	if _, err := scanReplica(t, s, trimmed, 1, 0); !errors.Is(err, ErrTrimmed) {
		t.Errorf("ScanReplica after reopen: %v, want ErrTrimmed", err)
	}
	if got, _ := boardsOf(t, s); !slices.Equal(got, []BoardID{full, trimmed, deleted}) {
		t.Errorf("Boards = %v", got)
	}
	if v, err := s.GetMeta(ctx, "board", []byte("k")); err != nil || string(v) != "v" {
		t.Errorf("meta after reopen: %q, %v", v, err)
	}
}

// rawDB opens the store's Pebble database directly, to plant bad data.
func rawDB(t *testing.T, fs vfs.FS) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{quietLogger}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestPebbleCorruption(t *testing.T) {
	b := board(1)
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, db *pebble.DB)
		check func(t *testing.T, s Store) error
	}{
		{"bad record header", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(logKey(b, 2), []byte{recordFormat, 1, 0}, pebble.Sync) // start 0
		}, func(t *testing.T, s Store) error {
			return s.ScanOps(ctx, b, 0, func(Record) error { return nil })
		}},
		{"unknown record format", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(logKey(b, 1), []byte{9, 1, 1, 0, 0, 0}, pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.ScanReplica(ctx, b, 1, 0, func(Record) error { return nil })
		}},
		{"index entry without record", func(t *testing.T, db *pebble.DB) {
			_ = db.Delete(logKey(b, 2), pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.ScanReplica(ctx, b, 1, 0, func(Record) error { return nil })
		}},
		{"index pointing at another record", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(indexKey(b, 1, 2), encodeIndexValue(1, 2, 2), pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.ScanReplica(ctx, b, 1, 0, func(Record) error { return nil })
		}},
		{"bad index value", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(indexKey(b, 1, 2), []byte{0x80}, pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.AppendOps(ctx, b, []Record{rec(1, 2, 2)})
		}},
		{"bad head", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(headKey(b), []byte{0}, pebble.Sync)
		}, func(t *testing.T, s Store) error {
			_, err := s.LastSeq(ctx, b)
			return err
		}},
		{"log without head", func(t *testing.T, db *pebble.DB) {
			_ = db.Delete(headKey(b), pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.AppendOps(ctx, b, []Record{rec(1, 9, 9)})
		}},
		{"bad log key", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(append(logKey(b, 3), 0), nil, pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.ScanOps(ctx, b, 0, func(Record) error { return nil })
		}},
		{"bad head key", func(t *testing.T, db *pebble.DB) {
			_ = db.Set(append(headKey(b), 0), encodeHeadValue(1), pebble.Sync)
		}, func(t *testing.T, s Store) error {
			return s.Boards(ctx, func(BoardID) error { return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			opts := PebbleOptions{FS: fs, Logger: quietLogger}
			s := openTestPebble(t, "db", opts)
			mustAppend(t, s, b, rec(1, 1, 1), rec(1, 2, 2), rec(1, 3, 3))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db := rawDB(t, fs)
			tc.plant(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTestPebble(t, "db", opts)
			if err := tc.check(t, s); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestPebbleRefusesForeignDatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(db *pebble.DB) error
	}{
		{"not ours", func(db *pebble.DB) error { return db.Set([]byte("hello"), []byte("world"), pebble.Sync) }},
		{"newer format", func(db *pebble.DB) error {
			return db.Set(storeFormatKey, encodeHeadValue(storeFormat+1), pebble.Sync)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			db := rawDB(t, fs)
			if err := tc.plant(db); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err := OpenPebble("db", PebbleOptions{FS: fs, Logger: quietLogger}); !errors.Is(err, ErrCorrupt) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestCloseWaitsForCalls: Close waits for a scan in progress instead of
// closing Pebble under it (which would panic in the scan's next step), and
// calls made meanwhile get ErrClosed.
func TestCloseWaitsForCalls(t *testing.T) {
	s := openTestPebble(t, "db", PebbleOptions{FS: vfs.NewMem(), Logger: quietLogger})
	b := board(1)
	mustAppend(t, s, b, rec(1, 1, 1), rec(1, 2, 2), rec(1, 3, 3))
	closed := make(chan error, 1)
	n := 0
	err := s.ScanOps(ctx, b, 0, func(Record) error {
		if n++; n != 1 {
			return nil
		}
		go func() { closed <- s.Close() }()
		// Wait (no sleep: spin on the store's own answer) until Close has
		// begun: new calls are refused.
		for {
			if _, err := s.LastSeq(ctx, b); errors.Is(err, ErrClosed) {
				break
			}
			runtime.Gosched()
		}
		select {
		case err := <-closed:
			t.Errorf("Close returned %v during a scan", err)
		default:
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("scan: %d records, %v", n, err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestBoardIDString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", false},
		{"0123ABCD-ef01-4567-89ab-cdef01234567", "0123abcd-ef01-4567-89ab-cdef01234567", false},
		{"0123abcd-ef01-4567-89ab-cdef0123456", "", true},
		{"0123abcdef0145678 9abcdef0123456789", "", true},
		{"0123abcd-ef01-4567-89ab-cdef0123456g", "", true},
		{"{123abcd-ef01-4567-89ab-cdef0123456}", "", true},
		{"", "", true},
	} {
		b, err := ParseBoardID(tc.in)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseBoardID(%q): err = %v, want ErrInvalid", tc.in, err)
			}
			continue
		}
		if err != nil || b.String() != tc.want {
			t.Errorf("ParseBoardID(%q) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
	}
}

// A store written before the snapshot index (keys.go, spaceSnapSeq) has
// snapshots without index entries: they are still found, and the first
// snapshots written after it bring the index up and trim the old ones.
func TestSnapshotIndexUpgrade(t *testing.T) {
	ctx := context.Background()
	p := openTestPebble(t, "db", PebbleOptions{FS: vfs.NewMem()})
	var b BoardID
	b[0] = 7
	var recs []Record
	for i := uint64(1); i <= 10; i++ {
		recs = append(recs, Record{Replica: 1, Start: i, End: i, Data: []byte{byte(i)}})
	}
	if err := p.AppendOps(ctx, b, recs); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{2, 4} {
		if err := p.PutSnapshot(ctx, b, seq, []byte{'s', byte(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	// Make it an old store: drop the index entries.
	lo, hi := boardBounds(spaceSnapSeq, b).LowerBound, boardBounds(spaceSnapSeq, b).UpperBound
	if err := p.db.DeleteRange(lo, hi, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if seq, data, err := p.LatestSnapshot(ctx, b); err != nil || seq != 4 || data[1] != 4 {
		t.Fatalf("old store: latest %d %v %v", seq, data, err)
	}
	for _, seq := range []uint64{6, 8, 10} {
		if err := p.PutSnapshot(ctx, b, seq, []byte{'s', byte(seq)}); err != nil {
			t.Fatal(err)
		}
		if got, data, err := p.LatestSnapshot(ctx, b); err != nil || got != seq || data[1] != byte(seq) {
			t.Fatalf("after snapshot %d: latest %d %v %v", seq, got, data, err)
		}
	}
	// Two kept (the default), in both spaces.
	for _, sp := range []byte{spaceSnap, spaceSnapSeq} {
		it, err := p.db.NewIter(boardBounds(sp, b))
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for ok := it.First(); ok; ok = it.Next() {
			_, sq, _ := decodeSeqKey(sp, it.Key())
			seqs = append(seqs, sq)
		}
		it.Close()
		if len(seqs) != 2 || seqs[0] != 8 || seqs[1] != 10 {
			t.Fatalf("space %d keeps %v, want [8 10]", sp, seqs)
		}
	}
	// Deleting the board clears the index too.
	if err := p.DeleteBoard(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.LatestSnapshot(ctx, b); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// A checkpoint is the store as it was when taken: it opens as a store
// with the ops (the last of them still only in the WAL) and the metadata
// written before it, and none written after. A closed store refuses.
func TestPebbleCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	opts := PebbleOptions{FS: fs, Logger: quietLogger}
	s := openTestPebble(t, "db", opts)
	b := board(1)
	for i := uint64(1); i <= 5; i++ {
		mustAppend(t, s, b, rec(1, i, i))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, b, rec(1, 6, 6)) // only in the WAL
	if err := s.PutMeta(ctx, "board", []byte("k"), []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint("copy"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, b, rec(1, 7, 7))
	if err := s.PutMeta(ctx, "board", []byte("k"), []byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint("copy"); err == nil {
		t.Error("a checkpoint into an existing directory: no error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint("copy2"); !errors.Is(err, ErrClosed) {
		t.Errorf("checkpoint of a closed store: %v, want ErrClosed", err)
	}

	c := openTestPebble(t, "copy", opts)
	if n := lastSeq(t, c, b); n != 6 {
		t.Errorf("the copy's LastSeq %d, want 6", n)
	}
	if v, err := c.GetMeta(ctx, "board", []byte("k")); err != nil || string(v) != "before" {
		t.Errorf("the copy's metadata %q %v, want \"before\"", v, err)
	}
}

// LogBytes is a board's own log as its tables hold it: it grows with what
// the board appends (once flushed), and another board's appends do not
// move it; Memory counts the records' data.
func TestLogBytes(t *testing.T) {
	s := openTestPebble(t, t.TempDir(), PebbleOptions{Logger: quietLogger})
	m := NewMemory(MemoryOptions{})
	big, small := board(1), board(2)
	const seed = 7
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, 16<<16)
	for i := range data {
		data[i] = byte(rng.Uint32()) // nothing to compress
	}
	for _, st := range []Store{s, m} {
		for i := uint64(1); i <= 16; i++ {
			r := rec(1, i, i)
			r.Data = data[(i-1)<<16 : i<<16]
			mustAppend(t, st, big, r)
		}
		mustAppend(t, st, small, rec(1, 1, 1))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for name, sz := range map[string]LogSizer{"pebble": s, "memory": m} {
		nb, err := sz.LogBytes(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := sz.LogBytes(ctx, small)
		if err != nil {
			t.Fatal(err)
		}
		if nb < int64(len(data))*9/10 || nb > 2*int64(len(data)) || ns > nb/8 { // a table block or two of the small one
			t.Errorf("%s: %d bytes for 1 MiB of records, %d for one small record", name, nb, ns)
		}
	}
}
