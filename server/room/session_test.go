package room_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// writerProbe is a session writer that records what it gets, how many
// runs started, how many run at once, and what the kick said.
type writerProbe struct {
	s       *room.Session
	gate    chan struct{} // if non-nil, each batch waits for a token
	mu      sync.Mutex
	got     []string
	batches int
	kicks   int
	last    []string // messages that came with the kick
	runs    atomic.Int32
	live    atomic.Int32
	overlap atomic.Bool
}

func (p *writerProbe) run() {
	p.runs.Add(1)
	if p.live.Add(1) > 1 {
		p.overlap.Store(true)
	}
	defer p.live.Add(-1)
	for {
		msgs, more, kicked := p.s.Next(nil)
		if !more {
			return
		}
		if p.gate != nil && !kicked {
			<-p.gate
		}
		p.mu.Lock()
		var texts []string
		for _, m := range msgs {
			texts = append(texts, string(m.Data))
		}
		if kicked {
			p.kicks++
			p.last = texts
		} else {
			p.batches++
			p.got = append(p.got, texts...)
		}
		p.mu.Unlock()
		if kicked {
			return
		}
	}
}

func newProbe(queue int) *writerProbe {
	p := &writerProbe{}
	p.s = room.NewSession("s", 1, protocol.User{ID: "u"}, protocol.FormatBinary, queue)
	return p
}

func msg(s string) room.Outgoing { return room.Outgoing{Binary: true, Data: []byte(s)} }

func TestSessionWriterRunsOnlyWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(100)
		p.s.SetWriter(p.run)
		synctest.Wait()
		if n := p.runs.Load(); n != 0 {
			t.Fatalf("%d writer runs with nothing queued", n)
		}
		p.s.Send(msg("a"))
		synctest.Wait()
		if n, live := p.runs.Load(), p.live.Load(); n != 1 || live != 0 {
			t.Fatalf("after one message: %d runs, %d live; want 1 run, ended", n, live)
		}
		p.s.Send(msg("b"))
		p.s.Send(msg("c"))
		synctest.Wait()
		if n := p.runs.Load(); n < 2 || n > 3 {
			t.Fatalf("%d runs after two more messages", n)
		}
		if fmt.Sprint(p.got) != "[a b c]" {
			t.Fatalf("got %v", p.got)
		}
		if p.live.Load() != 0 {
			t.Fatal("a writer still runs with the queue empty")
		}
		if q := p.s.Queued(); q != 0 {
			t.Fatalf("%d still queued", q)
		}
	})
}

// While a writer is busy, what is queued goes to that same run, in order,
// and never to a second writer at the same time.
func TestSessionWriterOneAtATimeInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(10000)
		p.gate = make(chan struct{})
		p.s.SetWriter(p.run)
		const senders, each = 4, 200
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					if !p.s.Send(msg(fmt.Sprintf("%d:%d", g, i))) {
						t.Errorf("send %d:%d refused", g, i)
					}
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case p.gate <- struct{}{}:
				continue
			case <-done:
			}
			break
		}
		// Let the writer finish what is left.
		for {
			synctest.Wait()
			if p.live.Load() == 0 {
				break
			}
			p.gate <- struct{}{}
		}
		if p.overlap.Load() {
			t.Fatal("two writers ran at once")
		}
		if len(p.got) != senders*each {
			t.Fatalf("got %d messages, want %d", len(p.got), senders*each)
		}
		next := make([]int, senders)
		for _, m := range p.got {
			var g, i int
			fmt.Sscanf(m, "%d:%d", &g, &i)
			if i != next[g] {
				t.Fatalf("sender %d: got %d, want %d (out of order)", g, i, next[g])
			}
			next[g]++
		}
		if p.batches >= senders*each {
			t.Fatalf("%d batches for %d messages: a busy writer should take several at once", p.batches, senders*each)
		}
	})
}

func TestSessionKickStartsWriterOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(10)
		p.s.SetWriter(p.run)
		synctest.Wait()
		p.s.Kick(protocol.CloseRetry, "bye")
		synctest.Wait()
		if p.kicks != 1 || len(p.last) != 0 || p.runs.Load() != 1 {
			t.Fatalf("kicks %d with %v in %d runs; want one kick, nothing queued, one run", p.kicks, p.last, p.runs.Load())
		}
		// Nothing starts a writer after the kick was handled.
		p.s.Send(msg("late"))
		p.s.Kick(protocol.CloseNormal, "again")
		synctest.Wait()
		if p.runs.Load() != 1 || p.kicks != 1 {
			t.Fatalf("%d runs, %d kicks after the end", p.runs.Load(), p.kicks)
		}
		if c := p.s.Closing(); c != (protocol.Close{Code: protocol.CloseRetry, Reason: "bye"}) {
			t.Fatalf("close %d %q", c.Code, c.Reason)
		}
	})
}

