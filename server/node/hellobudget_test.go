package node_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// frameHeader is the header of a masked client frame (a zero mask key,
// which leaves the payload as it is) of a payload of n bytes, any size.
func frameHeader(fin bool, op byte, n int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(h[2:], uint64(n))
	return append(h, 0, 0, 0, 0)
}

// frameEnd is how a rawFrames connection watched by watchFrames ended
// its wait: a close frame (code, reason) or the node's synced.
type frameEnd struct {
	close  int // -1: none
	reason string
	synced bool
	err    error
}

// watchFrames reads c's frames on a goroutine of its own until a close
// frame or synced, and tells which, once.
func watchFrames(c *rawFrames) <-chan frameEnd {
	out := make(chan frameEnd, 1)
	go func() {
		for {
			op, p, err := c.next()
			switch {
			case err != nil:
				out <- frameEnd{close: -1, err: err}
				return
			case op == 0x8:
				e := frameEnd{close: 0}
				if len(p) >= 2 {
					e.close, e.reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
				}
				out <- e
				return
			case op == 0x1 && strings.Contains(string(p), `"type":"synced"`):
				out <- frameEnd{close: -1, synced: true}
				return
			}
		}
	}()
	return out
}

// A hello may be 8 MiB (a returning client's version vector), and any
// visitor of a public board may open 64 WebSockets per address: each
// sending a large hello slowly held what it had sent, 512 MiB per
// address and nothing bounding the node. Now a hello past the message
// size (1 MiB) takes its buffer from the node's hello budget (64 MiB)
// before it is made: here 20 guests each send the first 6 MiB of a hello
// and hold it there, one after the other. Those the budget takes are
// read and wait, the others are closed with 4001 (reconnect later), the
// node's hello bytes never pass the budget nor does its live heap grow
// by more, an ordinary hello still joins meanwhile, and the held hellos
// join once finished, giving their share back.
func TestLargeHellosBounded(t *testing.T) {
	const budget = 64 << 20
	tn := startNode(t, func(c *node.Config) {
		c.Limits.HelloBudget = budget
		c.Limits.HelloTimeout = 5 * time.Minute // the hellos are held mid-message on purpose
	})
	b := tn.createBoard(`{"name":"public"}`)
	path := "/v1/boards/" + b.Board.ID + "/ws"

	kick := make(chan struct{}, 1) // something the test waits on changed
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	var held, peak, refusals atomic.Int64
	defer gateway.SetHelloHook(func(h int64, refused bool) {
		held.Store(h)
		for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
		}
		if refused {
			refusals.Add(1)
		}
		signal()
	})()
	var wireMu sync.Mutex
	wire := map[string]int{} // bytes the node read from each client's socket
	defer gateway.SetSocketReadHook(func(remote string, n int) {
		wireMu.Lock()
		wire[remote] += n
		wireMu.Unlock()
		signal()
	})()
	wireOf := func(c *rawFrames) int {
		wireMu.Lock()
		defer wireMu.Unlock()
		return wire[c.conn.LocalAddr().String()]
	}
	// wait waits until cond holds, woken by the hooks and the watchers.
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.NewTimer(30 * time.Second)
		defer deadline.Stop()
		for !cond() {
			select {
			case <-kick:
			case <-deadline.C:
				wireMu.Lock()
				t.Logf("bytes the node read per client: %v; hello bytes held %d", wire, held.Load())
				wireMu.Unlock()
				t.Fatalf("%s: not after 30 s", what)
			}
		}
	}

	// 6 MiB lies between two sizes of the node's buffer (5.06 and 7.59
	// MiB, readHelloMessage), so a hello held there grows no further
	// until more comes.
	const first = 6 << 20
	body := func(i int) []byte {
		head := fmt.Sprintf(`{"type":"hello","replica":"%016x","version":{}`, 0x7700+i)
		return []byte(head + strings.Repeat(" ", first-len(head)))
	}
	type held1 struct {
		c   *rawFrames
		end <-chan frameEnd
	}
	const conns = 20
	var admitted []held1
	refused := 0
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range conns {
		c := rawFramesDial(t, tn.base, path)
		end := watchFrames(c)
		payload := body(i)
		frame := frameHeader(false, 0x1, len(payload))
		before := refusals.Load()
		go func() { // the node may stop reading: the test does not wait on the write
			if _, err := c.conn.Write(frame); err == nil {
				c.conn.Write(payload)
			}
		}()
		var e frameEnd
		got := false
		wait(fmt.Sprintf("hello %d neither read nor refused", i), func() bool {
			if refusals.Load() > before {
				return true // refused before it was read: its close is on the way
			}
			select {
			case e = <-end:
				got = true
				return true
			default:
			}
			return wireOf(c) >= len(frame)+len(payload)
		})
		if refusals.Load() == before && !got {
			admitted = append(admitted, held1{c, end})
			continue
		}
		if !got {
			e = <-end
		}
		if e.close != int(protocol.CloseRetry) {
			t.Fatalf("hello %d: ended with %+v, want close %d", i, e, protocol.CloseRetry)
		}
		if !strings.Contains(e.reason, "reconnect later") {
			t.Errorf("hello %d: close reason %q", i, e.reason)
		}
		refused++
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	grown := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("%d hellos of %d MiB held, %d refused; hello bytes held %.1f MiB (peak %.1f MiB), live heap grown by %.1f MiB",
		len(admitted), first>>20, refused, float64(held.Load())/(1<<20), float64(peak.Load())/(1<<20), float64(grown)/(1<<20))
	if refused == 0 {
		t.Errorf("no hello refused: %d hellos of %d MiB held at once, past a budget of %d MiB", len(admitted), first>>20, budget>>20)
	}
	if len(admitted) == 0 || int64(len(admitted))*first > budget {
		t.Errorf("%d hellos of %d MiB held: want at least one, and within the budget of %d MiB", len(admitted), first>>20, budget>>20)
	}
	if peak.Load() > budget {
		t.Errorf("hello bytes held peaked at %d, past the budget %d", peak.Load(), budget)
	}
	if grown > budget+16<<20 {
		t.Errorf("the live heap grew by %.1f MiB with hellos held mid-message: past the budget of %d MiB", float64(grown)/(1<<20), budget>>20)
	}

	// An ordinary hello takes nothing from the budget: it joins while
	// the budget is spent.
	small := rawJoin(t, tn.wsURL(b.Board.ID, ""), 0x7800, nil)
	small.ping()

	// The held hellos end, join, and give their share back.
	for _, h := range admitted {
		if _, err := h.c.conn.Write(append(frameHeader(true, 0x0, 1), '}')); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range admitted {
		if e := <-h.end; !e.synced {
			t.Fatalf("held hello %d, once finished: %+v, want synced", i, e)
		}
	}
	wait("the budget given back", func() bool { return held.Load() == 0 })
}

// A hello of exactly the hello's bound (8 MiB) is read whole (the node's
// buffer ends one byte past it), one byte more is closed with 1009.
func TestHelloAtItsBound(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"bound"}`)
	path := "/v1/boards/" + b.Board.ID + "/ws"
	for _, extra := range []int{0, 1} {
		head := fmt.Sprintf(`{"type":"hello","replica":"%016x","version":{}`, 0x7900+extra)
		hello := []byte(head + strings.Repeat(" ", 8<<20-len(head)-1+extra) + "}")
		c := rawFramesDial(t, tn.base, path)
		end := watchFrames(c)
		if _, err := c.conn.Write(append(frameHeader(true, 0x1, len(hello)), hello...)); err != nil {
			t.Fatal(err)
		}
		e := <-end
		switch {
		case extra == 0 && !e.synced:
			t.Errorf("a hello of 8 MiB: %+v, want synced", e)
		case extra == 1 && e.close != int(protocol.CloseTooBig):
			t.Errorf("a hello of 8 MiB and a byte: %+v, want close %d", e, protocol.CloseTooBig)
		}
	}
}
