// Command load is Corkboard's load generator: N simulated clients spread
// over M boards of a running node, sending ops at a fixed total rate, each
// op its own change in its own batch. It measures what the node accepts
// (acks), what it delivers to the other clients of each board, the ack
// latency (send → ack) and the end-to-end latency (send on one client → the
// change applied on another client of the same board), and prints one final
// line:
//
//	RESULT tool=load clients=.. boards=.. rate=.. duration_s=.. ops_sent=.. ops_acked=.. acked_per_s=.. deliveries_per_s=.. ack_p50_ms=.. ack_p99_ms=.. ack_p999_ms=.. e2e_p50_ms=.. e2e_p99_ms=.. e2e_p999_ms=.. errors=.. [more fields]
//
// Every flag can be set by an environment variable LOAD_<FLAG> (LOAD_CLIENTS,
// LOAD_RATE, ...); a flag given on the command line wins. See bench/README.md.
//
// Only loopback URLs are accepted; every phase is bounded in time.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/corkboard/corkboard/bench/internal/hist"
	"github.com/corkboard/corkboard/bench/internal/nodeapi"
	"github.com/corkboard/corkboard/bench/internal/sysstat"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
)

type config struct {
	url        string
	urls       string // more nodes of the same cluster: clients are spread over all
	clients    int
	boards     int
	rate       float64
	duration   time.Duration
	warmup     time.Duration
	mix        []mixEntry
	mixText    string
	format     string
	elements   int
	ackTimeout time.Duration
	drain      time.Duration
	dialers    int
	seed       uint64
	verbose    bool
	inprocess  bool
	apply      bool
	cpuprofile string
	memprofile string
}

type opKind int

const (
	kindSet opKind = iota
	kindText
	kindCreate
	kindMove
	kindVote
)

var kindNames = map[string]opKind{"set": kindSet, "text": kindText, "create": kindCreate, "move": kindMove, "vote": kindVote}

type mixEntry struct {
	kind   opKind
	weight int
}

