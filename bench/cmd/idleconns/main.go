// Command idleconns measures what an idle WebSocket connection costs a
// node: it opens many client connections (default 5,000, spread over 100
// boards) that say hello and then do nothing, and reports the node's memory
// growth per connection. It prints one RESULT line.
//
// Two modes:
//
//   - default: the node runs in this process (Pebble in a temporary
//     directory, embedded NATS, HTTP on a loopback port) and the clients
//     run in a child process (this program re-executed with -child), so
//     that nothing on the client side is counted. The figures are the
//     node's own: heap in use and stacks after a forced GC, goroutines, and
//     the process's RSS (VmRSS).
//   - -url http://127.0.0.1:PORT: a node already running in another
//     process; the figures come from its /metrics (process RSS, Go heap in
//     use and stacks without a forced GC, goroutines), and the clients run
//     in this process.
//
// The baseline is taken with one connection per board already open (every
// room loaded), so the result is the marginal cost of a connection, not of
// a board. Loopback only; every phase has a time limit.
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/bench/internal/nodeapi"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/node"
)

type config struct {
	url      string
	clients  int
	boards   int
	dialers  int
	settle   time.Duration
	child    bool
	boardsIn string
	memprof  string
	stacks   string
	active   bool
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "base URL of a running node (loopback); default: run a node in this process")
	flag.IntVar(&c.clients, "clients", 5000, "idle connections to open")
	flag.IntVar(&c.boards, "boards", 100, "boards they are spread over")
	flag.IntVar(&c.dialers, "dialers", 32, "connections opened at once")
	flag.DurationVar(&c.settle, "settle", 3*time.Second, "wait after connecting before measuring")
	flag.StringVar(&c.memprof, "memprofile", "", "in-process mode: write the node's heap profile here once connected")
	flag.StringVar(&c.stacks, "stacks", "", "in-process mode: write the node's goroutine stacks here once connected")
	flag.BoolVar(&c.active, "active", false, "each client makes one change (a note with text) and waits for its ack before going idle: the cost of a connection that was used, not only opened")
	flag.BoolVar(&c.child, "child", false, "internal: hold client connections for the parent")
	flag.StringVar(&c.boardsIn, "boards-file", "", "internal: the boards, for -child")
	flag.Parse()
	if c.clients < 1 || c.clients > 50000 || c.boards < 1 || c.boards > c.clients || c.dialers < 1 {
		fmt.Fprintln(os.Stderr, "idleconns: want 1 <= boards <= clients <= 50000")
		os.Exit(2)
	}
	var err error
	var line string
	switch {
	case c.child:
		err = child(c)
	case c.url != "":
		line, err = external(c)
	default:
		line, err = inProcess(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
	if line != "" {
		fmt.Println(line)
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

// holder opens and keeps idle connections.
type holder struct {
	api     *nodeapi.Client
	boards  []nodeapi.Board
	dialers int
	active  bool
	mu      sync.Mutex
	conns   []*client.Client
}

// open opens n more connections; connection k joins board k mod boards.
func (h *holder) open(n int) error {
	h.mu.Lock()
	base := len(h.conns)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < min(h.dialers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)-1) + base
				if i >= base+n {
					return
				}
				dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := client.Dial(dctx, client.Options{URL: h.api.WSURL(h.boards[i%len(h.boards)]),
					Replica: randomReplica(), Name: "idle-" + strconv.Itoa(i)})
				dcancel()
				if err == nil && h.active {
					err = touch(ctx, c, i)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					return
				}
				h.mu.Lock()
				h.conns = append(h.conns, c)
				h.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// touch makes one change on c (a note with a few words of text) and waits
// for the node's ack.
func touch(ctx context.Context, c *client.Client, i int) error {
	var el crdt.ElementID
	el[0], el[1] = 0x1d, 0x1e
	binary.BigEndian.PutUint64(el[8:], uint64(i))
	seq, err := c.Edit(ctx, time.Now().UnixMilli(), func(tx *crdt.Tx) error {
		if err := tx.Create(el, "note"); err != nil {
			return err
		}
		if err := tx.Set(el, "x", crdt.Number(float64(i))); err != nil {
			return err
		}
		return tx.InsertText(el, "text", 0, "idle "+strconv.Itoa(i))
	})
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.WaitAck(actx, seq)
}

func (h *holder) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range h.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); c.CloseNow(); <-sem }()
	}
	wg.Wait()
	h.conns = nil
}

