package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The conformance suite: every Store implementation must pass it unchanged.

func TestConformanceMemory(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		return NewMemory(MemoryOptions{})
	})
}

func TestConformancePebble(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		return openTestPebble(t, t.TempDir(), PebbleOptions{})
	})
}

// TestConformancePebbleMem runs the suite on Pebble over an in-memory file
// system with tiny memtables, so that flushes to sstables happen inside the
// tests and reads go through sstables as well as the memtable.
func TestConformancePebbleMem(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		return openTestPebble(t, "db", PebbleOptions{FS: vfs.NewMem(), MemTableSize: 64 << 10})
	})
}

func openTestPebble(t testing.TB, dir string, opts PebbleOptions) *Pebble {
	t.Helper()
	p, err := OpenPebble(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return p
}

func runConformance(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"AppendAssignsSeqs", testAppendAssignsSeqs},
		{"AppendValidation", testAppendValidation},
		{"Overlap", testOverlap},
		{"ScanOpsOrder", testScanOpsOrder},
		{"ScanReplica", testScanReplica},
		{"ScanStopsOnError", testScanStopsOnError},
		{"RecordRoundTrip", testRecordRoundTrip},
		{"NoAliasing", testNoAliasing},
		{"Snapshots", testSnapshots},
		{"TrimVsSnapshot", testTrimVsSnapshot},
		{"DeleteBoard", testDeleteBoard},
		{"Boards", testBoards},
		{"Meta", testMeta},
		{"MetaNamespaces", testMetaNamespaces},
		{"ApplyMeta", testApplyMeta},
		{"ContextCancel", testContextCancel},
		{"Closed", testClosed},
		{"CallbackReentry", testCallbackReentry},
		{"ConcurrentAppend", testConcurrentAppend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func board(n byte) BoardID {
	var b BoardID
	b[0], b[15] = 0xb0, n
	return b
}

// rec makes a record of replica covering start..end whose Data names it.
func rec(replica, start, end uint64) Record {
	return Record{
		Replica:  replica,
		Start:    start,
		End:      end,
		Author:   fmt.Sprintf("user-%d", replica),
		Accepted: int64(1700000000000 + start),
		Data:     []byte(fmt.Sprintf("change r%d %d..%d", replica, start, end)),
	}
}

func mustAppend(t testing.TB, s Store, b BoardID, recs ...Record) []Record {
	t.Helper()
	if err := s.AppendOps(ctx, b, recs); err != nil {
		t.Fatalf("AppendOps: %v", err)
	}
	return recs
}

func scanOps(t testing.TB, s Store, b BoardID, from uint64) []Record {
	t.Helper()
	var out []Record
	if err := s.ScanOps(ctx, b, from, func(r Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("ScanOps(%d): %v", from, err)
	}
	return out
}

func scanReplica(t testing.TB, s Store, b BoardID, replica, from uint64) ([]Record, error) {
	t.Helper()
	var out []Record
	err := s.ScanReplica(ctx, b, replica, from, func(r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func seqs(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func lastSeq(t testing.TB, s Store, b BoardID) uint64 {
	t.Helper()
	n, err := s.LastSeq(ctx, b)
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	return n
}

func testAppendAssignsSeqs(t *testing.T, s Store) {
	b := board(1)
	if n := lastSeq(t, s, b); n != 0 {
		t.Fatalf("LastSeq of empty board = %d, want 0", n)
	}
	got := mustAppend(t, s, b, rec(1, 1, 1), rec(2, 1, 3))
	if want := []uint64{1, 2}; !slices.Equal(seqs(got), want) {
		t.Fatalf("seqs = %v, want %v", seqs(got), want)
	}
	got = mustAppend(t, s, b, rec(1, 2, 5))
	if got[0].Seq != 3 {
		t.Fatalf("seq = %d, want 3", got[0].Seq)
	}
	if n := lastSeq(t, s, b); n != 3 {
		t.Fatalf("LastSeq = %d, want 3", n)
	}
	// Another board has its own numbering.
	if got := mustAppend(t, s, board(2), rec(1, 1, 1)); got[0].Seq != 1 {
		t.Fatalf("other board seq = %d, want 1", got[0].Seq)
	}
	// Appending nothing is a no-op.
	if err := s.AppendOps(ctx, b, nil); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	if n := lastSeq(t, s, b); n != 3 {
		t.Fatalf("LastSeq after empty append = %d, want 3", n)
	}
}

func testAppendValidation(t *testing.T, s Store) {
	b := board(1)
	for _, tc := range []struct {
		name string
		recs []Record
		want error
	}{
		{"start zero", []Record{rec(1, 0, 3)}, ErrInvalid},
		{"end before start", []Record{rec(1, 5, 4)}, ErrInvalid},
		{"bad one spoils the batch", []Record{rec(1, 1, 1), rec(1, 0, 0)}, ErrInvalid},
		{"overlap inside batch", []Record{rec(1, 1, 3), rec(2, 1, 1), rec(1, 3, 4)}, ErrOverlap},
		{"duplicate inside batch", []Record{rec(1, 1, 1), rec(1, 1, 1)}, ErrOverlap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AppendOps(ctx, b, tc.recs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := lastSeq(t, s, b); n != 0 {
				t.Fatalf("LastSeq = %d after refused append, want 0", n)
			}
		})
	}
	// Many records in one call, enough for the sorting path of the check.
	var many []Record
	for i := uint64(0); i < 100; i++ {
		many = append(many, rec(i%7, i+1, i+1))
	}
	many = append(many, rec(3, 4, 4)) // replica 3 already has counter 4
	if err := s.AppendOps(ctx, b, many); !errors.Is(err, ErrOverlap) {
		t.Fatalf("big batch with overlap: err = %v, want ErrOverlap", err)
	}
	if err := s.AppendOps(ctx, b, many[:100]); err != nil {
		t.Fatalf("big batch: %v", err)
	}
}

func testOverlap(t *testing.T, s Store) {
	b := board(1)
	// Stored for replica 7: 1..3, 10..10, 20..25. Replica 8: 4..4.
	mustAppend(t, s, b, rec(7, 1, 3), rec(7, 10, 10), rec(7, 20, 25), rec(8, 4, 4))
	const maxU = ^uint64(0)
	for _, tc := range []struct {
		name       string
		r          Record
		wantRefuse bool
	}{
		{"same span", rec(7, 1, 3), true},
		{"inside", rec(7, 2, 2), true},
		{"covers", rec(7, 5, 30), true},
		{"left edge", rec(7, 3, 4), true},
		{"right edge", rec(7, 9, 10), true},
		{"starts inside last", rec(7, 25, 26), true},
		{"ends at max inside", rec(7, 22, maxU), true},
		{"gap 4..9", rec(7, 4, 9), false},
		{"gap 11..19", rec(7, 11, 19), false},
		{"after", rec(7, 26, 26), false},
		{"other replica", rec(9, 1, 3), false},
		{"to max after", rec(7, 1000, maxU), false},
		{"max replica", rec(maxU, 1, maxU), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := lastSeq(t, s, b)
			err := s.AppendOps(ctx, b, []Record{rec(8, 100+before, 100+before), tc.r})
			if tc.wantRefuse {
				if !errors.Is(err, ErrOverlap) {
					t.Fatalf("err = %v, want ErrOverlap", err)
				}
				if n := lastSeq(t, s, b); n != before {
					t.Fatalf("LastSeq = %d after refused append, want %d (nothing of the batch written)", n, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
		})
	}
	// The refused batches left nothing behind: every record is one that
	// was accepted.
	for _, r := range scanOps(t, s, b, 0) {
		if r.Replica == 7 && r.Start == 2 {
			t.Fatalf("refused record stored: %+v", r)
		}
	}
}

func testScanOpsOrder(t *testing.T, s Store) {
	b := board(1)
	var want []uint64
	for i := uint64(1); i <= 300; i++ {
		mustAppend(t, s, b, rec(i%5, i, i))
		want = append(want, i)
	}
	mustAppend(t, s, board(0), rec(1, 1, 1)) // neighbours must not leak in
	mustAppend(t, s, board(2), rec(1, 1, 1))
	for _, tc := range []struct {
		from uint64
		want []uint64
	}{
		{0, want},
		{1, want},
		{2, want[1:]},
		{299, want[298:]},
		{300, want[299:]},
		{301, nil},
		{^uint64(0), nil},
	} {
		got := seqs(scanOps(t, s, b, tc.from))
		if !slices.Equal(got, tc.want) {
			t.Errorf("ScanOps(from %d) = %d seqs %v..., want %d", tc.from, len(got), head(got), len(tc.want))
		}
	}
	if got := scanOps(t, s, board(3), 0); len(got) != 0 {
		t.Fatalf("ScanOps of unknown board = %v", got)
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 5)] }

func testScanReplica(t *testing.T, s Store) {
	b := board(1)
	// Replica 7's changes arrive out of counter order, interleaved with
	// replica 8's: ScanReplica orders by Start, not by Seq.
	mustAppend(t, s, b, rec(7, 5, 6), rec(8, 1, 1))
	mustAppend(t, s, b, rec(7, 1, 2), rec(7, 10, 12))
	mustAppend(t, s, b, rec(7, 3, 4), rec(8, 2, 9))
	starts := func(recs []Record) []uint64 {
		var out []uint64
		for _, r := range recs {
			out = append(out, r.Start)
		}
		return out
	}
	for _, tc := range []struct {
		replica, from uint64
		want          []uint64 // Starts
	}{
		{7, 0, []uint64{1, 3, 5, 10}},
		{7, 1, []uint64{1, 3, 5, 10}},
		{7, 2, []uint64{1, 3, 5, 10}}, // 1..2 still has counter 2
		{7, 3, []uint64{3, 5, 10}},
		{7, 6, []uint64{5, 10}},
		{7, 7, []uint64{10}}, // counters 7..9 never existed
		{7, 12, []uint64{10}},
		{7, 13, nil},
		{7, ^uint64(0), nil},
		{8, 0, []uint64{1, 2}},
		{8, 5, []uint64{2}},
		{9, 0, nil},
	} {
		got, err := scanReplica(t, s, b, tc.replica, tc.from)
		if err != nil {
			t.Fatalf("ScanReplica(%d, %d): %v", tc.replica, tc.from, err)
		}
		if !slices.Equal(starts(got), tc.want) {
			t.Errorf("ScanReplica(%d, %d) starts = %v, want %v", tc.replica, tc.from, starts(got), tc.want)
		}
		for _, r := range got {
			if r.Replica != tc.replica || !bytes.Equal(r.Data, rec(r.Replica, r.Start, r.End).Data) {
				t.Errorf("ScanReplica returned wrong record %+v", r)
			}
		}
	}
	// Seqs match what ScanOps says.
	bySeq := map[uint64]Record{}
	for _, r := range scanOps(t, s, b, 0) {
		bySeq[r.Seq] = r
	}
	got, _ := scanReplica(t, s, b, 7, 0)
	for _, r := range got {
		if o := bySeq[r.Seq]; o.Replica != r.Replica || o.Start != r.Start || o.End != r.End {
			t.Errorf("seq %d: ScanReplica %+v, ScanOps %+v", r.Seq, r, o)
		}
	}
	if got, err := scanReplica(t, s, board(9), 7, 0); err != nil || len(got) != 0 {
		t.Fatalf("ScanReplica of unknown board = %v, %v", got, err)
	}
}

func testScanStopsOnError(t *testing.T, s Store) {
	b := board(1)
	for i := uint64(1); i <= 10; i++ {
		mustAppend(t, s, b, rec(1, i, i))
	}
	stop := errors.New("enough")
	for _, tc := range []struct {
		name string
		scan func(fn func() error) error
	}{
		{"ScanOps", func(fn func() error) error {
			return s.ScanOps(ctx, b, 0, func(Record) error { return fn() })
		}},
		{"ScanReplica", func(fn func() error) error {
			return s.ScanReplica(ctx, b, 1, 0, func(Record) error { return fn() })
		}},
		{"Boards", func(fn func() error) error {
			mustAppend(t, s, board(2), rec(1, 1, 1))
			mustAppend(t, s, board(3), rec(1, 1, 1))
			mustAppend(t, s, board(4), rec(1, 1, 1))
			return s.Boards(ctx, func(BoardID) error { return fn() })
		}},
		{"ScanMeta", func(fn func() error) error {
			for i := range 5 {
				if err := s.PutMeta(ctx, "t", []byte{byte(i)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			return s.ScanMeta(ctx, "t", nil, func(k, v []byte) error { return fn() })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := tc.scan(func() error {
				calls++
				if calls == 3 {
					return stop
				}
				return nil
			})
			if err != stop { // returned as is, not wrapped
				t.Fatalf("err = %v, want the callback's error", err)
			}
			if calls != 3 {
				t.Fatalf("fn called %d times, want 3", calls)
			}
		})
	}
}

func testRecordRoundTrip(t *testing.T, s Store) {
	b := board(1)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	in := []Record{
		{Replica: 0, Start: 1, End: 1},
		{Replica: 1, Start: 1, End: 1, Author: "", Accepted: -5, Data: []byte{}},
		{Replica: ^uint64(0), Start: ^uint64(0), End: ^uint64(0), Author: "ü-ñ\x00x", Accepted: -1 << 63, Data: []byte{0, 0xff}},
		{Replica: 3, Start: 1 << 40, End: 1<<40 + 1000, Author: "alice", Accepted: 1<<63 - 1, Data: big},
	}
	mustAppend(t, s, b, slices.Clone(in)...)
	got := scanOps(t, s, b, 0)
	if len(got) != len(in) {
		t.Fatalf("got %d records, want %d", len(got), len(in))
	}
	for i, r := range got {
		w := in[i]
		w.Seq = uint64(i + 1)
		if r.Seq != w.Seq || r.Replica != w.Replica || r.Start != w.Start || r.End != w.End ||
			r.Author != w.Author || r.Accepted != w.Accepted || !bytes.Equal(r.Data, w.Data) {
			t.Errorf("record %d = {%d %d %d..%d %q %d %d bytes}, want {%d %d %d..%d %q %d %d bytes}", i,
				r.Seq, r.Replica, r.Start, r.End, r.Author, r.Accepted, len(r.Data),
				w.Seq, w.Replica, w.Start, w.End, w.Author, w.Accepted, len(w.Data))
		}
		if r.Data == nil {
			t.Errorf("record %d: Data is nil, want empty", i)
		}
	}
}

// testNoAliasing checks that the store keeps no caller slice and hands out
// none it keeps.
func testNoAliasing(t *testing.T, s Store) {
	b := board(1)
	data := []byte("original")
	mustAppend(t, s, b, Record{Replica: 1, Start: 1, End: 1, Data: data})
	copy(data, "XXXXXXXX")
	r := scanOps(t, s, b, 0)[0]
	if string(r.Data) != "original" {
		t.Fatalf("store kept the caller's slice: %q", r.Data)
	}
	copy(r.Data, "YYYYYYYY")
	if r := scanOps(t, s, b, 0)[0]; string(r.Data) != "original" {
		t.Fatalf("store handed out its own slice: %q", r.Data)
	}
	snap := []byte("snap")
	if err := s.PutSnapshot(ctx, b, 1, snap); err != nil {
		t.Fatal(err)
	}
	copy(snap, "XXXX")
	_, got, _ := s.LatestSnapshot(ctx, b)
	copy(got, "YYYY")
	if _, got, _ := s.LatestSnapshot(ctx, b); string(got) != "snap" {
		t.Fatalf("snapshot aliased: %q", got)
	}
	key, val := []byte("k"), []byte("v")
	if err := s.PutMeta(ctx, "ns", key, val); err != nil {
		t.Fatal(err)
	}
	key[0], val[0] = 'X', 'X'
	got, err := s.GetMeta(ctx, "ns", []byte("k"))
	if err != nil || string(got) != "v" {
		t.Fatalf("GetMeta = %q, %v", got, err)
	}
	got[0] = 'Y'
	if got, _ := s.GetMeta(ctx, "ns", []byte("k")); string(got) != "v" {
		t.Fatalf("meta aliased: %q", got)
	}
}

func testSnapshots(t *testing.T, s Store) {
	b := board(1)
	if _, _, err := s.LatestSnapshot(ctx, b); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LatestSnapshot of empty board: err = %v, want ErrNotFound", err)
	}
	for i := uint64(1); i <= 10; i++ {
		mustAppend(t, s, b, rec(1, i, i))
	}
	if err := s.PutSnapshot(ctx, b, 11, []byte("future")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("snapshot beyond LastSeq: err = %v, want ErrInvalid", err)
	}
	type snap struct {
		seq  uint64
		data string
	}
	latest := func() snap {
		t.Helper()
		seq, data, err := s.LatestSnapshot(ctx, b)
		if err != nil {
			t.Fatalf("LatestSnapshot: %v", err)
		}
		return snap{seq, string(data)}
	}
	for _, tc := range []struct {
		put  snap
		want snap
	}{
		{snap{3, "s3"}, snap{3, "s3"}},
		{snap{5, "s5"}, snap{5, "s5"}},
		{snap{4, "s4"}, snap{5, "s5"}}, // older than the latest: kept or not, not latest
		{snap{5, "s5b"}, snap{5, "s5b"}},
		{snap{9, ""}, snap{9, ""}},
		{snap{10, "s10"}, snap{10, "s10"}},
	} {
		if err := s.PutSnapshot(ctx, b, tc.put.seq, []byte(tc.put.data)); err != nil {
			t.Fatalf("PutSnapshot(%d): %v", tc.put.seq, err)
		}
		if got := latest(); got != tc.want {
			t.Fatalf("after PutSnapshot(%d): latest = %v, want %v", tc.put.seq, got, tc.want)
		}
	}
	// A snapshot at seq 0 of a board with no log is allowed.
	if err := s.PutSnapshot(ctx, board(2), 0, []byte("empty")); err != nil {
		t.Fatalf("PutSnapshot at 0: %v", err)
	}
	if got, _ := boardsOf(t, s); slices.Contains(got, board(2)) {
		t.Fatalf("a snapshot alone made board(2) listed: %v", got)
	}
}

func boardsOf(t testing.TB, s Store) ([]BoardID, error) {
	t.Helper()
	var out []BoardID
	err := s.Boards(ctx, func(b BoardID) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		t.Fatalf("Boards: %v", err)
	}
	return out, err
}

func testTrimVsSnapshot(t *testing.T, s Store) {
	b := board(1)
	for i := uint64(1); i <= 20; i++ {
		mustAppend(t, s, b, rec(i%2, i, i))
	}
	firstSeq := func() uint64 {
		t.Helper()
		got := scanOps(t, s, b, 0)
		if len(got) == 0 {
			return 0
		}
		return got[0].Seq
	}
	steps := []struct {
		name      string
		snapshot  uint64 // PutSnapshot at this seq first, if not 0
		before    uint64
		wantFirst uint64 // first Seq ScanOps returns; 0 if none
	}{
		{"no snapshot trims nothing", 0, 15, 1},
		{"bounded by the snapshot", 5, 15, 6},
		{"before below the trim point is a no-op", 0, 3, 6},
		{"before within the snapshot", 8, 7, 7},
		{"up to the snapshot exactly", 0, 9, 9},
		{"everything the snapshot covers", 20, 1000, 0},
	}
	for _, st := range steps {
		if st.snapshot != 0 {
			if err := s.PutSnapshot(ctx, b, st.snapshot, []byte("state")); err != nil {
				t.Fatalf("%s: PutSnapshot: %v", st.name, err)
			}
		}
		if err := s.TrimOps(ctx, b, st.before); err != nil {
			t.Fatalf("%s: TrimOps: %v", st.name, err)
		}
		if got := firstSeq(); got != st.wantFirst {
			t.Fatalf("%s: first seq = %d, want %d", st.name, got, st.wantFirst)
		}
		if n := lastSeq(t, s, b); n != 20 {
			t.Fatalf("%s: LastSeq = %d, want 20 (trimming never lowers it)", st.name, n)
		}
	}
	// The fully trimmed board still has a log: it is listed, and appends
	// continue its numbering.
	if got, _ := boardsOf(t, s); !slices.Contains(got, b) {
		t.Fatalf("trimmed board not listed: %v", got)
	}
	if got := mustAppend(t, s, b, rec(5, 1, 1)); got[0].Seq != 21 {
		t.Fatalf("append after trim: seq %d, want 21", got[0].Seq)
	}
	// Trimmed records still count for ErrOverlap: a re-sent old change is
	// refused, not stored twice.
	if err := s.AppendOps(ctx, b, []Record{rec(0, 2, 2)}); !errors.Is(err, ErrOverlap) {
		t.Fatalf("re-append of a trimmed record: err = %v, want ErrOverlap", err)
	}
	// ScanReplica refuses when what the peer lacks is gone, and answers
	// when it is all retained.
	if _, err := scanReplica(t, s, b, 0, 0); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("ScanReplica over trimmed records: err = %v, want ErrTrimmed", err)
	}
	if _, err := scanReplica(t, s, b, 1, 19); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("ScanReplica(1, 19): err = %v, want ErrTrimmed", err)
	}
	if got, err := scanReplica(t, s, b, 1, 20); err != nil || len(got) != 0 {
		t.Fatalf("ScanReplica(1, 20) = %v, %v; want nothing", got, err)
	}
	if got, err := scanReplica(t, s, b, 5, 0); err != nil || len(got) != 1 || got[0].Seq != 21 {
		t.Fatalf("ScanReplica(5, 0) = %v, %v; want seq 21", got, err)
	}
	// TrimOps of a board with no log is a no-op.
	if err := s.TrimOps(ctx, board(9), 100); err != nil {
		t.Fatalf("TrimOps of unknown board: %v", err)
	}
}

func testDeleteBoard(t *testing.T, s Store) {
	b, other := board(1), board(2)
	mustAppend(t, s, b, rec(1, 1, 5), rec(2, 1, 1))
	mustAppend(t, s, other, rec(1, 1, 5))
	if err := s.PutSnapshot(ctx, b, 2, []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta(ctx, "board", b[:], []byte("name")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBoard(ctx, b); err != nil {
		t.Fatalf("DeleteBoard: %v", err)
	}
	if got := scanOps(t, s, b, 0); len(got) != 0 {
		t.Fatalf("log survived: %v", got)
	}
	if got, err := scanReplica(t, s, b, 1, 0); err != nil || len(got) != 0 {
		t.Fatalf("index survived: %v %v", got, err)
	}
	if _, _, err := s.LatestSnapshot(ctx, b); !errors.Is(err, ErrNotFound) {
		t.Fatalf("snapshot survived: %v", err)
	}
	if n := lastSeq(t, s, b); n != 0 {
		t.Fatalf("LastSeq = %d, want 0", n)
	}
	if got, _ := boardsOf(t, s); !slices.Equal(got, []BoardID{other}) {
		t.Fatalf("Boards = %v, want only the other board", got)
	}
	if v, err := s.GetMeta(ctx, "board", b[:]); err != nil || string(v) != "name" {
		t.Fatalf("metadata did not survive: %q, %v", v, err)
	}
	if got := scanOps(t, s, other, 0); len(got) != 1 {
		t.Fatalf("other board touched: %v", got)
	}
	// The board starts afresh, counters included.
	if got := mustAppend(t, s, b, rec(1, 1, 5)); got[0].Seq != 1 {
		t.Fatalf("seq after delete = %d, want 1", got[0].Seq)
	}
	if err := s.DeleteBoard(ctx, board(9)); err != nil {
		t.Fatalf("DeleteBoard of unknown board: %v", err)
	}
}

func testBoards(t *testing.T, s Store) {
	if got, _ := boardsOf(t, s); len(got) != 0 {
		t.Fatalf("Boards of empty store = %v", got)
	}
	var ids []BoardID
	for _, n := range []byte{9, 3, 200, 0, 255, 7} {
		b := board(n)
		b[1] = n // vary a middle byte too
		ids = append(ids, b)
		mustAppend(t, s, b, rec(1, 1, 1))
	}
	var max BoardID
	for i := range max {
		max[i] = 0xff
	}
	ids = append(ids, max, BoardID{})
	mustAppend(t, s, max, rec(1, 1, 1))
	mustAppend(t, s, BoardID{}, rec(1, 1, 1))
	if err := s.PutMeta(ctx, "board", []byte("x"), nil); err != nil { // metadata is not a board
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(a, b BoardID) int { return bytes.Compare(a[:], b[:]) })
	got, _ := boardsOf(t, s)
	if !slices.Equal(got, ids) {
		t.Fatalf("Boards = %v, want %v", got, ids)
	}
	// Ascending by bytes is ascending by canonical string.
	if !slices.IsSortedFunc(got, func(a, b BoardID) int { return cmpString(a.String(), b.String()) }) {
		t.Fatalf("Boards not sorted by string")
	}
	// The all-0xff board's ranges end where no upper bound exists.
	if got := scanOps(t, s, max, 0); len(got) != 1 {
		t.Fatalf("ScanOps of max board = %v", got)
	}
	if err := s.AppendOps(ctx, max, []Record{rec(1, 1, 1)}); !errors.Is(err, ErrOverlap) {
		t.Fatalf("overlap on max board: %v", err)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testMeta(t *testing.T, s Store) {
	if _, err := s.GetMeta(ctx, "member", []byte("nobody")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMeta absent: err = %v, want ErrNotFound", err)
	}
	puts := []struct{ key, val string }{
		{"b1/alice", "owner"},
		{"b1/bob", "editor"},
		{"b1/", "empty suffix"},
		{"b10/carol", "viewer"},
		{"b2/dave", ""},
		{"", "empty key"},
		{"b1\x00/x", "nul in key"},
		{"b1\xff", "ff"},
	}
	for _, p := range puts {
		if err := s.PutMeta(ctx, "member", []byte(p.key), []byte(p.val)); err != nil {
			t.Fatalf("PutMeta(%q): %v", p.key, err)
		}
	}
	for _, p := range puts {
		v, err := s.GetMeta(ctx, "member", []byte(p.key))
		if err != nil || string(v) != p.val {
			t.Fatalf("GetMeta(%q) = %q, %v; want %q", p.key, v, err, p.val)
		}
		if v == nil {
			t.Fatalf("GetMeta(%q) returned nil, want empty", p.key)
		}
	}
	// Overwrite.
	if err := s.PutMeta(ctx, "member", []byte("b1/bob"), []byte("viewer")); err != nil {
		t.Fatal(err)
	}
	scan := func(prefix string) []string {
		t.Helper()
		var out []string
		err := s.ScanMeta(ctx, "member", []byte(prefix), func(k, v []byte) error {
			out = append(out, string(k)+"="+string(v))
			return nil
		})
		if err != nil {
			t.Fatalf("ScanMeta(%q): %v", prefix, err)
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"b1/", []string{"b1/=empty suffix", "b1/alice=owner", "b1/bob=viewer"}},
		{"b1", []string{"b1\x00/x=nul in key", "b1/=empty suffix", "b1/alice=owner", "b1/bob=viewer", "b10/carol=viewer", "b1\xff=ff"}},
		{"b1\xff", []string{"b1\xff=ff"}},
		{"b3", nil},
		{"", []string{"=empty key", "b1\x00/x=nul in key", "b1/=empty suffix", "b1/alice=owner", "b1/bob=viewer", "b10/carol=viewer", "b1\xff=ff", "b2/dave="}},
	} {
		if got := scan(tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("ScanMeta(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	if err := s.DeleteMeta(ctx, "member", []byte("b1/alice")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMeta(ctx, "member", []byte("b1/alice")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: err = %v", err)
	}
	if err := s.DeleteMeta(ctx, "member", []byte("never")); err != nil {
		t.Fatalf("DeleteMeta of absent key: %v", err)
	}
}

func testMetaNamespaces(t *testing.T, s Store) {
	// Namespaces never see one another's keys, even when one name is a
	// prefix of another.
	for _, ns := range []string{"board", "boards", "board.x", "b", "member"} {
		if err := s.PutMeta(ctx, ns, []byte("k"), []byte(ns)); err != nil {
			t.Fatalf("PutMeta(%q): %v", ns, err)
		}
	}
	for _, ns := range []string{"board", "boards", "board.x", "b", "member"} {
		var got []string
		if err := s.ScanMeta(ctx, ns, nil, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"k=" + ns}; !slices.Equal(got, want) {
			t.Errorf("ScanMeta(%q) = %q, want %q", ns, got, want)
		}
	}
	if _, err := s.GetMeta(ctx, "invite", []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unused namespace: %v", err)
	}
	for _, bad := range []string{"", "Board", "a b", "a\x00b", "a/b", "ünï", "x123456789012345678901234567890123"} {
		checks := map[string]error{
			"PutMeta":    s.PutMeta(ctx, bad, []byte("k"), nil),
			"DeleteMeta": s.DeleteMeta(ctx, bad, []byte("k")),
			"ScanMeta":   s.ScanMeta(ctx, bad, nil, func(k, v []byte) error { return nil }),
			"ApplyMeta":  s.ApplyMeta(ctx, []MetaWrite{{NS: "ok", Key: []byte("k")}, {NS: bad, Key: []byte("k")}}),
		}
		_, err := s.GetMeta(ctx, bad, []byte("k"))
		checks["GetMeta"] = err
		for name, err := range checks {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s(%q): err = %v, want ErrInvalid", name, bad, err)
			}
		}
	}
	// The refused ApplyMeta wrote nothing, not even its valid write.
	if _, err := s.GetMeta(ctx, "ok", []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused ApplyMeta wrote: %v", err)
	}
	if err := s.PutMeta(ctx, "a-z_0.9", []byte("k"), nil); err != nil {
		t.Fatalf("valid namespace refused: %v", err)
	}
}

func testApplyMeta(t *testing.T, s Store) {
	if err := s.PutMeta(ctx, "invite", []byte("old"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	err := s.ApplyMeta(ctx, []MetaWrite{
		{NS: "invite", Key: []byte("a"), Val: []byte("1")},
		{NS: "outbox", Key: []byte("m1"), Val: []byte("mail")},
		{NS: "invite", Key: []byte("old"), Delete: true},
		{NS: "invite", Key: []byte("a"), Val: []byte("2")}, // later write wins
		{NS: "invite", Key: []byte("b"), Val: []byte("x")},
		{NS: "invite", Key: []byte("b"), Delete: true},
	})
	if err != nil {
		t.Fatalf("ApplyMeta: %v", err)
	}
	for _, tc := range []struct {
		ns, key, want string
		err           error
	}{
		{"invite", "a", "2", nil},
		{"outbox", "m1", "mail", nil},
		{"invite", "old", "", ErrNotFound},
		{"invite", "b", "", ErrNotFound},
	} {
		v, err := s.GetMeta(ctx, tc.ns, []byte(tc.key))
		if !errors.Is(err, tc.err) || string(v) != tc.want {
			t.Errorf("GetMeta(%s, %s) = %q, %v; want %q, %v", tc.ns, tc.key, v, err, tc.want, tc.err)
		}
	}
	if err := s.ApplyMeta(ctx, nil); err != nil {
		t.Fatalf("empty ApplyMeta: %v", err)
	}
}

func testContextCancel(t *testing.T, s Store) {
	b := board(1)
	for i := uint64(1); i <= 300; i++ {
		mustAppend(t, s, b, rec(1, i, i))
	}
	if err := s.PutMeta(ctx, "m", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	nop := func(Record) error { return nil }
	calls := map[string]error{
		"AppendOps":   s.AppendOps(done, b, []Record{rec(2, 1, 1)}),
		"ScanOps":     s.ScanOps(done, b, 0, nop),
		"ScanReplica": s.ScanReplica(done, b, 1, 0, nop),
		"PutSnapshot": s.PutSnapshot(done, b, 1, nil),
		"TrimOps":     s.TrimOps(done, b, 1),
		"PutMeta":     s.PutMeta(done, "m", []byte("k"), nil),
		"DeleteMeta":  s.DeleteMeta(done, "m", []byte("k")),
		"ScanMeta":    s.ScanMeta(done, "m", nil, func(k, v []byte) error { return nil }),
		"ApplyMeta":   s.ApplyMeta(done, []MetaWrite{{NS: "m", Key: []byte("k")}}),
		"DeleteBoard": s.DeleteBoard(done, b),
		"Boards":      s.Boards(done, func(BoardID) error { return nil }),
	}
	_, calls["LastSeq"] = s.LastSeq(done, b)
	_, _, calls["LatestSnapshot"] = s.LatestSnapshot(done, b)
	_, calls["GetMeta"] = s.GetMeta(done, "m", []byte("k"))
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
	}
	// Nothing happened.
	if n := lastSeq(t, s, b); n != 300 {
		t.Fatalf("LastSeq = %d, want 300", n)
	}
	if v, err := s.GetMeta(ctx, "m", []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("meta changed: %q %v", v, err)
	}
	// A scan stops soon after its context is cancelled mid-way.
	mid, cancel := context.WithCancel(ctx)
	n := 0
	err := s.ScanOps(mid, b, 0, func(Record) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 300 {
		t.Fatalf("ScanOps cancelled mid-way: err = %v after %d records", err, n)
	}
}

func testClosed(t *testing.T, s Store) {
	b := board(1)
	mustAppend(t, s, b, rec(1, 1, 1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	nop := func(Record) error { return nil }
	calls := map[string]error{
		"AppendOps":   s.AppendOps(ctx, b, []Record{rec(2, 1, 1)}),
		"ScanOps":     s.ScanOps(ctx, b, 0, nop),
		"ScanReplica": s.ScanReplica(ctx, b, 1, 0, nop),
		"PutSnapshot": s.PutSnapshot(ctx, b, 1, nil),
		"TrimOps":     s.TrimOps(ctx, b, 1),
		"PutMeta":     s.PutMeta(ctx, "m", []byte("k"), nil),
		"DeleteMeta":  s.DeleteMeta(ctx, "m", []byte("k")),
		"ScanMeta":    s.ScanMeta(ctx, "m", nil, func(k, v []byte) error { return nil }),
		"ApplyMeta":   s.ApplyMeta(ctx, []MetaWrite{{NS: "m", Key: []byte("k")}}),
		"DeleteBoard": s.DeleteBoard(ctx, b),
		"Boards":      s.Boards(ctx, func(BoardID) error { return nil }),
		"Close":       s.Close(),
	}
	_, calls["LastSeq"] = s.LastSeq(ctx, b)
	_, _, calls["LatestSnapshot"] = s.LatestSnapshot(ctx, b)
	_, calls["GetMeta"] = s.GetMeta(ctx, "m", []byte("k"))
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

// testCallbackReentry: scan callbacks may call the store.
func testCallbackReentry(t *testing.T, s Store) {
	b := board(1)
	mustAppend(t, s, b, rec(1, 1, 1), rec(1, 2, 2))
	n := 0
	err := s.ScanOps(ctx, b, 0, func(r Record) error {
		n++
		if _, err := s.LastSeq(ctx, b); err != nil {
			return err
		}
		if err := s.PutMeta(ctx, "seen", []byte{byte(r.Seq)}, nil); err != nil {
			return err
		}
		// Appending during a scan is allowed; the scan does not see it.
		return s.AppendOps(ctx, b, []Record{rec(2, r.Seq, r.Seq)})
	})
	if err != nil || n != 2 {
		t.Fatalf("re-entrant scan: %d records, err %v", n, err)
	}
	if got := lastSeq(t, s, b); got != 4 {
		t.Fatalf("LastSeq = %d, want 4", got)
	}
}

// testConcurrentAppend: many goroutines appending to many boards, several
// to each board; every board's Seqs must come out dense and unique, and each
// record must be stored under the Seq its AppendOps returned.
func testConcurrentAppend(t *testing.T, s Store) {
	const (
		writers   = 24
		boards    = 8
		perWriter = 40
	)
	type ack struct {
		board BoardID
		rec   Record
	}
	acks := make(chan ack, writers*perWriter*2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				b := board(byte((w + i) % boards))
				// Each writer is its own replica; counters rise per writer.
				// Some calls carry two records.
				c := uint64(2*i + 1)
				recs := []Record{rec(uint64(w), c, c)}
				if i%3 == 0 {
					recs = append(recs, rec(uint64(w), c+1, c+1))
				}
				if err := s.AppendOps(ctx, b, recs); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				for _, r := range recs {
					acks <- ack{b, r}
				}
				if i%10 == 0 {
					if _, err := s.LastSeq(ctx, b); err != nil {
						t.Errorf("LastSeq: %v", err)
					}
					if err := s.ScanOps(ctx, b, 0, func(Record) error { return nil }); err != nil {
						t.Errorf("ScanOps: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(acks)
	byBoard := map[BoardID]map[uint64]Record{}
	for a := range acks {
		m := byBoard[a.board]
		if m == nil {
			m = map[uint64]Record{}
			byBoard[a.board] = m
		}
		if prev, dup := m[a.rec.Seq]; dup {
			t.Fatalf("board %s seq %d acked twice: %+v and %+v", a.board, a.rec.Seq, prev, a.rec)
		}
		m[a.rec.Seq] = a.rec
	}
	for b, m := range byBoard {
		got := scanOps(t, s, b, 0)
		if len(got) != len(m) {
			t.Fatalf("board %s: %d records stored, %d acked", b, len(got), len(m))
		}
		for i, r := range got {
			if r.Seq != uint64(i+1) {
				t.Fatalf("board %s: seq %d at position %d: not dense", b, r.Seq, i)
			}
			a := m[r.Seq]
			if a.Replica != r.Replica || a.Start != r.Start || !bytes.Equal(a.Data, r.Data) {
				t.Fatalf("board %s seq %d: stored %+v, acked %+v", b, r.Seq, r, a)
			}
		}
		if n := lastSeq(t, s, b); n != uint64(len(m)) {
			t.Fatalf("board %s: LastSeq %d, want %d", b, n, len(m))
		}
	}
}

// TestKeepSnapshots checks pruning, which Store does not expose, by looking
// inside each implementation.
func TestKeepSnapshots(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T, keep int) Store
	}{
		{"Memory", func(t *testing.T, keep int) Store { return NewMemory(MemoryOptions{KeepSnapshots: keep}) }},
		{"Pebble", func(t *testing.T, keep int) Store {
			return openTestPebble(t, "db", PebbleOptions{FS: vfs.NewMem(), KeepSnapshots: keep})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range []struct {
				keep int
				puts []uint64
				want []uint64
			}{
				{0, []uint64{1, 2, 3}, []uint64{2, 3}}, // default 2
				{1, []uint64{1, 2, 3}, []uint64{3}},
				{3, []uint64{1, 2, 3, 4}, []uint64{2, 3, 4}},
				{2, []uint64{5, 1}, []uint64{1, 5}}, // an older one still fits
				{2, []uint64{5, 4, 1}, []uint64{4, 5}},
				{2, []uint64{5, 4, 5, 4}, []uint64{4, 5}}, // replacing is not adding
				{2, []uint64{4, 5, 1}, []uint64{4, 5}},    // too old to keep
			} {
				s := tc.open(t, st.keep)
				b := board(1)
				for i := uint64(1); i <= 10; i++ {
					mustAppend(t, s, b, rec(1, i, i))
				}
				for _, seq := range st.puts {
					if err := s.PutSnapshot(ctx, b, seq, []byte(fmt.Sprint(seq))); err != nil {
						t.Fatal(err)
					}
				}
				if got := snapshotSeqs(t, s, b); !slices.Equal(got, st.want) {
					t.Errorf("keep %d, puts %v: kept %v, want %v", st.keep, st.puts, got, st.want)
				}
			}
		})
	}
	if _, err := OpenPebble("db", PebbleOptions{FS: vfs.NewMem(), KeepSnapshots: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("KeepSnapshots -1: err = %v, want ErrInvalid", err)
	}
}

// snapshotSeqs lists the seqs of a board's stored snapshots, ascending.
func snapshotSeqs(t *testing.T, s Store, b BoardID) []uint64 {
	t.Helper()
	var out []uint64
	switch s := s.(type) {
	case *Memory:
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sn := range s.mu.boards[b].snaps {
			out = append(out, sn.seq)
		}
	case *Pebble:
		it, err := s.db.NewIter(boardBounds(spaceSnap, b))
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			_, seq, err := decodeSnapKey(it.Key())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, seq)
		}
	default:
		t.Fatalf("unknown store %T", s)
	}
	return out
}
