package room_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// directProbe is a session's direct write: it answers what res says and
// records what it wrote, and whether a writer ran at the same time.
type directProbe struct {
	p       *writerProbe
	res     room.DirectResult
	wrote   []string
	calls   int
	overlap bool
}

func (d *directProbe) write(m room.Outgoing) room.DirectResult {
	d.calls++
	if d.p.live.Load() > 0 {
		d.overlap = true
	}
	if d.res != room.DirectRefused {
		d.wrote = append(d.wrote, string(m.Data))
	}
	return d.res
}

// SendDirect writes an idle session's message itself (no writer run);
// what the socket refuses goes to the writer, in order; a partial write
// starts the writer with nothing queued (it sends the rest); while a
// writer runs or something is queued, the message is queued and the
// direct write is not tried.
func TestSessionSendDirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProbe(100)
		d := &directProbe{p: p, res: room.DirectWritten}
		p.s.SetWriter(p.run)
		p.s.SetDirect(d.write)

		p.s.SendDirect(msg("a"))
		p.s.SendDirect(msg("b"))
		synctest.Wait()
		if fmt.Sprint(d.wrote) != "[a b]" || p.runs.Load() != 0 || p.s.Queued() != 0 {
			t.Fatalf("idle: direct wrote %v, %d writer runs, %d queued; want [a b], 0, 0", d.wrote, p.runs.Load(), p.s.Queued())
		}

		d.res = room.DirectRefused
		p.s.SendDirect(msg("c"))
		synctest.Wait()
		if fmt.Sprint(p.got) != "[c]" || p.runs.Load() != 1 {
			t.Fatalf("refused: the writer got %v in %d runs; want [c] in 1", p.got, p.runs.Load())
		}

		d.res = room.DirectPartial
		p.s.SendDirect(msg("d"))
		synctest.Wait()
		if p.runs.Load() != 2 || p.batches != 2 || fmt.Sprint(p.got) != "[c]" {
			t.Fatalf("partial: %d writer runs, %d batches, got %v; want a second run with an empty batch", p.runs.Load(), p.batches, p.got)
		}

		// A busy writer: messages queue behind it, none is written
		// directly past it.
		p.gate = make(chan struct{})
		p.s.Send(msg("e"))
		synctest.Wait() // the writer took e and waits at the gate
		calls := d.calls
		p.s.SendDirect(msg("f"))
		p.s.SendDirect(msg("g"))
		if d.calls != calls {
			t.Fatalf("direct write tried while a writer ran")
		}
		p.gate <- struct{}{}
		p.gate <- struct{}{}
		synctest.Wait()
		if fmt.Sprint(p.got) != "[c e f g]" {
			t.Fatalf("behind a writer: got %v, want [c e f g]", p.got)
		}
		if d.overlap || p.overlap.Load() {
			t.Fatal("a direct write and a writer ran at the same time")
		}
	})
}

// A session written to directly does not keep a lingering writer
// (NextWait returns at once when the queue is empty), so the next message
// can be written directly again.
func TestSendDirectWriterDoesNotLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := room.NewSession("s", 1, protocol.User{ID: "u"}, "", 10)
		var direct, written int
		s.SetDirect(func(m room.Outgoing) room.DirectResult {
			direct++
			if direct == 1 {
				return room.DirectRefused // the first goes to the writer
			}
			written++
			return room.DirectWritten
		})
		exited := make(chan struct{}, 4)
		s.SetWriter(func() {
			defer func() { exited <- struct{}{} }()
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			for {
				_, more, kicked := s.NextWait(nil, timer, time.Hour)
				if !more || kicked {
					return
				}
			}
		})
		start := time.Now()
		s.SendDirect(msg("a"))
		<-exited
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("the writer lingered %v (synctest's clock) after a direct session's queue emptied", waited)
		}
		s.SendDirect(msg("b"))
		synctest.Wait()
		if written != 1 {
			t.Fatalf("after the writer returned, the next message went direct %d times; want 1", written)
		}
	})
}
