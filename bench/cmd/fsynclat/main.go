// Command fsynclat measures the fsync latency of the disk under a directory
// (default: a temporary directory), the floor under every durable ack of
// the node: it appends small blocks to a file, fsyncing each, like a WAL.
// It prints one RESULT line with the latency percentiles.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/corkboard/corkboard/bench/internal/hist"
)

func main() {
	dir := flag.String("dir", "", "directory on the disk to test (default: a new temporary directory)")
	n := flag.Int("n", 1000, "number of fsyncs (at most 100000)")
	size := flag.Int("size", 512, "bytes appended before each fsync")
	maxTime := flag.Duration("max-time", time.Minute, "stop after this long even if n is not reached")
	flag.Parse()
	if *n < 1 || *n > 100000 || *size < 1 || *size > 1<<20 {
		fmt.Fprintln(os.Stderr, "fsynclat: want 1 <= n <= 100000 and 1 <= size <= 1 MiB")
		os.Exit(2)
	}
	d := *dir
	if d == "" {
		var err error
		if d, err = os.MkdirTemp("", "fsynclat"); err != nil {
			fmt.Fprintln(os.Stderr, "fsynclat:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(d)
	}
	f, err := os.OpenFile(filepath.Join(d, "fsynclat.wal"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsynclat:", err)
		os.Exit(1)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, *size)
	var h hist.Hist
	start := time.Now()
	done := 0
	for ; done < *n && time.Since(start) < *maxTime; done++ {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, "fsynclat:", err)
			os.Exit(1)
		}
		if err := f.Sync(); err != nil {
			fmt.Fprintln(os.Stderr, "fsynclat:", err)
			os.Exit(1)
		}
		h.Record(time.Since(t))
	}
	el := time.Since(start).Seconds()
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	fmt.Printf("RESULT tool=fsynclat dir=%s fsyncs=%d size=%d per_s=%s p50_ms=%s p99_ms=%s p999_ms=%s max_ms=%s\n",
		d, done, *size, f2(float64(done)/el), f2(h.QuantileMs(0.5)), f2(h.QuantileMs(0.99)), f2(h.QuantileMs(0.999)), f2(h.MaxMs()))
}
