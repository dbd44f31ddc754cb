// Command openboard measures how long a node takes to open a big board: it
// builds, directly with storage.OpenPebble and package crdt, a board with a
// long history (default 1,000,000 changes, one op each, by 100 replicas)
// and many live elements (default 50,000), stores its log and the
// snapshots the room's policy leaves behind, then times room.Manager.Open
// on a freshly opened store, and prints one RESULT line.
//
// The room's policy: a snapshot after every SnapshotEvery (default 1000)
// accepted changes and one when the room unloads; Pebble keeps the latest
// two. Opening costs the latest snapshot plus the log after it (the tail).
// The worst case the policy allows is a tail of SnapshotEvery-1 changes
// (a node killed just before its next snapshot), which is the default
// here (-tail). Only the two snapshots the store would keep are written
// (-all-snapshots writes every one, as a node would, which takes minutes).
//
// Each run opens the store anew (Pebble's block cache cold; the operating
// system's page cache warm unless -drop-caches) and times Manager.Open on a
// new manager; a second Open on another new manager over the same store is
// the "warm" figure. The store is wrapped so that nothing is written while
// measuring (the final snapshot of an unloading room is dropped), so every
// run opens the same state.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corkboard/corkboard/bench/internal/sysstat"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

type config struct {
	dir           string
	keep          bool
	changes       int
	elements      int
	replicas      int
	snapshotEvery int
	tail          int
	allSnapshots  bool
	runs          int
	seed          uint64
	dropCaches    bool
	cpuprofile    string
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory of the store (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&c.keep, "keep", false, "keep the store's directory (and reuse it with -dir: an existing store is not rebuilt)")
	flag.IntVar(&c.changes, "changes", 1_000_000, "changes (one op each) in the board's history")
	flag.IntVar(&c.elements, "elements", 50_000, "live elements at the end")
	flag.IntVar(&c.replicas, "replicas", 100, "replicas (people, tabs) that made the history")
	flag.IntVar(&c.snapshotEvery, "snapshot-every", 1000, "the room's snapshot interval (node flag --snapshot-every)")
	flag.IntVar(&c.tail, "tail", -1, "changes after the latest snapshot (default snapshot-every - 1, the worst case)")
	flag.BoolVar(&c.allSnapshots, "all-snapshots", false, "write every snapshot the policy would (slow), not just the two kept")
	flag.IntVar(&c.runs, "runs", 5, "measured opens")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the history")
	flag.BoolVar(&c.dropCaches, "drop-caches", false, "drop the OS page cache before each run (root; best effort)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured runs here")
	flag.Parse()
	if c.tail < 0 {
		c.tail = c.snapshotEvery - 1
	}
	if c.changes < 2*c.elements || c.elements < 10 || c.replicas < 1 || c.snapshotEvery < 1 ||
		c.tail >= c.changes-c.snapshotEvery || c.runs < 1 || c.runs > 100 || c.changes > 20_000_000 {
		fmt.Fprintln(os.Stderr, "openboard: want elements >= 10, changes >= 2*elements (at most 20M), tail < changes-snapshot-every, 1 <= runs <= 100")
		os.Exit(2)
	}
	line, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openboard:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}

var board = storage.BoardID{0xb0, 0xa2, 0xd0, 0x01, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1}

