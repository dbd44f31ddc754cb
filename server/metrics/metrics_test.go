package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// Every metric follows Prometheus's naming conventions, as its own linter
// reads them (units, _total on counters, no reserved suffixes...).
func TestMetricNamesFollowConventions(t *testing.T) {
	m := New()
	m.WatchPeers(func() int { return 0 })
	m.WatchOutbox(func() (uint64, uint64, uint64, uint64) { return 0, 0, 0, 0 }, func() (int, int) { return 0, 0 })
	m.WatchOutboxDropped(func() uint64 { return 0 })
	m.WatchBusErrors(func() int64 { return 0 })
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, m)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
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
