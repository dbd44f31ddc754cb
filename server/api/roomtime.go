package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// Whole-board reads in a board's room goroutine.
//
// Some REST calls read the whole live document in the room's goroutine
// (room.Query): GET /state marshals it, every write-API call copies it
// (a snapshot, to build its change on), the thumbnail, the summary, the
// voting result and a restore walk every element. On a board of 50,000
// elements one such read holds the room for a few hundred milliseconds,
// during which nobody's edit is applied nor sent. The per-caller rates
// did not bound them per board (GET /state had no rate at all, and on a
// public board anyone may call it, with a new guest id each time), so a
// few callers in a loop could keep a big board's room busy all the time.
//
// They share a budget per board, in element units (the board's elements
// visited, plus one unit for every 512 bytes the read produced): refilled
// at boardReadRate units a second up to boardReadBurst. A read that finds
// the budget spent is refused with 429 rate_limited and Retry-After. On a
// board of 50,000 elements that is about one whole-board read a second,
// after a burst of five; a board of 100 elements allows 500 a second. The
// reads of one board also run one at a time (a lane per board, waited up
// to 5 s, then 503): otherwise a thousand callers arriving at once would
// all find the budget unspent.
//
// Rejected: measuring the room's time (a busy machine would make the same
// read cost more, and tests could not tell); a fixed rate of reads per
// board whatever its size (it either refuses small boards' readers or lets
// big boards' rooms stall); serving those reads from a copy of the
// document kept outside the room (a second document per board in memory).
const (
	boardReadRate  = 50000  // units a second
	boardReadBurst = 250000 // units
	boardReadWait  = 5 * time.Second
	// boardReadsKept bounds the budgets kept; past it, the full ones
	// (nothing owed) are dropped.
	boardReadsKept = 4096
)

// errBoardBusy refuses a whole-board read of a board whose budget is spent.
type errBoardBusy struct{ retry time.Duration }

func (e errBoardBusy) Error() string {
	return "this board is read in full too often; retry in a moment"
}

// errLaneBusy: the board's reads did not let this one in within
// boardReadWait.
var errLaneBusy = errors.New("this board is busy; retry in a moment")

type boardReads struct {
	lane chan struct{}
	owed float64 // units not yet refilled, as of at
	at   time.Time
}

type readBudgets struct {
	mu sync.Mutex
	m  map[storage.BoardID]*boardReads
}

// get is the board's budget, made when needed.
func (b *readBudgets) get(id storage.BoardID, now time.Time) *boardReads {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[storage.BoardID]*boardReads{}
	}
	br := b.m[id]
	if br == nil {
		if len(b.m) >= boardReadsKept {
			for k, v := range b.m {
				select {
				case v.lane <- struct{}{}: // owed and at are read under the lane
					if v.owed-now.Sub(v.at).Seconds()*boardReadRate <= 0 {
						delete(b.m, k)
					}
					<-v.lane
				default: // being read: kept
				}
			}
			// Still full: any one goes (its debt is forgiven; a reader
			// holding its lane keeps its own copy).
			for k := range b.m {
				if len(b.m) < boardReadsKept {
					break
				}
				delete(b.m, k)
			}
		}
		br = &boardReads{lane: make(chan struct{}, 1), at: now}
		b.m[id] = br
	}
	return br
}

// boardQuery runs fn on the board's live document in its room goroutine
// as a whole-board read, within the board's budget (see above). fn
// returns the bytes it produced, or read besides visiting the elements
// (the tally's texts and votes; 0 if none). The error is errBoardBusy,
// errLaneBusy, or the room's.
func (srv *Server) boardQuery(ctx context.Context, id storage.BoardID, rm *room.Room, fn func(d *crdt.Doc) (produced int)) error {
	br := srv.reads.get(id, srv.cfg.Now())
	if err := br.enter(ctx); err != nil {
		return err
	}
	defer func() { <-br.lane }()
	// The lane is held: owed and at are this caller's alone.
	if err := br.refill(srv.cfg.Now()); err != nil {
		return err
	}
	var units int
	err := rm.Query(ctx, func(d *crdt.Doc) { units = d.Len() + fn(d)/512 })
	br.owed += float64(units)
	return err
}

// SpendBoardRead runs read, work a board's room does on a join
// (room.Config.WholeRead: a far-view summary, a fresh snapshot), as a
// whole-board read of the board, charging the units it returns, so that
// reconnecting cannot do what the REST reads may not. It is called on the
// room's goroutine and never waits: false, with read not run, when the
// lane is taken (a REST read of the board holds it while it waits for
// the room: waiting here would never end) or half the burst is owed
// (joinReadShare): a join can do without that work (the far view is a
// preview; the snapshot is then stored and read), while a REST write
// cannot, so visits alone never have the board's REST calls refused.
func (srv *Server) SpendBoardRead(id storage.BoardID, read func() (units int)) bool {
	br := srv.reads.get(id, srv.cfg.Now())
	select {
	case br.lane <- struct{}{}:
	default:
		return false
	}
	defer func() { <-br.lane }()
	if br.refill(srv.cfg.Now()) != nil || br.owed > joinReadShare*boardReadBurst {
		return false
	}
	br.owed += float64(read())
	return true
}

// joinReadShare is the share of boardReadBurst that joins may owe
// (SpendBoardRead).
const joinReadShare = 0.5

// boardReadsLeft refuses (errBoardBusy, errLaneBusy) when the board's
// whole-board reads budget is spent: for a call that does costly work of
// its own (a scan of the log) before its boardQuery.
func (srv *Server) boardReadsLeft(ctx context.Context, id storage.BoardID) error {
	br := srv.reads.get(id, srv.cfg.Now())
	if err := br.enter(ctx); err != nil {
		return err
	}
	defer func() { <-br.lane }()
	return br.refill(srv.cfg.Now())
}

// enter takes the board's lane (one whole-board read at a time), waiting
// up to boardReadWait; the caller gives it back with <-br.lane.
func (br *boardReads) enter(ctx context.Context) error {
	t := time.NewTimer(boardReadWait)
	defer t.Stop()
	select {
	case br.lane <- struct{}{}:
		return nil
	case <-t.C:
		return errLaneBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refill brings the budget to now and refuses when it is spent; the lane
// is held.
func (br *boardReads) refill(now time.Time) error {
	if d := now.Sub(br.at); d > 0 {
		br.owed = max(br.owed-d.Seconds()*boardReadRate, 0)
		br.at = now
	}
	if br.owed > boardReadBurst {
		return errBoardBusy{retry: time.Duration((br.owed - boardReadBurst) / boardReadRate * float64(time.Second))}
	}
	return nil
}

// writeQueryError answers a failed boardQuery: 429 for a spent budget,
// 503 otherwise.
func writeQueryError(w http.ResponseWriter, err error) {
	status, code, msg := queryErrorStatus(err)
	if status == 429 {
		var busy errBoardBusy
		errors.As(err, &busy)
		w.Header().Set("Retry-After", strconv.Itoa(max(int(busy.retry.Seconds()+0.999), 1)))
	}
	writeError(w, status, code, msg)
}

// queryErrorStatus is the status, code and message of a failed boardQuery.
func queryErrorStatus(err error) (int, protocol.Code, string) {
	var busy errBoardBusy
	switch {
	case errors.As(err, &busy):
		return 429, protocol.CodeRateLimited, fmt.Sprintf("%s (Retry-After)", busy.Error())
	case errors.Is(err, errLaneBusy):
		return 503, protocol.CodeUnavailable, errLaneBusy.Error()
	}
	return 503, protocol.CodeInternal, "board unavailable, retry"
}