func (h *holder) alive() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.conns {
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

func createBoards(api *nodeapi.Client, n int) ([]nodeapi.Board, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := make([]nodeapi.Board, n)
	for i := range out {
		b, err := api.CreateBoard(ctx, "idle "+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// ---- mode: a node in another process ----

func external(c config) (string, error) {
	if err := nodeapi.CheckLoopback(c.url); err != nil {
		return "", err
	}
	api := nodeapi.New(c.url)
	ctx := context.Background()
	if err := api.Healthy(ctx); err != nil {
		return "", err
	}
	boards, err := createBoards(api, c.boards)
	if err != nil {
		return "", err
	}
	h := &holder{api: api, boards: boards, dialers: c.dialers, active: c.active}
	defer h.closeAll()
	if err := h.open(c.boards); err != nil {
		return "", err
	}
	time.Sleep(c.settle)
	before, err := api.Scrape(ctx)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := h.open(c.clients - c.boards); err != nil {
		return "", err
	}
	took := time.Since(start)
	time.Sleep(c.settle)
	after, err := api.Scrape(ctx)
	if err != nil {
		return "", err
	}
	n := float64(c.clients - c.boards)
	if alive := h.alive(); alive != c.clients {
		return "", fmt.Errorf("only %d of %d connections still open", alive, c.clients)
	}
	kb := func(name string) string { return f1(nodeapi.Delta(before, after, name) / n / 1024) }
	return fmt.Sprintf("RESULT tool=idleconns mode=external active=%t clients=%d boards=%d measured_conns=%d rss_kb_per_conn=%s heap_inuse_kb_per_conn=%s stack_inuse_kb_per_conn=%s goroutines_per_conn=%s node_rss_mb=%s connect_s=%s",
		c.active, c.clients, c.boards, c.clients-c.boards, kb("process_resident_memory_bytes"), kb("go_memstats_heap_inuse_bytes"),
		kb("go_memstats_stack_inuse_bytes"), f2(nodeapi.Delta(before, after, "go_goroutines")/n),
		f1(after["process_resident_memory_bytes"]/(1<<20)), f1(took.Seconds())), nil
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// ---- mode: the node in this process, the clients in a child ----

type sample struct {
	heapInuse, stackInuse, heapAlloc, rss uint64
	goroutines                            int
}

func measure() sample {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return sample{heapInuse: m.HeapInuse, stackInuse: m.StackInuse, heapAlloc: m.HeapAlloc, rss: rss(), goroutines: runtime.NumGoroutine()}
}

// rss reads this process's resident set from /proc (0 if unavailable).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func inProcess(c config) (string, error) {
	dir, err := os.MkdirTemp("", "idleconns")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.New(node.Config{Addr: "127.0.0.1:0", DataDir: dir, Log: quiet,
		// Every client is on loopback: no per-address limits.
		HTTP: node.HTTPLimits{WebSocketsPerIP: -1}, Quotas: node.Quotas{BoardsPerHour: -1}})
	if err != nil {
		return "", err
	}
	addr, err := n.Listen()
	if err != nil {
		return "", err
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n.Shutdown(ctx)
		<-served
	}()
	base := "http://" + addr.(*net.TCPAddr).String()
	api := nodeapi.New(base)
	boards, err := createBoards(api, c.boards)
	if err != nil {
		return "", err
	}
	bf := dir + "/boards.json"
	bj, _ := json.Marshal(boards)
	if err := os.WriteFile(bf, bj, 0o600); err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", "-active="+strconv.FormatBool(c.active), "-url", base, "-boards-file", bf, "-dialers", strconv.Itoa(c.dialers),
		"-clients", strconv.Itoa(c.clients), "-boards", strconv.Itoa(c.boards))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	replies := bufio.NewScanner(stdout)
	ask := func(k int) error {
		fmt.Fprintf(stdin, "open %d\n", k)
		if !replies.Scan() {
			return errors.New("client process ended")
		}
		if r := replies.Text(); r != "ok" {
			return fmt.Errorf("client process: %s", r)
		}
		return nil
	}
	if err := ask(c.boards); err != nil {
		return "", err
	}
	time.Sleep(c.settle)
	before := measure()
	start := time.Now()
	if err := ask(c.clients - c.boards); err != nil {
		return "", err
	}
	took := time.Since(start)
	time.Sleep(c.settle)
	after := measure()
	if c.memprof != "" {
		f, err := os.Create(c.memprof)
		if err != nil {
			return "", err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if c.stacks != "" {
		f, err := os.Create(c.stacks)
		if err != nil {
			return "", err
		}
		pprof.Lookup("goroutine").WriteTo(f, 1)
		f.Close()
	}
	k := float64(c.clients - c.boards)
	kb := func(a, b uint64) string { return f1((float64(b) - float64(a)) / k / 1024) }
	return fmt.Sprintf("RESULT tool=idleconns mode=in-process active=%t clients=%d boards=%d measured_conns=%d rss_kb_per_conn=%s heap_inuse_kb_per_conn=%s heap_alloc_kb_per_conn=%s stack_inuse_kb_per_conn=%s goroutines_per_conn=%s node_rss_mb=%s connect_s=%s",
		c.active, c.clients, c.boards, c.clients-c.boards, kb(before.rss, after.rss), kb(before.heapInuse, after.heapInuse),
		kb(before.heapAlloc, after.heapAlloc), kb(before.stackInuse, after.stackInuse),
		f2(float64(after.goroutines-before.goroutines)/k), f1(float64(after.rss)/(1<<20)), f1(took.Seconds())), nil
}

// child holds connections for the parent: "open N" opens N more and
// answers "ok"; end of input closes them all and exits.
func child(c config) error {
	if err := nodeapi.CheckLoopback(c.url); err != nil {
		return err
	}
	bj, err := os.ReadFile(c.boardsIn)
	if err != nil {
		return err
	}
	var boards []nodeapi.Board
	if err := json.Unmarshal(bj, &boards); err != nil {
		return err
	}
	h := &holder{api: nodeapi.New(c.url), boards: boards, dialers: c.dialers, active: c.active}
	defer h.closeAll()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var k int
		if _, err := fmt.Sscanf(in.Text(), "open %d", &k); err != nil || k < 0 {
			fmt.Println("bad command")
			continue
		}
		if err := h.open(k); err != nil {
			fmt.Println(strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok")
	}
	return nil
}