func parseMix(s string) ([]mixEntry, error) {
	var out []mixEntry
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		k, known := kindNames[strings.TrimSpace(name)]
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if !ok || !known || err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: want kind=weight,... with kinds set, text, create, move, vote", s)
		}
		if n > 0 {
			out = append(out, mixEntry{k, n})
			total += n
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: no positive weight", s)
	}
	return out, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	line, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv("LOAD_" + strings.ToUpper(name)); ok {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		v, err := strconv.Atoi(env(name, strconv.Itoa(def)))
		if err != nil {
			return def
		}
		return v
	}
	envDur := func(name string, def time.Duration) time.Duration {
		v, err := time.ParseDuration(env(name, def.String()))
		if err != nil {
			return def
		}
		return v
	}
	envFloat := func(name string, def float64) float64 {
		v, err := strconv.ParseFloat(env(name, strconv.FormatFloat(def, 'f', -1, 64)), 64)
		if err != nil {
			return def
		}
		return v
	}
	var c config
	fs.StringVar(&c.url, "url", env("url", "http://127.0.0.1:8080"), "base HTTP URL of the node (loopback only)")
	fs.StringVar(&c.urls, "urls", env("urls", ""), "comma-separated URLs of more nodes of the same cluster: client i connects to node i mod n (boards are created on -url)")
	fs.IntVar(&c.clients, "clients", envInt("clients", 50), "simulated clients (WebSocket connections)")
	fs.IntVar(&c.boards, "boards", envInt("boards", 5), "boards the clients are spread over (client i joins board i mod boards)")
	fs.Float64Var(&c.rate, "rate", envFloat("rate", 100), "total ops per second sent, over all clients")
	fs.DurationVar(&c.duration, "duration", envDur("duration", 30*time.Second), "measurement window")
	fs.DurationVar(&c.warmup, "warmup", envDur("warmup", 5*time.Second), "load before the window, not measured")
	fs.StringVar(&c.mixText, "mix", env("mix", "set=70,text=20,create=5,move=3,vote=2"), "op mix: kind=weight,... (kinds: set, text, create, move, vote)")
	fs.StringVar(&c.format, "format", env("format", "binary"), "wire format of ops: binary or json")
	fs.IntVar(&c.elements, "elements", envInt("elements", 20), "notes created on each board before the run (what set, text, move and vote edit)")
	fs.DurationVar(&c.ackTimeout, "ack-timeout", envDur("ack_timeout", 10*time.Second), "an op not acked within this counts as an error")
	fs.DurationVar(&c.drain, "drain", envDur("drain", 5*time.Second), "how long to wait after the window for the last acks and deliveries")
	fs.IntVar(&c.dialers, "dialers", envInt("dialers", 16), "connections opened at once during setup")
	seed := fs.Uint64("seed", uint64(envInt("seed", 1)), "seed of the op choices (replica ids are always random)")
	fs.BoolVar(&c.inprocess, "inprocess", env("inprocess", "") != "", "run the node in this process (temporary data dir; -url is ignored), for profiling")
	fs.StringVar(&c.cpuprofile, "cpuprofile", env("cpuprofile", ""), "write a CPU profile of the measurement window here; with -inprocess the node's samples carry the label side=node (go tool pprof -tagfocus side=node)")
	fs.StringVar(&c.memprofile, "memprofile", env("memprofile", ""), "write a heap profile at the end of the window here (with -inprocess it covers node and clients: focus on the node's packages)")
	fs.BoolVar(&c.apply, "apply", env("apply", "true") != "false", "clients apply the changes they receive (false: after the seeding they only decode them, to load the node harder than this machine's clients could follow; bench/peers/yload.mjs --apply none)")
	fs.BoolVar(&c.verbose, "v", env("v", "") != "", "progress on stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.seed = *seed
	for _, u := range strings.Split(c.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if err := nodeapi.CheckLoopback(u); err != nil {
				return c, err
			}
		}
	}
	if err := nodeapi.CheckLoopback(c.url); err != nil {
		return c, err
	}
	if c.clients < 1 || c.boards < 1 || c.boards > c.clients {
		return c, errors.New("want 1 <= boards <= clients")
	}
	if c.rate <= 0 || c.duration <= 0 || c.warmup < 0 || c.elements < 1 {
		return c, errors.New("want rate > 0, duration > 0, warmup >= 0, elements >= 1")
	}
	if c.format != "binary" && c.format != "json" {
		return c, errors.New("format: binary or json")
	}
	if c.duration > 2*time.Hour || c.warmup > time.Hour {
		return c, errors.New("duration at most 2h, warmup at most 1h")
	}
	var err error
	c.mix, err = parseMix(c.mixText)
	return c, err
}

// ---- shared state ----

// ringSize is how many recent sends each client remembers for end-to-end
// latency: the receiver looks the change up by (replica, start counter).
const ringSize = 256

type slot struct {
	start atomic.Uint64
	sent  atomic.Int64 // unix ns
}

type board struct {
	api     nodeapi.Board
	members []*sim
	elems   []crdt.ElementID // seeded notes, known to every member
}

// sim is one simulated client.
type sim struct {
	idx     int
	replica crdt.ReplicaID
	voter   string // the user id the node gave this session
	b       *board
	doc     *crdt.Doc
	c       *client.Client
	ring    [ringSize]slot
	counter uint64 // last counter used by this replica (sender goroutine only)
	kick    chan struct{}
	acks    chan pending
	rng     *rand.Rand
	dead    atomic.Bool
}

type pending struct {
	seq      uint64
	sent     time.Time
	measured bool
	expect   int // deliveries this op should cause
}

type stats struct {
	sent, acked, expected  atomic.Int64
	deliveries, untracked  atomic.Int64
	ackTimeouts, sendFails atomic.Int64
	localFails, dropped    atomic.Int64
	refused, disconnects   atomic.Int64
	windowStart, windowEnd atomic.Int64 // unix ns; set before the first op
	ack, e2e               *hist.Sharded
}

