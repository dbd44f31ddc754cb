// Package hist is a small log-linear latency histogram for the node
// benchmarks: values in microseconds, 128 sub-buckets per power of two
// (relative error under 0.8%), fixed memory (32 KiB), no allocation per
// sample. A Hist is not safe for concurrent use; Sharded is.
package hist

import (
	"math/bits"
	"sync"
	"time"
)

const (
	subBits = 7
	sub     = 1 << subBits // sub-buckets per power of two
	linear  = 2 * sub      // values below this have a bucket each
	nBucket = linear + 40*sub
)

// Hist counts durations.
type Hist struct {
	counts [nBucket]uint64
	n      uint64
	max    int64
}

func index(us int64) int {
	if us < 0 {
		us = 0
	}
	u := uint64(us)
	if u < linear {
		return int(u)
	}
	e := bits.Len64(u) - (subBits + 1) // >= 1
	i := linear + (e-1)*sub + int(u>>e) - sub
	return min(i, nBucket-1)
}

// value returns the middle of bucket i, in microseconds.
func value(i int) float64 {
	if i < linear {
		return float64(i)
	}
	e := (i-linear)/sub + 1
	lo := uint64((i-linear)%sub+sub) << e
	return float64(lo) + float64(uint64(1)<<e)/2
}

// Record adds one duration.
func (h *Hist) Record(d time.Duration) {
	us := d.Microseconds()
	h.counts[index(us)]++
	h.n++
	if us > h.max {
		h.max = us
	}
}

// Count is the number of samples.
func (h *Hist) Count() uint64 { return h.n }

// Merge adds o's samples to h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// QuantileMs returns the q-quantile (0..1) in milliseconds, 0 when empty.
func (h *Hist) QuantileMs(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(value(i), float64(h.max)) / 1000
		}
	}
	return float64(h.max) / 1000
}

// MaxMs is the largest sample in milliseconds.
func (h *Hist) MaxMs() float64 { return float64(h.max) / 1000 }

// Sharded spreads recording over locked shards so that many goroutines can
// record at once without contending on one lock.
type Sharded struct {
	shards []shard
}

type shard struct {
	mu sync.Mutex
	h  Hist
	_  [64]byte
}

// NewSharded returns a histogram with n shards.
func NewSharded(n int) *Sharded { return &Sharded{shards: make([]shard, max(1, n))} }

// Record adds d to shard key % n (use a per-goroutine key).
func (s *Sharded) Record(key int, d time.Duration) {
	sh := &s.shards[key%len(s.shards)]
	sh.mu.Lock()
	sh.h.Record(d)
	sh.mu.Unlock()
}

// Merged returns the sum of every shard.
func (s *Sharded) Merged() *Hist {
	out := &Hist{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out.Merge(&sh.h)
		sh.mu.Unlock()
	}
	return out
}