func run(c config) (string, error) {
	dir := c.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "openboard")
		if err != nil {
			return "", err
		}
		dir = d
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	st, err := storage.OpenPebble(dir, storage.PebbleOptions{Logger: quiet})
	if err != nil {
		return "", err
	}
	last, err := st.LastSeq(ctx, board)
	if err != nil {
		st.Close()
		return "", err
	}
	var b built
	if last == 0 {
		start := time.Now()
		b, err = build(ctx, st, c)
		if err != nil {
			st.Close()
			return "", err
		}
		b.buildTime = time.Since(start)
		fmt.Fprintf(os.Stderr, "openboard: built %d changes, %d live elements in %v in %s\n", c.changes, b.live, b.buildTime.Round(time.Millisecond), dir)
	} else {
		fmt.Fprintf(os.Stderr, "openboard: reusing the board in %s (%d changes)\n", dir, last)
	}
	if err := st.Close(); err != nil {
		return "", err
	}
	duBytes := dirSize(dir)

	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return "", err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var cold, warm, heap, coldCPU, others []float64
	var snapBytes, tail, elems int
	var snapLoad, tailReplay, snapEncode []float64
	for r := 0; r < c.runs; r++ {
		if c.dropCaches {
			exec.Command("sync").Run()
			os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
		}
		st, err := storage.OpenPebble(dir, storage.PebbleOptions{Logger: quiet})
		if err != nil {
			return "", err
		}
		ro := readOnly{st}
		for pass := 0; pass < 2; pass++ {
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			mgr := room.NewManager(room.Config{Node: "openboard", Store: ro, Bus: bus.NewHub().Node("openboard"),
				SnapshotEvery: c.snapshotEvery, Log: quiet})
			busy0, cpu0 := sysstat.MachineBusy(), processCPU()
			t := time.Now()
			rm, err := mgr.Open(ctx, board)
			d := time.Since(t)
			busy1, cpu1 := sysstat.MachineBusy(), processCPU()
			if err != nil {
				st.Close()
				return "", fmt.Errorf("open: %w", err)
			}
			var n int
			var snapT time.Duration
			rm.Query(ctx, func(doc *crdt.Doc) {
				n = liveCount(doc)
				ts := time.Now()
				snapBytes = len(doc.SnapshotRaw())
				snapT = time.Since(ts)
			})
			runtime.GC()
			runtime.ReadMemStats(&m1)
			mgr.Close("done")
			if pass == 0 {
				cold = append(cold, ms(d))
				coldCPU = append(coldCPU, (cpu1-cpu0)*1000)
				// What other processes kept busy while this one opened
				// the board: compare runs only at equal values.
				others = append(others, max(0, (busy1-busy0)-(cpu1-cpu0))/d.Seconds())
				heap = append(heap, float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20))
				snapEncode = append(snapEncode, ms(snapT))
			} else {
				warm = append(warm, ms(d))
			}
			elems = n
		}
		// The parts of an open, timed apart (warm).
		seq, snap, err := st.LatestSnapshot(ctx, board)
		if err != nil {
			st.Close()
			return "", err
		}
		t := time.Now()
		doc, err := crdt.LoadSnapshot(snap)
		if err != nil {
			st.Close()
			return "", err
		}
		snapLoad = append(snapLoad, ms(time.Since(t)))
		t = time.Now()
		tail = 0
		err = st.ScanOps(ctx, board, seq+1, func(rec storage.Record) error {
			ch, err := crdt.DecodeChange(rec.Data)
			if err != nil {
				return err
			}
			tail++
			_, _, err = doc.Apply(ch)
			return err
		})
		tailReplay = append(tailReplay, ms(time.Since(t)))
		if err := errors.Join(err, st.Close()); err != nil {
			return "", err
		}
	}
	if elems != c.elements && b.live != 0 {
		return "", fmt.Errorf("opened board has %d live elements, built %d", elems, b.live)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	return fmt.Sprintf("RESULT tool=openboard changes=%d elements=%d replicas=%d snapshot_every=%d tail=%d runs=%d open_ms_median=%s open_ms_max=%s open_warm_ms_median=%s snapshot_bytes=%d snapshot_load_ms_median=%s tail_replay_ms_median=%s snapshot_encode_ms_median=%s doc_heap_mb=%s store_mb=%s build_s=%s open_cpu_ms_median=%s others_busy_cores_median=%s loadavg1=%s",
		c.changes, elems, c.replicas, c.snapshotEvery, tail, c.runs, f(median(cold)), f(slices.Max(cold)), f(median(warm)),
		snapBytes, f(median(snapLoad)), f(median(tailReplay)), f(median(snapEncode)), f(median(heap)),
		f(float64(duBytes)/(1<<20)), f(b.buildTime.Seconds()), f(median(coldCPU)), strconv.FormatFloat(median(others), 'f', 2, 64), sysstat.Loadavg1()), nil
}

// processCPU returns the CPU seconds this process has used (user and
// system, every thread).
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func dirSize(dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return n
}

// readOnly drops writes, so that unloading a room after a measured open
// leaves the store as it was. Only PutSnapshot and AppendOps can be called
// by a room nobody joins; both are no-ops.
type readOnly struct{ storage.Store }

func (readOnly) PutSnapshot(context.Context, storage.BoardID, uint64, []byte) error { return nil }
func (readOnly) AppendOps(context.Context, storage.BoardID, []storage.Record) error {
	return errors.New("openboard: read-only store")
}

type built struct {
	live      int
	buildTime time.Duration
}

var (
	kinds  = []string{"note", "note", "note", "shape", "shape", "text"}
	colors = []string{"yellow", "#ffc9c9", "#b2f2bb", "#a5d8ff", "#d0bfff"}
	words  = strings.Fields("idea plan ship test draft why how user price launch risk goal team data next")
)