var (
	st       = &stats{ack: hist.NewSharded(64), e2e: hist.NewSharded(64)}
	replicas map[crdt.ReplicaID]*sim // read-only once the clients dial
	verbose  bool
)

func logf(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	}
}

func inWindow(ns int64) bool {
	return ns >= st.windowStart.Load() && ns < st.windowEnd.Load()
}

// onOps runs on the receiving client's read goroutine, under its lock.
func (s *sim) onOps(applied []crdt.Change) {
	now := time.Now().UnixNano()
	for i := range applied {
		ch := &applied[i]
		from := replicas[ch.Replica]
		if from == nil {
			continue // a seed or a change of someone else
		}
		sl := &from.ring[ch.Start%ringSize]
		sent := sl.sent.Load()
		if sl.start.Load() != ch.Start {
			if inWindow(now) {
				st.untracked.Add(1) // overwritten in the ring: a very late delivery
			}
			continue
		}
		if inWindow(sent) {
			st.deliveries.Add(1)
			st.e2e.Record(s.idx, time.Duration(now-sent))
		}
	}
}

func randomReplica() crdt.ReplicaID {
	var b [8]byte
	for {
		crand.Read(b[:])
		if r := binary.LittleEndian.Uint64(b[:]); r != 0 {
			return crdt.ReplicaID(r)
		}
	}
}

func randomElement() crdt.ElementID {
	var e crdt.ElementID
	crand.Read(e[:])
	e[6] = e[6]&0x0f | 0x40 // a v4 UUID
	e[8] = e[8]&0x3f | 0x80
	return e
}

// ---- the run ----

