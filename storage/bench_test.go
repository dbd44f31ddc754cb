package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Benchmarks run on the real disk under b.TempDir(): the point is the cost
// of fsync. Run with
//
//	go test -run '^$' -bench . -benchtime 3s ./storage/

// benchRecord is a typical small change: a sticky-note edit of ~200 bytes.
func benchRecord(replica, counter uint64) Record {
	return Record{
		Replica:  replica,
		Start:    counter,
		End:      counter,
		Author:   "user-0123456789",
		Accepted: 1_700_000_000_000 + int64(counter),
		Data:     []byte(strings.Repeat("x", 200)),
	}
}

// syncCountingFS counts the syncs of WAL files, to show how many appends
// one fsync carries.
type syncCountingFS struct {
	vfs.FS
	syncs atomic.Int64
}

type syncCountingFile struct {
	vfs.File
	fs *syncCountingFS
}

func (f syncCountingFile) Sync() error     { f.fs.syncs.Add(1); return f.File.Sync() }
func (f syncCountingFile) SyncData() error { f.fs.syncs.Add(1); return f.File.SyncData() }

func (fs *syncCountingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return syncCountingFile{f, fs}, nil
}

func (fs *syncCountingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *syncCountingFS) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(old, name, c)
	return fs.wrap(name, f, err)
}

func (fs *syncCountingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(name, f, err)
}

// BenchmarkAppendSync: one writer, one record per AppendOps, so every
// append waits for its own fsync. ns/op is the latency of a durable append.
func BenchmarkAppendSync(b *testing.B) {
	fs := &syncCountingFS{FS: vfs.Default}
	s := openTestPebble(b, b.TempDir(), PebbleOptions{FS: fs, Logger: quietLogger})
	bd := board(1)
	counter := uint64(0)
	start := fs.syncs.Load()
	for b.Loop() {
		counter++
		if err := s.AppendOps(ctx, bd, []Record{benchRecord(1, counter)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(counter)/float64(fs.syncs.Load()-start), "appends/fsync")
}

// BenchmarkAppendGroupCommit: one writer (a board committing alone: with
// the gather it must not wait for it), 64 writers over 1000 boards, one record per
// AppendOps, as 64 busy rooms would; and 1000 writers, one per board, as
// 1000 rooms that each commit alone (issue #14: the group commit must
// hold up then). Group commit shows as appends/fsync well above 1 and
// ops/s well above 1/(single-writer latency); with the node's sync gather
// (gather=1ms, the binary's default) fewer fsyncs serve more appends, at
// up to that much latency. The node's CPU per change follows the fsyncs
// (the kernel's fsync was a sixth of it on many small boards).
func BenchmarkAppendGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 64, 1000} {
		for _, gather := range []time.Duration{0, time.Millisecond} {
			b.Run(fmt.Sprintf("writers=%d/gather=%v", writers, gather), func(b *testing.B) {
				benchGroupCommit(b, writers, gather)
			})
		}
	}
}

func benchGroupCommit(b *testing.B, writers int, gather time.Duration) {
	const boards = 1000
	fs := &syncCountingFS{FS: vfs.Default}
	s := openTestPebble(b, b.TempDir(), PebbleOptions{FS: fs, Logger: quietLogger, SyncGather: gather})
	var next atomic.Int64
	latencies := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	startSyncs := fs.syncs.Load()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 0))
			counter := uint64(0)
			for next.Add(1) <= int64(b.N) {
				counter++
				n := rng.IntN(boards)
				if writers >= boards {
					n = w % boards // each board its own writer
				}
				bd := board(0)
				bd[14], bd[15] = byte(n>>8), byte(n)
				t0 := time.Now()
				// Each writer is one replica; its counters rise across boards,
				// so no record ever overlaps another.
				if err := s.AppendOps(ctx, bd, []Record{benchRecord(uint64(w), counter)}); err != nil {
					b.Error(err)
					return
				}
				latencies[w] = append(latencies[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(all))/float64(fs.syncs.Load()-startSyncs), "appends/fsync")
}

// BenchmarkOpenLargeLog: what opening a board with a long history costs a
// node that just restarted: open the store (replaying its WAL), read the
// latest snapshot, scan the log after it. The board has 200,000 records and
// a 1 MiB snapshot 2,000 records from the end; the rest of the history is
// what the snapshot saves reading.
func BenchmarkOpenLargeLog(b *testing.B) {
	const (
		records = 200_000
		tail    = 2_000
		batch   = 1_000
	)
	dir := b.TempDir()
	s, err := OpenPebble(dir, PebbleOptions{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	bd := board(1)
	counter := uint64(0)
	for n := 0; n < records; n += batch {
		recs := make([]Record, batch)
		for i := range recs {
			counter++
			recs[i] = benchRecord(uint64(counter%50), counter)
		}
		if err := s.AppendOps(ctx, bd, recs); err != nil {
			b.Fatal(err)
		}
		if n+batch == records-tail {
			if err := s.PutSnapshot(ctx, bd, uint64(n+batch), make([]byte, 1<<20)); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Closed without a flush, as after a crash: the open replays the WAL
	// of the last memtable.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var openTime, readTime time.Duration
	iters := 0
	for b.Loop() {
		iters++
		t0 := time.Now()
		s, err := OpenPebble(dir, PebbleOptions{Logger: quietLogger})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		seq, snap, err := s.LatestSnapshot(ctx, bd)
		if err != nil || len(snap) != 1<<20 {
			b.Fatalf("LatestSnapshot: %v", err)
		}
		n := 0
		if err := s.ScanOps(ctx, bd, seq+1, func(Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != tail {
			b.Fatalf("tail of %d records, want %d", n, tail)
		}
		t2 := time.Now()
		if iters == 1 {
			// The first open replays the WAL left by the unflushed close;
			// later ones find it already flushed by that open.
			b.ReportMetric(float64(t1.Sub(t0).Microseconds())/1000, "first-open-ms")
		}
		openTime += t1.Sub(t0)
		readTime += t2.Sub(t1)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(openTime.Microseconds())/float64(iters)/1000, "open-ms")
	b.ReportMetric(float64(readTime.Microseconds())/float64(iters)/1000, "snapshot+tail-ms")
}
