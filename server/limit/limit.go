// Package limit counts what one key (an address, a person, a board) may
// do in a window of time: sign-in links per hour, wrong passwords per
// board, upload bytes per day. Every rate limit and budget of the node is
// one of its keys.
package limit

import (
	"strings"
	"sync"
	"time"
)

// Limiter counts events per key in fixed windows (by the node's clock).
//
// Memory, without ever scanning the map: each window is queued, in a
// queue per period, in the order it started, so a queue's head is its
// oldest window; every call drops up to pruneStep expired windows from
// the head of each queue of its key's table, so windows leave as fast as
// they come. maxKeys bounds each table: a new key past it drops the
// oldest window of its table (that key starts afresh). Rejected: refusing
// new keys when full (whoever fills the map would lock everyone out of
// signing in), and a periodic sweep (a goroutine per node, and the map
// grows between sweeps).
//
// Tables: a key's purpose is the part before its first colon
// ("signin-ip", "boards-ip", "history", "write"; a key without one is of
// the purpose ""), and each purpose has a table of its own. With one
// table for all, a flood of fresh keys of one purpose (a new window per
// anonymous call, or per address of a large IPv6 prefix) filled it and
// dropped the oldest windows of every purpose, which were the long ones:
// sign-in, board creation, upload and invite quotas started afresh. Now
// such a flood drops only windows of its own purpose, so a key's window
// can be dropped only by someone making that many windows of the same
// kind within its period. Purposes are the code's constants, about
// twenty: at most maxKeys windows each. Rejected: refusing new keys of
// the quota purposes when full (the lock-out above, for those); dropping
// the window with the fewest events (a flood's windows have one each,
// but finding it is a scan or a heap per call).
type Limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	tables  map[string]*table // by purpose
	maxKeys int               // per table
	shared  Counter           // the cluster's count of AllowShared (shared.go)
}

// table holds the windows of one purpose.
type table struct {
	m      map[string]*window
	queues map[time.Duration]*windowQueue
}

type window struct {
	start time.Time
	n     int
	per   time.Duration
}

// windowQueue holds windows in the order they started.
type windowQueue struct {
	items []queuedWindow
	head  int
}

type queuedWindow struct {
	key string
	w   *window
}

const (
	pruneStep      = 4
	limiterMaxKeys = 100_000
)

// New makes a limiter on the clock now.
func New(now func() time.Time) *Limiter {
	return &Limiter{now: now, tables: map[string]*table{}, maxKeys: limiterMaxKeys}
}

// purpose is the part of key before its first colon ("" without one).
func purpose(key string) string {
	p, _, ok := strings.Cut(key, ":")
	if !ok {
		return ""
	}
	return p
}

// lookup is key's window, if any.
func (l *Limiter) lookup(key string) *window {
	if t := l.tables[purpose(key)]; t != nil {
		return t.m[key]
	}
	return nil
}

// current returns key's window for period per, starting a new one when
// there is none or it is over; it prunes key's table first.
func (l *Limiter) current(key string, per time.Duration) *window {
	now := l.now()
	p := purpose(key)
	t := l.tables[p]
	if t == nil {
		t = &table{m: map[string]*window{}, queues: map[time.Duration]*windowQueue{}}
		l.tables[p] = t
	}
	t.prune(now)
	w := t.m[key]
	if w != nil && now.Sub(w.start) < per {
		return w
	}
	if w == nil && len(t.m) >= l.maxKeys {
		t.evictOldest()
	}
	w = &window{start: now, per: per}
	t.m[key] = w
	q := t.queues[per]
	if q == nil {
		q = &windowQueue{}
		t.queues[per] = q
	}
	q.items = append(q.items, queuedWindow{key, w})
	return w
}

// prune drops up to pruneStep windows from the head of each queue: those
// replaced or dropped already, and those over.
func (t *table) prune(now time.Time) {
	for per, q := range t.queues {
		for i := 0; i < pruneStep && q.head < len(q.items); i++ {
			it := q.items[q.head]
			if t.m[it.key] == it.w {
				if now.Sub(it.w.start) < per {
					break
				}
				delete(t.m, it.key)
			}
			q.pop()
		}
		if q.head == len(q.items) {
			delete(t.queues, per)
		}
	}
}

func (q *windowQueue) pop() {
	q.items[q.head] = queuedWindow{}
	q.head++
	if q.head > 64 && q.head*2 >= len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
}

// evictOldest drops the window of the table that started first.
func (t *table) evictOldest() {
	var oldest *windowQueue
	for _, q := range t.queues {
		for q.head < len(q.items) && t.m[q.items[q.head].key] != q.items[q.head].w {
			q.pop()
		}
		if q.head < len(q.items) && (oldest == nil || q.items[q.head].w.start.Before(oldest.items[oldest.head].w.start)) {
			oldest = q
		}
	}
	if oldest != nil {
		delete(t.m, oldest.items[oldest.head].key)
		oldest.pop()
	}
}

// Allow counts one event and says whether it is within max per period.
func (l *Limiter) Allow(key string, max int, per time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, per)
	w.n++
	return w.n <= max
}

// Refund gives back one event counted by Allow.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.lookup(key); w != nil && w.n > 0 {
		w.n--
	}
}

// AllowUpTo counts k events if the window stays within max with them, and
// says whether it did (bytes of a budget: a refused upload costs nothing).
func (l *Limiter) AllowUpTo(key string, k, max int, per time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, per)
	if w.n+k > max {
		return false
	}
	w.n += k
	return true
}

// RefundUpTo gives back k events counted by AllowUpTo in key's current
// window (a budget's bytes taken for something that was then refused).
func (l *Limiter) RefundUpTo(key string, k int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.lookup(key); w != nil {
		w.n = max(0, w.n-k)
	}
}

// Used says whether the key's window is spent, without counting.
func (l *Limiter) Used(key string, max int, per time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.lookup(key)
	return w != nil && l.now().Sub(w.start) < per && w.n >= max
}

// Retry is how long until key's window for period per ends: when an
// event Allow refused may be counted again (0: no window open).
func (l *Limiter) Retry(key string, per time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.lookup(key)
	if w == nil {
		return 0
	}
	return max(0, per-l.now().Sub(w.start))
}

// Size is how many windows the limiter holds (tests).
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, t := range l.tables {
		n += len(t.m)
	}
	return n
}
