// Package sysstat reads what the machine was doing while a benchmark ran,
// so that figures taken on a shared machine can be told apart: the CPU
// time every core spent busy, and the load average (Linux /proc; zero
// values elsewhere).
package sysstat

import (
	"os"
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