func elementID(i int) crdt.ElementID {
	var e crdt.ElementID
	binary.BigEndian.PutUint64(e[:8], 0x0b0a_0000_0000_4000|uint64(i>>32))
	binary.BigEndian.PutUint64(e[8:], 0x8000_0000_0000_0000|uint64(i))
	return e
}

// build writes the board's history: creations spread over the first half,
// then edits of the live elements (75% property sets, 18% text insertions,
// 4% moves, 3% votes), with one element in 21 deleted along the way so that
// exactly c.elements stay live. Every change has one op, as the load
// generator sends them.
func build(ctx context.Context, st storage.Store, c config) (built, error) {
	rng := rand.New(rand.NewPCG(c.seed, 7))
	reps := make([]crdt.ReplicaID, c.replicas)
	for i := range reps {
		reps[i] = crdt.ReplicaID(rng.Uint64() | 1)
	}
	deletes := c.elements / 20
	total := c.elements + deletes // creations
	doc := crdt.NewDoc()
	var live []int // indexes of live elements
	var deleted int
	created := 0
	now := int64(1_735_689_600_000) // 2025-01-01, +50 ms per change
	keys, _ := crdt.KeysBetween("", "", 256)
	snapAt := map[int]bool{c.changes - c.tail: true, c.changes - c.tail - c.snapshotEvery: true}
	var batch []storage.Record
	seq := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := st.AppendOps(ctx, board, batch)
		batch = batch[:0]
		return err
	}
	for i := 0; i < c.changes; i++ {
		now += 50
		r := reps[rng.IntN(len(reps))]
		tx := doc.Begin(r, now)
		var err error
		// Creations and deletions are spread evenly over the first half.
		half := c.changes / 2
		switch {
		case created < total && i*total/half >= created:
			id := elementID(created)
			if err = tx.Create(id, kinds[created%len(kinds)]); err == nil {
				live = append(live, created)
			}
			created++
		case deleted < deletes && i*deletes/half >= deleted && len(live) > 1:
			k := rng.IntN(len(live))
			err = tx.Delete(elementID(live[k]))
			live[k] = live[len(live)-1]
			live = live[:len(live)-1]
			deleted++
		default:
			id := elementID(live[rng.IntN(len(live))])
			switch p := rng.IntN(100); {
			case p < 75:
				switch rng.IntN(4) {
				case 0:
					err = tx.Set(id, "x", crdt.Number(float64(rng.IntN(200000))/10))
				case 1:
					err = tx.Set(id, "y", crdt.Number(float64(rng.IntN(200000))/10))
				case 2:
					err = tx.Set(id, "w", crdt.Number(float64(50+rng.IntN(400))))
				default:
					if doc.Kind(id) == "note" || doc.Kind(id) == "text" {
						err = tx.Set(id, "color", crdt.String(colors[rng.IntN(len(colors))]))
					} else {
						err = tx.Set(id, "fill", crdt.String(colors[rng.IntN(len(colors))]))
					}
				}
			case p < 93:
				n := doc.TextLen(id, "text")
				w := words[rng.IntN(len(words))] + " "
				err = tx.InsertText(id, "text", rng.IntN(n+1), w)
			case p < 97:
				err = tx.Move(id, crdt.Root, keys[rng.IntN(len(keys))])
			default:
				err = tx.Vote(id, "up", "user-"+strconv.Itoa(rng.IntN(c.replicas)), crdt.Number(1))
			}
		}
		if err != nil {
			tx.Commit()
			return built{}, fmt.Errorf("change %d: %w", i, err)
		}
		ch, ok := tx.Commit()
		if !ok {
			return built{}, fmt.Errorf("change %d: empty", i)
		}
		batch = append(batch, storage.Record{Replica: uint64(ch.Replica), Start: ch.Start, End: ch.End(),
			Author: "user-" + strconv.Itoa(int(uint64(r)%1000)), Accepted: now, Data: ch.AppendBinary(nil)})
		seq++
		if len(batch) == 1000 || snapAt[seq] || (c.allSnapshots && seq%c.snapshotEvery == (c.changes-c.tail)%c.snapshotEvery) {
			if err := flush(); err != nil {
				return built{}, err
			}
		}
		if snapAt[seq] || (c.allSnapshots && seq%c.snapshotEvery == (c.changes-c.tail)%c.snapshotEvery) {
			if err := st.PutSnapshot(ctx, board, uint64(seq), doc.SnapshotRaw()); err != nil {
				return built{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return built{}, err
	}
	return built{live: liveCount(doc)}, nil
}

// liveCount counts the elements not deleted.
func liveCount(d *crdt.Doc) int {
	n := 0
	for _, id := range d.Elements() {
		if !d.IsDeleted(id) {
			n++
		}
	}
	return n
}