// Finish's last frame reaches the writer, with or before the kick.
func TestSessionFinishDeliversLastFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(1)
		p.s.SetWriter(p.run)
		p.s.Send(msg("first"))
		synctest.Wait()
		p.s.Finish(protocol.CloseRetry, "going", map[string]string{"type": "bye"})
		synctest.Wait()
		all := append(append([]string(nil), p.got...), p.last...)
		if p.kicks != 1 || len(all) != 2 || all[0] != "first" || all[1] != `{"type":"bye"}` {
			t.Fatalf("got %v then %v with %d kicks", p.got, p.last, p.kicks)
		}
	})
}

// A kick or messages that come before the writer is set start it when it
// is set.
func TestSessionSetWriterAfterKick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(10)
		p.s.Send(msg("early"))
		p.s.Kick(protocol.CloseResync, "slow")
		p.s.SetWriter(p.run)
		synctest.Wait()
		if p.kicks != 1 || fmt.Sprint(p.last) != "[early]" {
			t.Fatalf("kicks %d, last %v", p.kicks, p.last)
		}
	})
}

// A full queue kicks with CloseResync, and the writer learns it.
func TestSessionOverflowKicksWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(3)
		p.gate = make(chan struct{})
		p.s.SetWriter(p.run)
		p.s.Send(msg("0")) // the writer takes it and waits at the gate
		synctest.Wait()
		for i := 1; i <= 3; i++ {
			if !p.s.Send(msg(fmt.Sprint(i))) {
				t.Fatalf("send %d refused", i)
			}
		}
		if p.s.Send(msg("4")) {
			t.Fatal("a fourth queued message was accepted")
		}
		p.gate <- struct{}{}
		synctest.Wait()
		if code := p.s.Closing().Code; code != protocol.CloseResync {
			t.Fatalf("close code %d", code)
		}
		if p.kicks != 1 || fmt.Sprint(p.got) != "[0]" || fmt.Sprint(p.last) != "[1 2 3]" {
			t.Fatalf("got %v, then %v with %d kicks", p.got, p.last, p.kicks)
		}
	})
}

// NextWait keeps the writer for a message that comes within the linger,
// and lets it go when none does.
func TestNextWaitLingers(t *testing.T) {
	s := room.NewSession("s", 1, protocol.User{ID: "u"}, "", 8)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	got := make(chan []room.Outgoing, 1)
	go func() {
		msgs, more, kicked := s.NextWait(nil, timer, time.Hour)
		if !more || kicked {
			msgs = nil
		}
		got <- msgs
	}()
	s.Send(room.Outgoing{Data: []byte("late")})
	if msgs := <-got; len(msgs) != 1 || string(msgs[0].Data) != "late" {
		t.Fatalf("the lingering writer got %v", msgs)
	}
	// Nothing comes: a short linger ends with "stop".
	if msgs, more, kicked := s.NextWait(nil, timer, time.Millisecond); more || kicked || len(msgs) != 0 {
		t.Fatalf("an idle NextWait: %v %v %v", msgs, more, kicked)
	}
	// A kick during the linger is reported at once.
	go s.Kick(protocol.CloseNormal, "bye")
	if _, more, kicked := s.NextWait(nil, timer, time.Hour); !more || !kicked {
		t.Fatalf("a kick during the linger: more=%v kicked=%v", more, kicked)
	}
}

// The queue is bounded in bytes too: 512 deliveries of a megabyte each
// were within its count. A message that would take it past the bound
// kicks the session ("resync"); one bigger than the bound goes alone when
// the queue is empty; what the writer took no longer counts.
func TestSessionQueueBytesBounded(t *testing.T) {
	s := room.NewSession("q", 1, protocol.User{ID: "u"}, protocol.FormatBinary, 512)
	s.SetQueueBytes(100)
	big := room.Outgoing{Data: make([]byte, 150)}
	if !s.Send(big) {
		t.Fatal("a message bigger than the bound refused on an empty queue")
	}
	if got := s.Drain(nil); len(got) != 1 {
		t.Fatalf("drained %d", len(got))
	}
	// A shared message (a snapshot, one copy for every join) does not count.
	if !s.Send(room.Outgoing{Data: make([]byte, 1000), Shared: true}) {
		t.Fatal("a shared message refused")
	}
	part := room.Outgoing{Data: make([]byte, 40)}
	for i := 0; i < 2; i++ {
		if !s.Send(part) {
			t.Fatalf("message %d (%d bytes queued) refused", i, 40*i)
		}
	}
	if s.Send(part) {
		t.Fatal("120 bytes queued against a bound of 100")
	}
	if code := s.Closing().Code; code != protocol.CloseResync {
		t.Fatalf("close code %d, want resync", code)
	}
}
