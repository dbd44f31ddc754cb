package crdt

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// textBoard has n elements with a text each (every tenth edited by a second
// replica, every seventh with a deletion), enough for the worker path of
// textPool.
func textBoard(t testing.TB, n int) *Doc {
	d := NewDoc()
	for i := 0; i < n; i++ {
		tx := d.Begin(1, int64(1_700_000_000_000+i))
		must(t, tx.Create(benchElem(i), "note"))
		must(t, tx.Set(benchElem(i), "x", Number(float64(i))))
		field := "text"
		if i%100 == 0 {
			field = fmt.Sprintf("f%05d", i) // a field named after its element
		}
		must(t, tx.InsertText(benchElem(i), field, 0, fmt.Sprintf("idea-%05d é", i)))
		tx.Commit()
		if i%10 == 0 {
			tx := d.Begin(2, int64(1_700_000_000_000+i))
			must(t, tx.InsertText(benchElem(i), field, 3, "·more·"))
			if i%7 == 0 {
				must(t, tx.DeleteText(benchElem(i), field, 0, 2))
			}
			tx.Commit()
		}
	}
	return d
}

func withProcs(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

// Loading with text workers gives the same doc as loading on one
// goroutine: the same snapshot, the same texts.
func TestLoadSnapshotTextWorkers(t *testing.T) {
	const n = 5000 // > textBatch × maxTextWorkers, and enough elements to fill the map alongside
	src := textBoard(t, n)
	raw := src.SnapshotRaw()
	for _, procs := range []int{1, 2, 4} {
		withProcs(procs, func() {
			d, err := LoadSnapshot(raw)
			if err != nil {
				t.Fatalf("GOMAXPROCS %d: %v", procs, err)
			}
			if !bytes.Equal(d.SnapshotRaw(), raw) {
				t.Fatalf("GOMAXPROCS %d: the loaded doc encodes differently", procs)
			}
			for _, i := range []int{0, 1, 10, 70, 1234, n - 1} {
				field := "text"
				if i%100 == 0 {
					field = fmt.Sprintf("f%05d", i)
				}
				if got, want := d.Text(benchElem(i), field), src.Text(benchElem(i), field); got != want || want == "" {
					t.Fatalf("GOMAXPROCS %d: element %d: text %q, want %q", procs, i, got, want)
				}
			}
			// The loaded texts are live: editing one works as on the source.
			tx := d.Begin(3, 1_800_000_000_000)
			must(t, tx.InsertText(benchElem(5), "text", 0, ">"))
			tx.Commit()
			if got := d.Text(benchElem(5), "text"); got != ">"+src.Text(benchElem(5), "text") {
				t.Fatalf("GOMAXPROCS %d: after an edit: %q", procs, got)
			}
		})
	}
}

// With two bad texts, the error names the first in snapshot order, however
// many goroutines decode them.
func TestLoadSnapshotTextWorkersFirstError(t *testing.T) {
	const n = 5000
	raw := textBoard(t, n).SnapshotRaw()
	bad := bytes.Clone(raw)
	// Invalid UTF-8 in the content of two texts, far apart: element 700's
	// field f00700 and element 2900's field f02900.
	for _, i := range []int{2900, 700} {
		at := bytes.Index(bad, fmt.Appendf(nil, "a-%05d é", i))
		if at < 0 {
			t.Fatalf("text of element %d not found in the snapshot", i)
		}
		bad[at] = 0xff
	}
	var first string
	for _, procs := range []int{1, 2, 4, 2, 4} {
		withProcs(procs, func() {
			_, err := LoadSnapshot(bad)
			if err == nil {
				t.Fatalf("GOMAXPROCS %d: a snapshot with bad texts loaded", procs)
			}
			if !strings.Contains(err.Error(), `"f00700"`) || !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("GOMAXPROCS %d: error %q, want the UTF-8 error of text f00700", procs, err)
			}
			if first == "" {
				first = err.Error()
			} else if err.Error() != first {
				t.Fatalf("GOMAXPROCS %d: error %q, earlier %q", procs, err, first)
			}
		})
	}
	// A bad element after the texts: the first bad text still wins; with
	// no bad text, the element's error comes out.
	trunc := bad[:len(bad)-1]
	if _, err := LoadSnapshot(trunc); err == nil || !strings.Contains(err.Error(), `"f00700"`) {
		t.Fatalf("truncated with bad texts: %v", err)
	}
	if _, err := LoadSnapshot(raw[:len(raw)-1]); err == nil || strings.Contains(err.Error(), "text") {
		t.Fatalf("truncated: %v", err)
	}
}
