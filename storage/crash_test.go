package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The durability tests. Two crashes are simulated:
//
//   - power loss, with Pebble's crashable in-memory file system: CrashClone
//     keeps what was synced and a random part of what was not, as a disk
//     losing its write cache might. Every record acked before the clone
//     must be there after reopening it; records in flight may be lost, but
//     what is there must decode and a board's Seqs must have no gap.
//   - kill -9 of a real process writing to a real directory: the operating
//     system keeps what was written, so this proves the process itself
//     loses nothing it acked (no ack before the write reached the kernel,
//     no state only in memory that reopening needs), and that the
//     directory reopens after an unclean exit.

// crashPayload is the deterministic content of the change of replica at
// counter start on board b, so a reader can check any record it finds.
func crashRecord(b BoardID, replica, start uint64) Record {
	n := 20 + int(start*37%300)
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(uint64(i)*31 + replica*7 + start + uint64(b[15]))
	}
	end := start + start%3 // some records cover several counters
	return Record{
		Replica:  replica,
		Start:    start,
		End:      end,
		Author:   fmt.Sprintf("u%d", replica),
		Accepted: int64(start) * 1000,
		Data:     data,
	}
}

// ackedRecord is a record whose AppendOps returned nil.
type ackedRecord struct {
	board BoardID
	rec   Record
}

// crashWriter appends crashRecords for one replica, round robin over
// boards, until stop is closed or n appends are done, reporting each acked
// record to ack. Counters run on per replica across boards.
func crashWriter(s Store, replica uint64, boards []BoardID, n int, stop <-chan struct{}, ack func(ackedRecord)) error {
	counter := uint64(1)
	for i := 0; i < n; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		b := boards[(int(replica)+i)%len(boards)]
		recs := []Record{crashRecord(b, replica, counter)}
		counter = recs[0].End + 1
		if i%4 == 0 { // sometimes two records in one call
			recs = append(recs, crashRecord(b, replica, counter))
			counter = recs[1].End + 1
		}
		if err := s.AppendOps(context.Background(), b, recs); err != nil {
			return err
		}
		for _, r := range recs {
			ack(ackedRecord{b, r})
		}
	}
	return nil
}

// verifyAfterCrash checks a reopened store against the records acked
// before the crash: every acked record is present, under its Seq, intact;
// every record present (acked or not) decodes and is one a writer made;
// Seqs are dense; the store accepts appends again.
func verifyAfterCrash(t *testing.T, s Store, acked []ackedRecord) {
	t.Helper()
	stored := map[BoardID][]Record{}
	if err := s.Boards(ctx, func(b BoardID) error {
		return s.ScanOps(ctx, b, 0, func(r Record) error {
			stored[b] = append(stored[b], r)
			return nil
		})
	}); err != nil {
		t.Fatalf("reading back: %v", err)
	}
	total := 0
	for b, recs := range stored {
		total += len(recs)
		for i, r := range recs {
			if r.Seq != uint64(i+1) {
				t.Fatalf("board %s: seq %d at position %d: gap", b, r.Seq, i)
			}
			want := crashRecord(b, r.Replica, r.Start)
			if r.End != want.End || r.Author != want.Author || r.Accepted != want.Accepted || !bytes.Equal(r.Data, want.Data) {
				t.Fatalf("board %s seq %d: record not intact: %+v", b, r.Seq, r)
			}
			got, err := scanReplica(t, s, b, r.Replica, r.Start)
			if err != nil || len(got) == 0 || got[0].Seq != r.Seq {
				t.Fatalf("board %s seq %d: index does not lead to it: %v, %v", b, r.Seq, got, err)
			}
		}
		if n := lastSeq(t, s, b); n != uint64(len(recs)) {
			t.Fatalf("board %s: LastSeq %d with %d records", b, n, len(recs))
		}
	}
	for _, a := range acked {
		recs := stored[a.board]
		if a.rec.Seq == 0 || a.rec.Seq > uint64(len(recs)) {
			t.Fatalf("acked record lost: board %s seq %d (board has %d)", a.board, a.rec.Seq, len(recs))
		}
		r := recs[a.rec.Seq-1]
		if r.Replica != a.rec.Replica || r.Start != a.rec.Start {
			t.Fatalf("board %s seq %d: stored replica %d start %d, acked replica %d start %d",
				a.board, a.rec.Seq, r.Replica, r.Start, a.rec.Replica, a.rec.Start)
		}
	}
	t.Logf("%d acked before the crash, %d stored after", len(acked), total)
	for b, recs := range stored {
		got := mustAppend(t, s, b, crashRecord(b, 1<<40, 1))
		if got[0].Seq != uint64(len(recs)+1) {
			t.Fatalf("board %s: append after crash got seq %d, want %d", b, got[0].Seq, len(recs)+1)
		}
	}
}

var quietLogger = slog.New(slog.DiscardHandler)

