package sysstat

import (
	"os"
	"strconv"
	"testing"
)

func TestReadsProc(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc")
	}
	a := MachineBusy()
	for i := 0; i < 1e7; i++ { // burn a little CPU
		_ = strconv.Itoa(i)
	}
	if b := MachineBusy(); a <= 0 || b < a {
		t.Fatalf("busy seconds %v then %v", a, b)
	}
	if _, err := strconv.ParseFloat(Loadavg1(), 64); err != nil {
		t.Fatalf("load average %q: %v", Loadavg1(), err)
	}
}
