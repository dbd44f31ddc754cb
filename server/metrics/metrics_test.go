package metrics

import (
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/storage"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// watchAll registers every optional collector, as a node with a Pebble
// store does.
func watchAll(m *Metrics) {
	m.WatchPeers(func() int { return 0 })
	m.WatchOutbox([]string{"mail", "webhook"}, func() map[string]OutboxStats {
		return map[string]OutboxStats{"webhook": {Enqueued: 5, Delivered: 3, Retried: 2, Dead: 1, Dropped: 4}, "corrupt": {Dead: 1}}
	}, func() (map[string]int, map[string]int) {
		return map[string]int{"webhook": 2}, map[string]int{"webhook": 1, "corrupt": 1}
	})
	m.WatchBusErrors(func() int64 { return 0 })
	m.WatchPebble(func() (storage.PebbleStats, error) {
		return storage.PebbleStats{DiskUsageBytes: 4096, ReadAmplification: 3}, nil
	})
}

// Every metric follows Prometheus's naming conventions, as its own linter
// reads them (units, _total on counters, no reserved suffixes...).
func TestMetricNamesFollowConventions(t *testing.T) {
	m := New()
	watchAll(m)
	m.HTTPRequest("GET /healthz", 200)
	m.HTTPDuration("GET /healthz", 0)
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, m)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// No two families share a name once OpenMetrics drops a counter's _total
// (the clash corkboard_outbox_dead and corkboard_outbox_dead_total had),
// and a family is one type.
func TestNoFamilyNameClash(t *testing.T) {
	m := New()
	watchAll(m)
	seen := map[string]string{}
	for _, mf := range mustGather(t, m) {
		if !strings.HasPrefix(mf.GetName(), "corkboard_") {
			continue // the Go collector's own names are its own
		}
		base := strings.TrimSuffix(mf.GetName(), "_total")
		if other, ok := seen[base]; ok {
			t.Errorf("%s and %s are one family name in OpenMetrics", other, mf.GetName())
		}
		seen[base] = mf.GetName()
	}
}

// The outbox families: one per meaning, by kind; the kinds asked for exist
// at 0, other kinds appear with their counts.
func TestOutboxByKind(t *testing.T) {
	m := New()
	watchAll(m)
	got := map[string]float64{}
	for _, mf := range mustGather(t, m) {
		if !strings.HasPrefix(mf.GetName(), "corkboard_outbox_") {
			continue
		}
		for _, s := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range s.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = s.GetGauge().GetValue() + s.GetCounter().GetValue()
		}
	}
	want := map[string]float64{}
	for _, kind := range []string{"mail", "webhook", "corrupt"} {
		for _, name := range []string{"corkboard_outbox_pending", "corkboard_outbox_dead_letters", "corkboard_outbox_enqueued_total", "corkboard_outbox_dropped_total"} {
			want[name+" kind="+kind] = 0
		}
		for _, r := range []string{"delivered", "retried", "dead"} {
			want["corkboard_outbox_attempts_total kind="+kind+" result="+r] = 0
		}
	}
	want["corkboard_outbox_pending kind=webhook"] = 2
	want["corkboard_outbox_dead_letters kind=webhook"] = 1
	want["corkboard_outbox_dead_letters kind=corrupt"] = 1
	want["corkboard_outbox_enqueued_total kind=webhook"] = 5
	want["corkboard_outbox_dropped_total kind=webhook"] = 4
	want["corkboard_outbox_attempts_total kind=webhook result=delivered"] = 3
	want["corkboard_outbox_attempts_total kind=webhook result=retried"] = 2
	want["corkboard_outbox_attempts_total kind=webhook result=dead"] = 1
	want["corkboard_outbox_attempts_total kind=corrupt result=dead"] = 1
	if !maps.Equal(got, want) {
		t.Errorf("outbox series\n got %v\nwant %v", got, want)
	}
}

// corkboard_build_info is 1 with the Go version; every histogram's
// buckets reach 10 s.
func TestBuildInfoAndBuckets(t *testing.T) {
	m := New()
	m.HTTPDuration("GET /healthz", 0)
	m.RoomHooks().Commit(0)
	m.RoomHooks().Fanout(0)
	var info *dto.MetricFamily
	histograms := 0
	for _, mf := range mustGather(t, m) {
		if mf.GetName() == "corkboard_build_info" {
			info = mf
		}
		if mf.GetType() != dto.MetricType_HISTOGRAM || !strings.HasPrefix(mf.GetName(), "corkboard_") {
			continue
		}
		histograms++
		for _, s := range mf.GetMetric() {
			b := s.GetHistogram().GetBucket()
			if last := b[len(b)-1].GetUpperBound(); last < 10 {
				t.Errorf("%s: last bucket %v s, want 10 s", mf.GetName(), last)
			}
		}
	}
	if histograms != 3 {
		t.Errorf("%d corkboard histograms checked, want 3", histograms)
	}
	if info == nil || len(info.GetMetric()) != 1 || info.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("corkboard_build_info: %v", info)
	}
	labels := map[string]string{}
	for _, l := range info.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["goversion"] != runtime.Version() || labels["version"] == "" || labels["revision"] == "" {
		t.Errorf("build info labels %v", labels)
	}
}

// A Pebble read that fails (the store closing) exports nothing rather
// than zeros.
func TestPebbleReadFails(t *testing.T) {
	m := New()
	m.WatchPebble(func() (storage.PebbleStats, error) { return storage.PebbleStats{}, errors.New("closed") })
	for _, mf := range mustGather(t, m) {
		if strings.HasPrefix(mf.GetName(), "corkboard_pebble_") {
			t.Errorf("%s exported from a failed read", mf.GetName())
		}
	}
}

func mustGather(t *testing.T, m *Metrics) []*dto.MetricFamily {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// /metrics answers anyone, and the queue's counts are a scan of the whole
// outbox: scrapes while the outbox's counters stand still share one scan,
// so a caller hammering the endpoint makes the node scan once per change
// of the outbox (or per outboxCountsEvery), not once per request; a
// scrape after a change, or after the interval, sees new counts.
func TestOutboxCountsScannedOncePerChange(t *testing.T) {
	clk := time.Unix(1000, 0)
	scans := 0
	enqueued := uint64(0)
	c := &outboxCollector{kinds: []string{"mail"},
		stats: func() map[string]OutboxStats { return map[string]OutboxStats{"mail": {Enqueued: enqueued}} },
		counts: func() (map[string]int, map[string]int) {
			scans++
			return map[string]int{"mail": scans}, nil
		},
		now: func() time.Time { return clk }}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	pending := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "corkboard_outbox_pending" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no corkboard_outbox_pending")
		return 0
	}
	for range 100 {
		pending()
	}
	if scans != 1 {
		t.Fatalf("100 scrapes of an unchanged outbox scanned it %d times, want 1", scans)
	}
	enqueued++ // an item queued: the next scrape counts again
	if got := pending(); scans != 2 || got != 2 {
		t.Fatalf("a scrape after a change: %d scans, pending %v; want 2 and 2", scans, got)
	}
	pending()
	clk = clk.Add(outboxCountsEvery) // nothing counted moved, but time passed
	if got := pending(); scans != 3 || got != 3 {
		t.Fatalf("a scrape after the interval: %d scans, pending %v; want 3 and 3", scans, got)
	}
}
