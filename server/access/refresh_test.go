package access

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// slowBoards is the node's view of the settings, whose first read is held
// (after it read) until hold is closed: a refresh that read the settings
// just before a change and is slow to apply them.
type slowBoards struct {
	mu    sync.Mutex
	cur   meta.Board
	reads int
	hold  chan struct{}
	slow  *storage.BoardID // only this board's first read is held (nil: any board's)
}

func (b *slowBoards) Load(ctx context.Context, board storage.BoardID) (*meta.Board, error) {
	b.mu.Lock()
	m := b.cur
	first := false
	if b.slow == nil || *b.slow == board {
		b.reads++
		first = b.reads == 1
	}
	b.mu.Unlock()
	if first {
		<-b.hold
	}
	return &m, nil
}

func (b *slowBoards) set(m meta.Board) {
	b.mu.Lock()
	b.cur = m
	b.mu.Unlock()
}

// policyRooms keeps the last policy the room was given, and which boards were given one.
type policyRooms struct {
	mu    sync.Mutex
	last  *room.Policy
	given map[storage.BoardID]bool
}

func (r *policyRooms) SetPolicy(ctx context.Context, board storage.BoardID, p room.Policy) {
	r.mu.Lock()
	r.last = &p
	if r.given == nil {
		r.given = map[storage.BoardID]bool{}
	}
	r.given[board] = true
	r.mu.Unlock()
}
func (r *policyRooms) Reauthorize(context.Context, storage.BoardID, func(*room.Session) string) {}
func (r *policyRooms) ReauthorizeSession(context.Context, storage.BoardID, *room.Session, func(*room.Session) string) {
}
func (r *policyRooms) Boards() []storage.BoardID { return nil }

// Two refreshes of one board: the first read the settings before the
// owner cleared the deadline and applies them late. The room must end with
// the settings as they are, not as the slow refresh read them (seen in a
// test under load: an edit after the owner reopened the board was refused
// "the board closed at its deadline").
func TestRefreshesApplyInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var board storage.BoardID
		board[15] = 7
		deadline := time.Now().Add(time.Hour).UnixMilli()
		boards := &slowBoards{cur: meta.Board{ID: "b", Access: meta.AccessPublic, Deadline: deadline}, hold: make(chan struct{})}
		rooms := &policyRooms{}
		c := New(Config{Now: time.Now, Boards: boards, Rooms: rooms})

		go c.RefreshRoles(board) // reads the deadline, then waits
		synctest.Wait()
		boards.set(meta.Board{ID: "b", Access: meta.AccessPublic}) // the owner clears it
		go c.RefreshRoles(board)                                   // the change's own refresh
		synctest.Wait()
		close(boards.hold) // the slow one goes on
		synctest.Wait()

		if rooms.last == nil || rooms.last.Deadline != 0 {
			t.Fatalf("the room was left with deadline %v, from settings read before the change", rooms.last)
		}
	})
}

// One board's turn holds no other board up: a refresh held on one board
// (a room busy with a flood of joins, a slow read) leaves another board's
// settings to apply at once, whatever their ids share; and the turns kept
// go once nobody holds them.
func TestRefreshOfOneBoardHoldsNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var busy, other storage.BoardID
		busy[0], busy[15] = 1, 7
		other[0], other[15] = 2, 7
		boards := &slowBoards{cur: meta.Board{ID: "b", Access: meta.AccessPublic}, hold: make(chan struct{}), slow: &busy}
		rooms := &policyRooms{}
		c := New(Config{Now: time.Now, Boards: boards, Rooms: rooms})

		go c.RefreshRoles(busy) // held
		synctest.Wait()
		go c.RefreshRoles(other)
		synctest.Wait()
		rooms.mu.Lock()
		applied := rooms.given[other]
		rooms.mu.Unlock()
		if !applied {
			t.Fatal("another board's settings waited for a held refresh of a different board")
		}
		close(boards.hold)
		synctest.Wait()
		c.applying.Lock()
		left := len(c.applying.boards)
		c.applying.Unlock()
		if left != 0 {
			t.Fatalf("%d boards' turns kept after every refresh ended", left)
		}
	})
}
