package hist

import (
	"math"
	"testing"
	"time"
)

func TestQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 100000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 50}, {0.99, 99}, {0.999, 99.9}} {
		got := h.QuantileMs(c.q)
		if math.Abs(got-c.want)/c.want > 0.01 {
			t.Errorf("q%v = %v ms, want %v ms within 1%%", c.q, got, c.want)
		}
	}
	if h.MaxMs() != 100 {
		t.Errorf("max = %v", h.MaxMs())
	}
}

func TestBucketsMonotonic(t *testing.T) {
	prev := -1
	for us := int64(0); us < 1<<30; us = us*11/10 + 1 {
		i := index(us)
		if i < prev {
			t.Fatalf("index(%d) = %d < %d", us, i, prev)
		}
		if v := value(i); math.Abs(v-float64(us)) > float64(us)/100+1 {
			t.Fatalf("value(index(%d)) = %v", us, v)
		}
		prev = i
	}
}
