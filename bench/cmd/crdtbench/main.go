// Command crdtbench runs the CRDT benchmark workloads of the benchmark
// contract (a real editing trace replayed locally and as remote updates,
// and a whiteboard of last-writer-wins properties) against package crdt and
// prints one RESULT line per workload.
//
// Configuration comes from the environment: TRACE, RUNS, LWW_RUNS,
// LWW_ELEMENTS, LWW_UPDATES, LWW_BATCH, SEED, WORKLOADS (see bench/README.md);
// CPUPROFILE=file writes a CPU profile; REUSE_OPS=0 gives every local
// change ops of its own instead of one reused buffer.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	v, err := strconv.Atoi(env(name, strconv.Itoa(def)))
	if err != nil || v < 0 {
		fmt.Fprintf(os.Stderr, "crdtbench: %s must be a non-negative integer\n", name)
		os.Exit(2)
	}
	return v
}

func main() {
	trace := env("TRACE", "../shared/traces/automerge-paper.json.gz")
	runs := max(1, envInt("RUNS", 5))
	workloads := strings.Split(env("WORKLOADS", "trace,trace-remote,lww"), ",")
	if path := os.Getenv("CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ok := true
	for _, w := range workloads {
		var line string
		var err error
		switch strings.TrimSpace(w) {
		case "trace":
			line, err = traceLocal(trace, runs)
		case "trace-remote":
			line, err = traceRemote(trace, runs)
		case "lww":
			line, err = lww(lwwConfig{
				runs:     max(1, envInt("LWW_RUNS", 3)),
				elements: envInt("LWW_ELEMENTS", 100000),
				updates:  envInt("LWW_UPDATES", 1000000),
				batch:    max(1, envInt("LWW_BATCH", 1)),
				seed:     uint32(envInt("SEED", 42)),
			})
		default:
			err = fmt.Errorf("unknown workload %q", w)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "crdtbench: %s: %v\n", w, err)
			ok = false
			continue
		}
		fmt.Println(line)
		if strings.Contains(line, "ok=false") {
			ok = false
		}
	}
	if !ok {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func version() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// rssMB reads the current resident set size from /proc (Linux).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	fmt.Sscan(string(b), &size, &resident)
	return float64(resident*int64(os.Getpagesize())) / (1 << 20)
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

type stats struct{ median, min, max float64 }

func summarize(ms []float64) stats {
	s := slices.Clone(ms)
	slices.Sort(s)
	return stats{median: s[len(s)/2], min: s[0], max: s[len(s)-1]}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// cpuMs returns the process's CPU time (user+system, all threads, GC
// included) in ms: on a busy machine it is steadier than wall time.
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// allocCounts returns the heap allocations (objects) and completed GC
// cycles of the process so far; read outside the timed parts.
func allocCounts() (objects, gcs uint64) {
	ms := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(ms)
	return ms[0].Value.Uint64(), ms[1].Value.Uint64()
}

// allocStats formats the allocations and GC cycles of one timed part of
// n changes.
func allocStats(o0, g0 uint64, n int) string {
	o1, g1 := allocCounts()
	return fmt.Sprintf("allocs_per_change=%s gc_cycles=%d", strconv.FormatFloat(float64(o1-o0)/float64(max(n, 1)), 'f', 3, 64), g1-g0)
}

func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// ---- the trace workloads ----

// patch is one patch of a trace; its inserted text is
// traceFile.ins[insOff:insOff+insLen]. Patches hold no pointers, and their
// texts share one string: the trace stays in memory during the timed part,
// and a quarter of a million small strings would make every collection cycle
// mark them, a cost of the harness and not of the CRDT.
type patch struct {
	pos, del       int32
	insOff, insLen uint32
}

type traceFile struct {
	name  string
	start string
	end   string
	ps    []patch
	ins   string
}

func (t *traceFile) insText(p patch) string { return t.ins[p.insOff : p.insOff+p.insLen] }

func loadTrace(path string) (*traceFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, err
	}
	var raw struct {
		StartContent string `json:"startContent"`
		EndContent   string `json:"endContent"`
		Txns         []struct {
			Patches [][3]json.RawMessage `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		return nil, err
	}
	t := &traceFile{name: strings.TrimSuffix(filepath.Base(path), ".json.gz"), start: raw.StartContent, end: raw.EndContent}
	var ins strings.Builder
	for _, tx := range raw.Txns {
		for _, p := range tx.Patches {
			var pos, del int32
			var s string
			if err := json.Unmarshal(p[0], &pos); err != nil {
				return nil, err
			}
			if err := json.Unmarshal(p[1], &del); err != nil {
				return nil, err
			}
			if err := json.Unmarshal(p[2], &s); err != nil {
				return nil, err
			}
			t.ps = append(t.ps, patch{pos: pos, del: del, insOff: uint32(ins.Len()), insLen: uint32(len(s))})
			ins.WriteString(s)
		}
	}
	t.ins = ins.String()
	return t, nil
}

var noteID = crdt.ElementID{0x01, 0x93, 0x5c, 0x7d, 0, 0, 0x70, 0, 0x80, 0, 0, 0, 0, 0, 0, 1}

const benchReplica crdt.ReplicaID = 0x5eed5eed5eed5eed

// newTraceDoc returns a doc holding one note whose text is the trace's
// starting content, and the changes that made it.
func newTraceDoc(t *traceFile) (*crdt.Doc, crdt.Change) {
	d := crdt.NewDoc()
	tx := d.Begin(benchReplica, 0)
	tx.Create(noteID, "note")
	if t.start != "" {
		tx.InsertText(noteID, "text", 0, t.start)
	}
	c, _ := tx.Commit()
	return d, c
}

// opsBuf holds the ops of the change being made. Each change is done with
// (dropped, or encoded at once) before the next begins, as a client that
// sends every change the moment it commits it: Doc.BeginInto reuses it.
var opsBuf []crdt.Op

// edit applies one patch as its own local change. The change is valid
// until the next edit (see opsBuf).
func edit(d *crdt.Doc, t *traceFile, p patch) (crdt.Change, error) {
	tx := d.BeginInto(benchReplica, 0, opsBuf)
	if p.del > 0 {
		if err := tx.DeleteText(noteID, "text", int(p.pos), int(p.del)); err != nil {
			return crdt.Change{}, err
		}
	}
	if ins := t.insText(p); ins != "" {
		if err := tx.InsertText(noteID, "text", int(p.pos), ins); err != nil {
			return crdt.Change{}, err
		}
	}
	c, _ := tx.Commit()
	keepOps(c)
	return c, nil
}

// reuseOps is false with REUSE_OPS=0: every local change then gets ops of
// its own, as with Doc.Begin (to compare).
var reuseOps = os.Getenv("REUSE_OPS") != "0"

// keepOps keeps the array of a committed change's ops for the next one.
func keepOps(c crdt.Change) {
	if reuseOps && cap(c.Ops) > 0 {
		opsBuf = c.Ops
	}
}

func traceLocal(path string, runs int) (string, error) {
	t, err := loadTrace(path)
	if err != nil {
		return "", err
	}
	var times, cpu []float64
	var d *crdt.Doc
	var alloc string
	base := heapMB()
	for i := 0; i < runs; i++ {
		d = nil
		runtime.GC()
		d, _ = newTraceDoc(t)
		o0, g0 := allocCounts()
		start, c0 := time.Now(), cpuMs()
		for _, p := range t.ps {
			if _, err := edit(d, t, p); err != nil {
				return "", err
			}
		}
		times = append(times, msSince(start))
		cpu = append(cpu, cpuMs()-c0)
		alloc = allocStats(o0, g0, len(t.ps))
	}
	mem := heapMB() - base
	ok := d.Text(noteID, "text") == t.end
	snap := d.Snapshot()
	loadMs, loadOK := loadTimes(runs, func() bool {
		d2, err := crdt.LoadSnapshot(snap)
		return err == nil && d2.Text(noteID, "text") == t.end
	})
	s := summarize(times)
	return fmt.Sprintf("RESULT lib=corkboard ver=%s workload=trace:%s ok=%t apply_ms_median=%s apply_ms_min=%s apply_ms_max=%s encoded_bytes=%d load_ms_median=%s peak_rss_mb=%s doc_heap_mb=%s patches=%d apply_cpu_ms_median=%s %s",
		version(), t.name, ok && loadOK, f(s.median), f(s.min), f(s.max), len(snap), f(loadMs), f(peakRSSMB()), f(mem), len(t.ps), f(summarize(cpu).median), alloc), nil
}

func loadTimes(runs int, load func() bool) (float64, bool) {
	var times []float64
	ok := true
	for i := 0; i < runs; i++ {
		start := time.Now()
		ok = load() && ok
		times = append(times, msSince(start))
	}
	return summarize(times).median, ok
}

func traceRemote(path string, runs int) (string, error) {
	t, err := loadTrace(path)
	if err != nil {
		return "", err
	}
	// The updates sit in one buffer (ends[i] is where update i ends), for
	// the reason given at patch.
	src, first := newTraceDoc(t)
	all := first.AppendBinary(nil)
	ends := []int{len(all)}
	for _, p := range t.ps {
		c, err := edit(src, t, p)
		if err != nil {
			return "", err
		}
		all = c.AppendBinary(all)
		ends = append(ends, len(all))
	}
	total := len(all)
	var times, cpu []float64
	var d *crdt.Doc
	var alloc string
	for i := 0; i < runs; i++ {
		d = nil
		runtime.GC()
		d = crdt.NewDoc()
		o0, g0 := allocCounts()
		start, c0 := time.Now(), cpuMs()
		from := 0
		for _, end := range ends {
			u := all[from:end:end]
			from = end
			// Each update is decoded and applied before the next, as a
			// node does: Doc.ApplyBinary decodes the ops into a buffer of
			// the doc's and validates them once.
			if _, st, _, err := d.ApplyBinary(u); err != nil || st != crdt.Applied {
				return "", fmt.Errorf("apply: %v %v", st, err)
			}
		}
		times = append(times, msSince(start))
		cpu = append(cpu, cpuMs()-c0)
		alloc = allocStats(o0, g0, len(ends))
	}
	ok := d.Text(noteID, "text") == t.end
	snap := d.Snapshot()
	loadMs, loadOK := loadTimes(runs, func() bool {
		d2, err := crdt.LoadSnapshot(snap)
		return err == nil && d2.Text(noteID, "text") == t.end
	})
	s := summarize(times)
	return fmt.Sprintf("RESULT lib=corkboard ver=%s workload=trace-remote:%s ok=%t apply_ms_median=%s apply_ms_min=%s apply_ms_max=%s encoded_bytes=%d load_ms_median=%s peak_rss_mb=%s updates=%d update_bytes_total=%d apply_cpu_ms_median=%s %s",
		version(), t.name, ok && loadOK, f(s.median), f(s.min), f(s.max), len(snap), f(loadMs), f(peakRSSMB()), len(ends), total, f(summarize(cpu).median), alloc), nil
}

// ---- the whiteboard workload ----

type lwwConfig struct {
	runs, elements, updates, batch int
	seed                           uint32
}

type mulberry32 uint32

func (a *mulberry32) next() uint32 {
	*a += 0x6D2B79F5
	x := uint32(*a)
	t := (x ^ x>>15) * (1 | x)
	t = (t + (t^t>>7)*(61|t)) ^ t
	return t ^ t>>14
}

var (
	types   = []string{"rect", "ellipse", "text", "arrow"}
	palette = []string{"#000000", "#ffffff", "#e03131", "#2f9e44", "#1971c2", "#f08c00", "#6741d9", "#0c8599",
		"#c2255c", "#868e96", "#ffe066", "#a5d8ff", "#b2f2bb", "#ffc9c9", "#d0bfff", "#99e9f2"}
	props   = []string{"type", "x", "y", "w", "h", "rot", "fill", "z"}
	mutable = []string{"x", "y", "w", "h", "rot", "fill", "z"}
)

func elemID(i int) crdt.ElementID {
	var e crdt.ElementID
	e[0] = 0xe1
	binary.BigEndian.PutUint64(e[8:], uint64(i))
	return e
}

func draw(r *mulberry32, prop string) crdt.Value {
	switch prop {
	case "x", "y":
		return crdt.Number(float64(r.next()%1000000) / 100)
	case "w", "h":
		return crdt.Number(float64(r.next()%50000) / 100)
	case "rot":
		return crdt.Number(float64(r.next()%36000) / 100)
	case "fill":
		return crdt.String(palette[r.next()%16])
	}
	panic(prop)
}

type setOp struct {
	el  int
	key string
	v   crdt.Value
}

// lwwGen reproduces the contract's op stream — creations, then updates —
// drawing from the PRNG as it goes, so that no pre-generated stream sits
// in memory and inflates the measured memory growth.
type lwwGen struct {
	r   mulberry32
	n   int
	buf []setOp
}

func newLWWGen(cfg lwwConfig) *lwwGen { return &lwwGen{r: mulberry32(cfg.seed), n: cfg.elements} }

// create returns element i's 8 properties (call for i = 0..n-1 in order,
// before any update).
func (g *lwwGen) create(i int) []setOp {
	g.buf = append(g.buf[:0], setOp{i, "type", crdt.String(types[i%4])})
	for _, p := range []string{"x", "y", "w", "h", "rot", "fill"} {
		g.buf = append(g.buf, setOp{i, p, draw(&g.r, p)})
	}
	return append(g.buf, setOp{i, "z", crdt.Number(float64(i))})
}

// update returns update k (call for k = 0..U-1 in order).
func (g *lwwGen) update(k int) setOp {
	el := int(g.r.next() % uint32(g.n))
	p := mutable[g.r.next()%7]
	if p == "z" {
		return setOp{el, p, crdt.Number(float64(g.n + k))}
	}
	return setOp{el, p, draw(&g.r, p)}
}

func stateHash(d *crdt.Doc, n int) string {
	h := fnv.New32a()
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b[:0], 'e')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '{')
		for _, p := range props {
			v, _ := d.Get(elemID(i), p)
			b = append(b, p...)
			b = append(b, '=')
			if v.Kind() == crdt.KindNumber {
				b = strconv.AppendFloat(b, v.AsNumber(), 'f', -1, 64)
			} else {
				b = append(b, v.AsString()...)
			}
			b = append(b, ';')
		}
		b = append(b, '}')
		h.Write(b)
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

func lww(cfg lwwConfig) (string, error) {
	var total, createMs, updateMs, cpu []float64
	var d *crdt.Doc
	var growth, rssGrowth float64
	var alloc string
	for run := 0; run < cfg.runs; run++ {
		d = nil
		base := heapMB()
		baseRSS := rssMB()
		d = crdt.NewDoc()
		gen := newLWWGen(cfg)
		o0, g0 := allocCounts()
		start, c0 := time.Now(), cpuMs()
		var tx crdt.Tx
		open, inTx := false, 0
		flush := func() {
			if open {
				c, _ := tx.Commit()
				keepOps(c)
				open, inTx = false, 0
			}
		}
		for i := 0; i < cfg.elements; i++ {
			ops := gen.create(i)
			if !open {
				tx, open = d.BeginInto(benchReplica, 0, opsBuf), true
			}
			if err := tx.Create(elemID(i), "shape"); err != nil {
				return "", err
			}
			for _, op := range ops {
				if err := tx.Set(elemID(op.el), op.key, op.v); err != nil {
					return "", err
				}
			}
			if inTx++; inTx >= cfg.batch {
				flush()
			}
		}
		flush()
		mid := time.Now()
		om, _ := allocCounts() // a few µs, no stop of the world
		for k := 0; k < cfg.updates; k++ {
			op := gen.update(k)
			if !open {
				tx, open = d.BeginInto(benchReplica, 0, opsBuf), true
			}
			if err := tx.Set(elemID(op.el), op.key, op.v); err != nil {
				return "", err
			}
			if inTx++; inTx >= cfg.batch {
				flush()
			}
		}
		flush()
		end := time.Now()
		cpu = append(cpu, cpuMs()-c0)
		o1, g1 := allocCounts()
		alloc = fmt.Sprintf("create_allocs_per_change=%.3f update_allocs_per_change=%.3f gc_cycles=%d",
			float64(om-o0)/float64(max(cfg.elements, 1)), float64(o1-om)/float64(max(cfg.updates, 1)), g1-g0)
		total = append(total, float64(end.Sub(start).Microseconds())/1000)
		createMs = append(createMs, float64(mid.Sub(start).Microseconds())/1000)
		updateMs = append(updateMs, float64(end.Sub(mid).Microseconds())/1000)
		growth = heapMB() - base
		if run == 0 {
			rssGrowth = rssMB() - baseRSS
		}
	}
	hash := stateHash(d, cfg.elements)
	want := ""
	if cfg.elements == 100000 && cfg.updates == 1000000 && cfg.seed == 42 {
		want = "457185c6"
	}
	snap := d.Snapshot()
	loadMs, ok1 := loadTimes(cfg.runs, func() bool {
		d2, err := crdt.LoadSnapshot(snap)
		if err != nil {
			return false
		}
		v, _ := d2.Get(elemID(cfg.elements/2), "x")
		return v.Kind() == crdt.KindNumber
	})
	loadFullMs, ok2 := loadTimes(cfg.runs, func() bool {
		d2, err := crdt.LoadSnapshot(snap)
		if err != nil {
			return false
		}
		for i := 0; i < cfg.elements; i++ {
			for _, p := range props {
				if _, ok := d2.Get(elemID(i), p); !ok {
					return false
				}
			}
		}
		return true
	})
	ok := ok1 && ok2 && (want == "" || hash == want)
	s := summarize(total)
	debug.FreeOSMemory()
	return fmt.Sprintf("RESULT lib=corkboard ver=%s workload=lww:%dx8+%d ok=%t apply_ms_median=%s apply_ms_min=%s apply_ms_max=%s encoded_bytes=%d load_ms_median=%s peak_rss_mb=%s state_hash=%s create_ms_median=%s update_ms_median=%s load_full_ms_median=%s heap_growth_mb=%s rss_growth_mb=%s batch=%d apply_cpu_ms_median=%s %s",
		version(), cfg.elements, cfg.updates, ok, f(s.median), f(s.min), f(s.max), len(snap), f(loadMs), f(peakRSSMB()), hash,
		f(summarize(createMs).median), f(summarize(updateMs).median), f(loadFullMs), f(growth), f(rssGrowth), cfg.batch, f(summarize(cpu).median), alloc), nil
}
