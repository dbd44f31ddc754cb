package nodeapi

import (
	"math"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "http://127.3.2.1"} {
		if err := CheckLoopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "ws://127.0.0.1", "http://192.168.1.2"} {
		if CheckLoopback(u) == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestHistQuantile(t *testing.T) {
	before := Metrics{`h_bucket{le="0.001"}`: 10, `h_bucket{le="0.01"}`: 10, `h_bucket{le="+Inf"}`: 10}
	after := Metrics{`h_bucket{le="0.001"}`: 100, `h_bucket{le="0.01"}`: 109, `h_bucket{le="+Inf"}`: 110}
	if q := HistQuantile(before, after, "h", 0.5); q != 0.001 {
		t.Errorf("p50 = %v", q)
	}
	if q := HistQuantile(before, after, "h", 0.99); q != 0.01 {
		t.Errorf("p99 = %v", q)
	}
	if q := HistQuantile(before, after, "h", 0.999); !math.IsInf(q, 1) {
		t.Errorf("p999 = %v", q)
	}
	if q := HistQuantile(after, after, "h", 0.5); !math.IsNaN(q) {
		t.Errorf("empty = %v", q)
	}
}