func TestCrashCloneKeepsAckedRecords(t *testing.T) {
	boards := []BoardID{board(1), board(2), board(3)}
	for _, tc := range []struct {
		unsyncedPct int
		seed        uint64
		gather      time.Duration // SyncGather: fsyncs held back while several boards append
	}{
		{0, 1, 0}, {0, 2, 0}, {30, 3, 0}, {50, 4, 0}, {70, 5, 0}, {100, 6, 0},
		{30, 7, time.Millisecond}, {100, 8, time.Millisecond},
	} {
		t.Run(fmt.Sprintf("unsynced%d%%/seed%d/gather%v", tc.unsyncedPct, tc.seed, tc.gather), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			// Tiny memtables: flushes, sstables and manifest edits happen
			// during the run, so the crash can catch them half done.
			opts := PebbleOptions{FS: fs, MemTableSize: 32 << 10, Logger: quietLogger, SyncGather: tc.gather}
			s, err := OpenPebble("db", opts)
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu     sync.Mutex
				acked  []ackedRecord
				enough = make(chan struct{})
				stop   = make(chan struct{})
			)
			// Crash at a different moment in each case.
			wantAcks := 150 + 97*int(tc.seed)
			ack := func(a ackedRecord) {
				mu.Lock()
				defer mu.Unlock()
				acked = append(acked, a)
				if len(acked) == wantAcks {
					close(enough)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for w := uint64(1); w <= 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- crashWriter(s, w, boards, 1<<20, stop, ack)
				}()
			}
			// Metadata is durable on return too.
			if err := s.PutMeta(ctx, "outbox", []byte("mail-1"), []byte("hello")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-enough:
			case err := <-errs:
				t.Fatalf("writer stopped early: %v", err)
			}
			// Everything acked so far happened before the clone.
			mu.Lock()
			before := append([]ackedRecord(nil), acked...)
			mu.Unlock()
			crashed := fs.CrashClone(vfs.CrashCloneCfg{
				UnsyncedDataPercent: tc.unsyncedPct,
				RNG:                 rand.New(rand.NewPCG(tc.seed, tc.seed)),
			})
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("writer: %v", err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			opts.FS = crashed
			s, err = OpenPebble("db", opts)
			if err != nil {
				t.Fatalf("reopening after crash: %v", err)
			}
			defer s.Close()
			verifyAfterCrash(t, s, before)
			if v, err := s.GetMeta(ctx, "outbox", []byte("mail-1")); err != nil || string(v) != "hello" {
				t.Fatalf("acked metadata lost: %q, %v", v, err)
			}
		})
	}
}

// crashChildEnv names the store directory when the test binary runs as the
// child of TestKill9.
const crashChildEnv = "CORKBOARD_STORAGE_CRASH_CHILD_DIR"

// TestKill9 runs this test binary again as a child that appends records in
// a loop and prints each acked record; after enough acks it kills the child
// with SIGKILL and checks that every printed record is in the store.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	// A watchdog, not a synchronisation: a child that hangs is killed
	// and the scan below ends at EOF.
	watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	defer watchdog.Stop()

	const wantAcks = 300
	var acked []ackedRecord
	sc := bufio.NewScanner(out)
	for len(acked) < wantAcks && sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ack ") {
			continue // the test framework's own output
		}
		var a ackedRecord
		var bs string
		if _, err := fmt.Sscanf(line, "ack %s %d %d %d", &bs, &a.rec.Seq, &a.rec.Replica, &a.rec.Start); err != nil {
			kill()
			t.Fatalf("bad line %q: %v", line, err)
		}
		if a.board, err = ParseBoardID(bs); err != nil {
			kill()
			t.Fatal(err)
		}
		acked = append(acked, a)
	}
	kill()
	waitErr := cmd.Wait()
	if len(acked) < wantAcks {
		t.Fatalf("child stopped after %d acks (%v): %s", len(acked), waitErr, stderr.Bytes())
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v: %s", waitErr, stderr.Bytes())
	}

	s, err := OpenPebble(dir, PebbleOptions{Logger: quietLogger})
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	verifyAfterCrash(t, s, acked)
}

// TestCrashChild is the child of TestKill9; it does nothing in a normal
// run. It writes until killed, bounded in count and time in case the
// parent is gone.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("the child of TestKill9")
	}
	s, err := OpenPebble(dir, PebbleOptions{MemTableSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	boards := []BoardID{board(1), board(2), board(3), board(4)}
	stop := make(chan struct{})
	time.AfterFunc(2*time.Minute, func() { close(stop) })
	var mu sync.Mutex
	ack := func(a ackedRecord) {
		mu.Lock()
		defer mu.Unlock()
		// One write per line to an unbuffered stdout: when the parent reads
		// the line, AppendOps has returned for it.
		if _, err := fmt.Fprintf(os.Stdout, "ack %s %d %d %d\n", a.board, a.rec.Seq, a.rec.Replica, a.rec.Start); err != nil {
			os.Exit(1) // the parent is gone
		}
	}
	var wg sync.WaitGroup
	for w := uint64(1); w <= 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := crashWriter(s, w, boards, 100_000, stop, ack); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_ = s.Close()
}