func run(cfg config) (string, error) {
	verbose = cfg.verbose
	if cfg.inprocess {
		url, stop, err := startNode()
		if err != nil {
			return "", err
		}
		defer stop()
		cfg.url = url
	}
	api := nodeapi.New(cfg.url)
	apis := []*nodeapi.Client{api}
	for _, u := range strings.Split(cfg.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			apis = append(apis, nodeapi.New(u))
		}
	}
	setupCtx, cancelSetup := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancelSetup()
	if err := api.Healthy(setupCtx); err != nil {
		return "", fmt.Errorf("node at %s: %w", cfg.url, err)
	}

	// Boards, through the REST API.
	boards := make([]*board, cfg.boards)
	if err := parallel(cfg.dialers, cfg.boards, func(i int) error {
		b, err := api.CreateBoard(setupCtx, fmt.Sprintf("load %d", i))
		boards[i] = &board{api: b}
		return err
	}); err != nil {
		return "", err
	}
	logf("%d boards created", cfg.boards)

	// Clients: all states (and the replica map) first, then dial.
	sims := make([]*sim, cfg.clients)
	replicas = make(map[crdt.ReplicaID]*sim, cfg.clients)
	for i := range sims {
		s := &sim{idx: i, replica: randomReplica(), b: boards[i%cfg.boards], doc: crdt.NewDoc(),
			kick: make(chan struct{}, 64), acks: make(chan pending, 1024),
			rng: rand.New(rand.NewPCG(cfg.seed, uint64(i)))}
		s.b.members = append(s.b.members, s)
		sims[i] = s
		replicas[s.replica] = s
	}
	start := time.Now()
	var dialErrs atomic.Int64
	if err := parallel(cfg.dialers, cfg.clients, func(i int) error {
		s := sims[i]
		ctx, cancel := context.WithTimeout(setupCtx, 30*time.Second)
		defer cancel()
		nodeAPI := apis[i%len(apis)]
		var c *client.Client
		var err error
		// A board made on the first node reaches the others' metadata
		// within moments: retry the first dials a few times.
		for attempt := 0; attempt < 50; attempt++ {
			c, err = client.Dial(ctx, client.Options{URL: nodeAPI.WSURL(s.b.api), Replica: s.replica,
				Name: fmt.Sprintf("load-%d", i), Format: cfg.format, Doc: s.doc, OnOps: s.onOps})
			if err == nil || len(apis) == 1 || !strings.Contains(err.Error(), "404") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			if dialErrs.Add(1) == 1 {
				fmt.Fprintf(os.Stderr, "load: dial client %d: %v\n", i, err)
			}
			s.dead.Store(true)
			return nil
		}
		s.c = c
		s.voter = c.Welcome().User.ID // a vote must be the sender's own
		return nil
	}); err != nil {
		return "", err
	}
	if n := dialErrs.Load(); n > 0 {
		return "", fmt.Errorf("%d of %d clients failed to connect (raise the node's limits or ulimit -n?)", n, cfg.clients)
	}
	logf("%d clients connected in %v", cfg.clients, time.Since(start).Round(time.Millisecond))
	defer closeAll(sims, cfg.dialers)

	// Seed each board with notes that every member then knows.
	if err := parallel(cfg.dialers, cfg.boards, func(i int) error { return seed(setupCtx, boards[i], cfg.elements) }); err != nil {
		return "", err
	}
	logf("boards seeded with %d notes each", cfg.elements)
	if !cfg.apply {
		for _, s := range sims {
			if s.c != nil {
				s.c.SetApply(false)
			}
		}
	}

	// Senders and ack waiters.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var wg, ackWG sync.WaitGroup
	for _, s := range sims {
		wg.Add(1)
		ackWG.Add(1)
		go func() { defer wg.Done(); s.sendLoop(runCtx, cfg) }()
		go func() { defer ackWG.Done(); s.ackLoop(cfg) }()
	}

	// The scheduler: ops at the total rate, each to a random client.
	rng := rand.New(rand.NewPCG(cfg.seed, 0xc0ffee))
	t0 := time.Now()
	windowAt := t0.Add(cfg.warmup)
	endAt := windowAt.Add(cfg.duration)
	st.windowStart.Store(windowAt.UnixNano())
	st.windowEnd.Store(endAt.UnixNano())
	interval := time.Duration(float64(time.Second) / cfg.rate)
	var before, after nodeapi.Metrics
	var ruBefore, ruAfter syscall.Rusage
	windowOpened := false
	var busyBefore, busyAfter float64
	var schedBefore sysstat.SchedLatency
	next := t0
	for k := 0; ; k++ {
		next = t0.Add(time.Duration(k) * interval)
		if !windowOpened && !next.Before(windowAt) {
			// Open the window: scrape the node, note our own CPU.
			if m, err := api.Scrape(setupCtx); err == nil {
				before = m
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ruBefore)
			busyBefore = sysstat.MachineBusy()
			schedBefore = sysstat.ReadSchedLatency()
			windowOpened = true
			if cfg.cpuprofile != "" {
				f, err := os.Create(cfg.cpuprofile)
				if err != nil {
					return "", err
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
			}
			logf("warm-up over; measuring for %v", cfg.duration)
		}
		if !next.Before(endAt) {
			break
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		s := sims[rng.IntN(len(sims))]
		select {
		case s.kick <- struct{}{}:
		default:
			if !next.Before(windowAt) {
				st.dropped.Add(1) // that client is still sending: the generator is overloaded
			}
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ruAfter)
	busyAfter = sysstat.MachineBusy()
	schedAfter := sysstat.ReadSchedLatency()
	if cfg.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if cfg.memprofile != "" {
		if f, err := os.Create(cfg.memprofile); err == nil {
			runtime.GC()
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	if m, err := api.Scrape(setupCtx); err == nil {
		after = m
	}
	stopRun()
	wg.Wait() // senders done: every ack channel closed
	drainDone := make(chan struct{})
	go func() { ackWG.Wait(); close(drainDone) }()
	select {
	case <-drainDone:
	case <-time.After(cfg.drain + cfg.ackTimeout):
	}
	// Let the last deliveries land: stop when the count is stable.
	deadline := time.Now().Add(cfg.drain)
	for last := int64(-1); time.Now().Before(deadline); {
		n := st.deliveries.Load()
		if n == last {
			break
		}
		last = n
		time.Sleep(300 * time.Millisecond)
	}
	refusals := map[string]int{}
	for _, s := range sims {
		if s.c == nil {
			continue
		}
		for _, e := range s.c.Errors() {
			st.refused.Add(1)
			msg := e.Message
			if len(msg) > 120 {
				msg = msg[:120]
			}
			refusals[string(e.Code)+": "+msg]++
		}
		select {
		case <-s.c.Done():
			st.disconnects.Add(1)
		default:
		}
	}

	shown := 0
	for m, n := range refusals {
		if shown++; shown <= 5 {
			fmt.Fprintf(os.Stderr, "load: refused %d times: %s\n", n, m)
		}
	}
	ack, e2e := st.ack.Merged(), st.e2e.Merged()
	secs := cfg.duration.Seconds()
	errorsTotal := st.ackTimeouts.Load() + st.sendFails.Load() + st.refused.Load() + st.disconnects.Load()
	cpu := func(ru syscall.Rusage) float64 {
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	nodeCPU, nodeRSS := -1.0, -1.0
	var nodeDeliv, nodeAccepted, nodeSlow, commitMs, fanoutMs float64
	if before != nil && after != nil {
		nodeCPU = nodeapi.Delta(before, after, "process_cpu_seconds_total") / secs
		nodeRSS = after["process_resident_memory_bytes"] / (1 << 20)
		nodeDeliv = nodeapi.Delta(before, after, "corkboard_deliveries_total") / secs
		nodeAccepted = nodeapi.Delta(before, after, "corkboard_changes_accepted_total") / secs
		nodeSlow = nodeapi.Delta(before, after, "corkboard_slow_consumers_total")
		if n := nodeapi.Delta(before, after, "corkboard_commit_seconds_count"); n > 0 {
			commitMs = nodeapi.Delta(before, after, "corkboard_commit_seconds_sum") / n * 1000
		}
		if n := nodeapi.Delta(before, after, "corkboard_fanout_seconds_count"); n > 0 {
			fanoutMs = nodeapi.Delta(before, after, "corkboard_fanout_seconds_sum") / n * 1000
		}
	}
	expected := st.expected.Load()
	ratio := 0.0
	if expected > 0 {
		ratio = float64(st.deliveries.Load()) / float64(expected)
	}
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	// The node's CPU per accepted change, as the peers' harness prints it
	// (bench/peers/yload.mjs): CPU seconds over the window / acks in it.
	cpuPerChange := "-1"
	if nodeCPU >= 0 && st.acked.Load() > 0 {
		cpuPerChange = strconv.FormatFloat(nodeCPU*secs*1000/float64(st.acked.Load()), 'f', 3, 64)
	}
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	fmt.Fprintf(os.Stderr, "load: node during the window: cpu_cores=%s accepted_per_s=%s delivery_msgs_per_s=%s (frames queued to sessions) commit_mean_ms=%s commit_p99_ms<=%s commit_p999_ms<=%s fanout_mean_ms=%s fanout_p99_ms<=%s slow_consumers_kicked=%s rss_mb=%s\n",
		f2(nodeCPU), f1(nodeAccepted), f1(nodeDeliv), f2(commitMs),
		f2(1000*nodeapi.HistQuantile(before, after, "corkboard_commit_seconds", 0.99)),
		f2(1000*nodeapi.HistQuantile(before, after, "corkboard_commit_seconds", 0.999)), f2(fanoutMs),
		f2(1000*nodeapi.HistQuantile(before, after, "corkboard_fanout_seconds", 0.99)), f1(nodeSlow), f1(nodeRSS))
	fmt.Fprintf(os.Stderr, "load: errors: ack_timeouts=%d send_failures=%d refused=%d disconnects=%d; untracked_deliveries=%d local_op_failures=%d dropped_schedule=%d\n",
		st.ackTimeouts.Load(), st.sendFails.Load(), st.refused.Load(), st.disconnects.Load(), st.untracked.Load(), st.localFails.Load(), st.dropped.Load())
	runtime.KeepAlive(sims)
	return fmt.Sprintf("RESULT tool=load apply=%t clients=%d boards=%d rate=%s duration_s=%s ops_sent=%d ops_acked=%d acked_per_s=%s deliveries_per_s=%s ack_p50_ms=%s ack_p99_ms=%s ack_p999_ms=%s e2e_p50_ms=%s e2e_p99_ms=%s e2e_p999_ms=%s errors=%d format=%s mix=%s deliveries=%d expected_deliveries=%d missing_deliveries=%d delivery_ratio=%s ack_max_ms=%s e2e_max_ms=%s node_cpu_cores=%s node_cpu_ms_per_change=%s load_cpu_cores=%s machine_busy_cores=%s loadavg1=%s load_sched_p99_ms=%s load_sched_p999_ms=%s",
		cfg.apply, cfg.clients, cfg.boards, f1(cfg.rate), f1(secs), st.sent.Load(), st.acked.Load(), f1(float64(st.acked.Load())/secs),
		f1(float64(st.deliveries.Load())/secs), f2(ack.QuantileMs(0.50)), f2(ack.QuantileMs(0.99)), f2(ack.QuantileMs(0.999)),
		f2(e2e.QuantileMs(0.50)), f2(e2e.QuantileMs(0.99)), f2(e2e.QuantileMs(0.999)), errorsTotal,
		cfg.format, strings.ReplaceAll(cfg.mixText, " ", ""), st.deliveries.Load(), expected, max(0, expected-st.deliveries.Load()), strconv.FormatFloat(ratio, 'f', 4, 64),
		f2(ack.MaxMs()), f2(e2e.MaxMs()), f2(nodeCPU), cpuPerChange, f2((cpu(ruAfter)-cpu(ruBefore))/secs), f2((busyAfter-busyBefore)/secs), sysstat.Loadavg1(),
		f2(1000*schedAfter.QuantileSince(schedBefore, 0.99)), f2(1000*schedAfter.QuantileSince(schedBefore, 0.999))), nil
}

// startNode runs a node in this process, its goroutines labelled
// side=node for profiles, with the same defaults as the corkboard binary.
func startNode() (url string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "load-node")
	if err != nil {
		return "", nil, err
	}
	var n *node.Node
	var addr net.Addr
	served := make(chan error, 1)
	pprof.Do(context.Background(), pprof.Labels("side", "node"), func(context.Context) {
		n, err = node.New(node.Config{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			SyncGather: node.DefaultSyncGather, // the binary's --sync-gather
			// Every client is on loopback: no per-address limits.
			HTTP: node.HTTPLimits{WebSocketsPerIP: -1}, Quotas: node.Quotas{BoardsPerHour: -1}})
		if err != nil {
			return
		}
		if addr, err = n.Listen(); err != nil {
			return
		}
		go func() { served <- n.Serve() }()
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return "http://" + addr.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		<-served
		os.RemoveAll(dir)
	}, nil
}

// parallel runs fn(0..n-1) on at most workers goroutines; the first error wins.
func parallel(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func closeAll(sims []*sim, workers int) {
	parallel(workers*4, len(sims), func(i int) error {
		if c := sims[i].c; c != nil {
			c.CloseNow()
		}
		return nil
	})
}

// seed has the board's first member create the notes, then waits until
// every member has them.
func seed(ctx context.Context, b *board, n int) error {
	first := b.members[0]
	ids := make([]crdt.ElementID, n)
	for i := range ids {
		ids[i] = randomElement()
	}
	seq, err := first.c.Edit(ctx, time.Now().UnixMilli(), func(tx *crdt.Tx) error {
		for _, id := range ids {
			if err := tx.Create(id, "note"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	first.counter += uint64(n)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := first.c.WaitAck(wctx, seq); err != nil {
		return fmt.Errorf("seed: ack: %w (errors: %v)", err, first.c.Errors())
	}
	last := ids[len(ids)-1]
	for _, m := range b.members {
		if err := m.c.WaitDoc(wctx, func(d *crdt.Doc) bool { return d.Exists(last) }); err != nil {
			return fmt.Errorf("seed: members did not get the notes: %w", err)
		}
	}
	b.elems = ids
	return nil
}

var letters = "abcdefghijklmnopqrstuvwxyz"

// moveKeys are sibling positions for move ops.
var moveKeys, _ = crdt.KeysBetween("", "", 64)

func (s *sim) pickKind(mix []mixEntry) opKind {
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	r := s.rng.IntN(total)
	for _, m := range mix {
		if r < m.weight {
			return m.kind
		}
		r -= m.weight
	}
	return mix[0].kind
}

// sendLoop sends one op per kick, each its own change and batch, without
// waiting for acks (the ack loop does).
func (s *sim) sendLoop(ctx context.Context, cfg config) {
	defer close(s.acks)
	if s.c == nil {
		return
	}
	expect := len(s.b.members) - 1
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		if s.dead.Load() {
			continue
		}
		kind := s.pickKind(cfg.mix)
		el := s.b.elems[s.rng.IntN(len(s.b.elems))]
		var span uint64 = 1
		var text string
		fn := func(tx *crdt.Tx) error {
			switch kind {
			case kindSet:
				key := "x"
				if s.rng.IntN(2) == 1 {
					key = "y"
				}
				return tx.Set(el, key, crdt.Number(float64(s.rng.IntN(100000))/10))
			case kindText:
				n := s.doc.TextLen(el, "text") // the client's lock is held
				b := []byte{letters[s.rng.IntN(26)], letters[s.rng.IntN(26)], letters[s.rng.IntN(26)]}
				text = string(b)
				span = uint64(len(b))
				return tx.InsertText(el, "text", s.rng.IntN(n+1), text)
			case kindCreate:
				return tx.Create(randomElement(), "note")
			case kindMove:
				return tx.Move(el, crdt.Root, moveKeys[s.rng.IntN(len(moveKeys))])
			default:
				return tx.Vote(el, "up", s.voter, crdt.Number(float64(s.rng.IntN(2))))
			}
		}
		start := s.counter + 1
		sent := time.Now()
		sl := &s.ring[start%ringSize]
		sl.start.Store(0)
		sl.sent.Store(sent.UnixNano())
		sl.start.Store(start)
		seq, err := s.c.Edit(ctx, sent.UnixMilli(), fn)
		measured := inWindow(sent.UnixNano())
		if err != nil {
			if errors.Is(err, crdt.ErrInvalidOp) || errors.Is(err, crdt.ErrMalformed) {
				st.localFails.Add(1) // the op was not made: nothing sent
				continue
			}
			if measured {
				st.sendFails.Add(1)
			}
			s.counter += span // the change was made locally and may have been sent
			if s.c.Err() != nil {
				s.dead.Store(true)
			}
			continue
		}
		s.counter += span
		if measured {
			st.sent.Add(1)
		}
		select {
		case s.acks <- pending{seq: seq, sent: sent, measured: measured, expect: expect}:
		case <-ctx.Done():
			return
		}
	}
}

// ackLoop waits for the acks in send order (a session's acks come in order)
// and records their latency.
func (s *sim) ackLoop(cfg config) {
	for p := range s.acks {
		if s.dead.Load() {
			if p.measured {
				st.ackTimeouts.Add(1)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ackTimeout)
		err := s.c.WaitAck(ctx, p.seq)
		now := time.Now()
		cancel()
		var refused *client.RefusedError
		if errors.As(err, &refused) {
			continue // counted with the error frames
		}
		if err != nil {
			if p.measured {
				st.ackTimeouts.Add(1)
			}
			if errors.Is(err, client.ErrClosed) {
				s.dead.Store(true)
			}
			continue
		}
		if p.measured {
			st.acked.Add(1)
			st.expected.Add(int64(p.expect))
			st.ack.Record(s.idx, now.Sub(p.sent))
		}
	}
}
