package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/storage"
)

// peakWriter discards an answer, noting the largest live heap seen at a
// write (runtime.ReadMemStats: a benchmark's measure, not a test's).
type peakWriter struct {
	h    http.Header
	peak uint64
}

func (p *peakWriter) Header() http.Header { return p.h }
func (p *peakWriter) WriteHeader(int)     {}
func (p *peakWriter) Write(b []byte) (int, error) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.peak = max(p.peak, m.HeapAlloc)
	return len(b), nil
}

// BenchmarkOpsAnswer: one /ops answer of 50 000 small changes (a vote
// or a move each: the worst case of decoded size against stored size).
// peak-MiB is the live heap at the answer's writes above the heap before.
func BenchmarkOpsAnswer(b *testing.B) {
	st, err := storage.OpenPebble(b.TempDir(), storage.PebbleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	srv := New(Config{Store: st, Limits: limit.New(time.Now)})
	var board storage.BoardID
	board[0] = 4
	d := crdt.NewDoc()
	var e crdt.ElementID
	e[0] = 9
	tx := d.Begin(7, 1_700_000_000_000)
	tx.Create(e, "note")
	c, _ := tx.Commit()
	data, _ := c.MarshalBinary()
	recs := []storage.Record{{Replica: 7, Start: c.Start, End: c.End(), Data: data}}
	for i := range 50_000 {
		tx := d.Begin(7, int64(1_700_000_000_001+i))
		tx.Set(e, "x", crdt.Number(float64(i)))
		c, _ := tx.Commit()
		data, _ := c.MarshalBinary()
		recs = append(recs, storage.Record{Replica: 7, Start: c.Start, End: c.End(), Data: data, Author: "u_a"})
	}
	if err := st.AppendOps(context.Background(), board, recs); err != nil {
		b.Fatal(err)
	}
	recs = nil
	version := d.Version()
	d = nil
	var peak uint64
	b.ReportAllocs()
	for b.Loop() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		w := &peakWriter{h: http.Header{}}
		srv.answerOps(w, httptest.NewRequest("GET", "/", nil), board, crdt.VersionVector{}, version)
		if w.peak > m.HeapAlloc {
			peak = max(peak, w.peak-m.HeapAlloc)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}
