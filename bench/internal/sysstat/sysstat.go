// Package sysstat reads what the machine was doing while a benchmark ran,
// so that figures taken on a shared machine can be told apart: the CPU
// time every core spent busy, and the load average (Linux /proc; zero
// values elsewhere).
package sysstat

import (
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// MachineBusy returns the CPU seconds every core of the machine has spent
// busy (not idle, not waiting for IO) since boot, from /proc/stat; 0 where
// that file does not exist. Busy cores during a window, minus the
// benchmark's own processes, is what other processes took.
func MachineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i < 8 && i != 3 && i != 4 { // user nice system irq softirq steal (not idle, iowait, guest)
			busy += n
		}
	}
	return busy / 100 // USER_HZ
}

// Loadavg1 returns the one-minute load average as /proc/loadavg writes
// it, or "-1".
func Loadavg1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "-1"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "-1"
	}
	return f[0]
}

// SchedLatency is a snapshot of this process's scheduling latencies: how
// long its goroutines waited, runnable, for a thread to run them
// (runtime/metrics "/sched/latencies:seconds"). Quantile of the
// difference of two snapshots is the lag of the process itself over that
// time: a load generator whose goroutines wait for a core records the
// wait in every latency it measures.
type SchedLatency struct{ h *metrics.Float64Histogram }

// ReadSchedLatency takes a snapshot.
func ReadSchedLatency() SchedLatency {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return SchedLatency{}
	}
	return SchedLatency{h: s[0].Value.Float64Histogram()}
}

// QuantileSince returns the q-quantile, in seconds (the upper bound of its
// bucket), of the latencies recorded between before and s; -1 if none.
func (s SchedLatency) QuantileSince(before SchedLatency, q float64) float64 {
	if s.h == nil || before.h == nil || len(s.h.Counts) != len(before.h.Counts) {
		return -1
	}
	var total uint64
	for i := range s.h.Counts {
		total += s.h.Counts[i] - before.h.Counts[i]
	}
	if total == 0 {
		return -1
	}
	want := uint64(q * float64(total))
	var n uint64
	for i := range s.h.Counts {
		n += s.h.Counts[i] - before.h.Counts[i]
		if n > want {
			if up := s.h.Buckets[i+1]; !math.IsInf(up, 1) {
				return up
			}
			return s.h.Buckets[i]
		}
	}
	return s.h.Buckets[len(s.h.Buckets)-1]
}
