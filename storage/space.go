package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SpaceGuard says when the disk under a node's data has too little free
// space left for what clients ask it to store: new changes, pictures,
// boards and imports. The node keeps a reserve free: below it, those are
// refused (resend later), while everything already stored still reads
// and the changes of other nodes (each admitted by a guard of its own)
// are still stored, in the reserve.
//
// Without it a client could fill the disk: every board's history has a
// bound (--board-log-mib), but anyone may create boards, and a full disk
// fails the op log's writes, which unloads every board written to, and
// the metadata store's, which stops the cluster's access changes.
//
// The free space is read (statfs) at most once per interval, so the
// reserve must hold what clients can write in that time; the default
// (1 GiB, read every second) holds a second of any disk's writes.
// Rejected: reading it at every write (a system call per change in the
// board's room, for a figure that moves slowly); counting the node's own
// writes between reads (its tables are compacted and its logs recycled
// behind its back: the count drifts from the disk, which is the one
// figure that matters); a quota of bytes per client address (a
// fairness bound, not one that keeps the disk from filling: addresses
// are many).
type SpaceGuard struct {
	dir      string
	fs       vfs.FS
	interval time.Duration
	now      func() time.Time

	reserve atomic.Int64
	low     atomic.Bool
	next    atomic.Int64 // unix nanos of the next read of the free space
	avail   atomic.Int64 // bytes free at the last read (-1: unknown)

	mu  sync.Mutex // one read at a time
	err error      // the last read's error

	// OnChange, if set, is called (under the guard's lock) when the free
	// space goes below the reserve or back above it: for the node's log.
	OnChange func(low bool, status string)
}

// DefaultDiskReserve is the free space a node keeps on its data's disk
// when its configuration says nothing: 1 GiB.
const DefaultDiskReserve = 1 << 30

// NewSpaceGuard watches the filesystem of dir, keeping reserve bytes
// free (0 or less: no reserve; the guard never says low). The free space
// is read at most once per interval (one second if 0).
func NewSpaceGuard(dir string, reserve int64, interval time.Duration) *SpaceGuard {
	if interval <= 0 {
		interval = time.Second
	}
	g := &SpaceGuard{dir: dir, fs: vfs.Default, interval: interval, now: time.Now}
	g.reserve.Store(reserve)
	g.avail.Store(-1)
	return g
}

// Low reports whether the free space is below the reserve, reading it
// anew when the last read is older than the interval. A nil guard, or
// one whose filesystem cannot say, is never low.
func (g *SpaceGuard) Low() bool {
	if g == nil || g.reserve.Load() <= 0 {
		return false
	}
	if g.now().UnixNano() >= g.next.Load() {
		g.Check()
	}
	return g.low.Load()
}

// Check reads the free space now and returns whether it is below the
// reserve.
func (g *SpaceGuard) Check() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next.Store(g.now().Add(g.interval).UnixNano())
	u, err := g.fs.GetDiskUsage(g.dir)
	g.err = err
	if err != nil {
		g.avail.Store(-1)
		g.low.Store(false)
		return false
	}
	avail := int64(min(u.AvailBytes, 1<<62))
	g.avail.Store(avail)
	r := g.reserve.Load()
	low := r > 0 && avail < r
	if g.low.Swap(low) != low && g.OnChange != nil {
		g.OnChange(low, g.statusLocked())
	}
	return low
}

// SetReserve changes the reserve (0 or less: none) and reads the free
// space again.
func (g *SpaceGuard) SetReserve(reserve int64) {
	g.reserve.Store(reserve)
	g.Check()
}

// Status describes the guard's last read, for logs and errors: the free
// space and the reserve, in MiB.
func (g *SpaceGuard) Status() string {
	if g == nil {
		return "no reserve"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.statusLocked()
}

func (g *SpaceGuard) statusLocked() string {
	if g.err != nil {
		return fmt.Sprintf("free space unknown (%v)", g.err)
	}
	return fmt.Sprintf("%d MiB free, %d MiB kept in reserve", g.avail.Load()>>20, g.reserve.Load()>>20)
}

// Err is the last read's error (nil when the free space was read): a
// filesystem that does not say its free space keeps no reserve.
func (g *SpaceGuard) Err() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
