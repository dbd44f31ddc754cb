package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// diskFS is a filesystem whose free space the test sets, counting the
// reads of it.
type diskFS struct {
	vfs.FS
	avail uint64
	err   error
	reads int
}

func (f *diskFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	f.reads++
	return vfs.DiskUsage{AvailBytes: f.avail, TotalBytes: 1 << 40}, f.err
}

// TestSpaceGuard: the guard is low while the free space is below the
// reserve, reads it at most once per interval (a room asks at every
// change), sees it again after the interval, and keeps no reserve on a
// filesystem that cannot say its free space.
func TestSpaceGuard(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fs := &diskFS{FS: vfs.Default, avail: 10 << 30}
	g := NewSpaceGuard("/data", 1<<30, time.Second)
	g.fs, g.now = fs, func() time.Time { return now }
	var changes []bool
	g.OnChange = func(low bool, _ string) { changes = append(changes, low) }
	if g.Low() {
		t.Fatal("10 GiB free, 1 GiB reserve: low")
	}
	fs.avail = 512 << 20 // filled up
	for range 1000 {
		if g.Low() {
			t.Fatal("low before the interval passed: the free space was read again")
		}
	}
	if fs.reads != 1 {
		t.Fatalf("%d reads of the free space within one interval, want 1", fs.reads)
	}
	now = now.Add(time.Second)
	if !g.Low() || fs.reads != 2 {
		t.Fatalf("512 MiB free after the interval: low %v after %d reads; want low after 2", g.Low(), fs.reads)
	}
	if s := g.Status(); s != "512 MiB free, 1024 MiB kept in reserve" {
		t.Errorf("status %q", s)
	}
	g.SetReserve(256 << 20) // the operator lowers the reserve: read at once
	if g.Low() {
		t.Fatal("512 MiB free, 256 MiB reserve: low")
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("told of %v, want low then not low", changes)
	}
	g.SetReserve(0)
	fs.avail = 0
	now = now.Add(time.Hour)
	if g.Low() {
		t.Fatal("no reserve, nothing free: low (no reserve means never low)")
	}
	g.SetReserve(1 << 30)
	fs.err = errors.New("not supported")
	if g.Check() || g.Low() || g.Err() == nil {
		t.Fatalf("a filesystem that cannot say its free space: low %v, err %v; want not low and the error", g.Low(), g.Err())
	}
	var none *SpaceGuard
	if none.Low() || none.Check() || none.Status() != "no reserve" {
		t.Fatal("a nil guard is low")
	}
}
