// Package metrics is the only package that imports Prometheus. It turns the
// hooks and counters the rest of the node exposes into metrics served at
// /metrics. No metric has a board id (or any other unbounded value) as a
// label.
package metrics

import (
	"net/http"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the node's collectors.
type Metrics struct {
	reg         *prometheus.Registry
	Connections prometheus.Gauge
	rooms       prometheus.Gauge
	accepted    prometheus.Counter
	rejected    *prometheus.CounterVec
	remote      prometheus.Counter
	commit      prometheus.Histogram
	fanout      prometheus.Histogram
	deliveries  prometheus.Counter
	slow        prometheus.Counter
	BytesIn     prometheus.Counter
	BytesOut    prometheus.Counter
	busErrors   prometheus.Counter
	HTTP        *prometheus.CounterVec
	panics      *prometheus.CounterVec
	heldDropped prometheus.Counter
	// NotifierPasses counts the notifier passes this node ran as the
	// cluster's notifier (holding its lease).
	NotifierPasses prometheus.Counter
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// New registers the node's metrics (plus Go and process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{reg: r}
	m.Connections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "corkboard_connections", Help: "Open WebSocket sessions."})
	m.rooms = prometheus.NewGauge(prometheus.GaugeOpts{Name: "corkboard_rooms", Help: "Boards loaded in memory."})
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_changes_accepted_total", Help: "Changes accepted from clients and made durable."})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_changes_rejected_total", Help: "Changes refused, by error code."}, []string{"reason"})
	m.remote = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_changes_remote_total", Help: "Changes received from other nodes and stored."})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "corkboard_commit_seconds", Help: "Latency of one group commit (append + fsync).", Buckets: latencyBuckets})
	m.fanout = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "corkboard_fanout_seconds", Help: "Time to push one batch to local sessions and the bus.", Buckets: latencyBuckets})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_deliveries_total", Help: "Op messages queued to sessions."})
	m.slow = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_slow_consumers_total", Help: "Sessions disconnected for a full send queue."})
	m.BytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_ws_bytes_in_total", Help: "WebSocket payload bytes received."})
	m.BytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_ws_bytes_out_total", Help: "WebSocket payload bytes sent."})
	m.busErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_bus_errors_total", Help: "NATS publish/subscribe errors and dropped bus messages."})
	m.HTTP = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_http_requests_total", Help: "REST requests by route pattern and status class."}, []string{"route", "status"})
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_panics_total", Help: "Panics recovered: where=room (the board was dropped and reloads on next use) or conn (the connection was closed with 4001)."}, []string{"where"})
	m.NotifierPasses = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_notifier_passes_total", Help: "Notification passes this node ran while holding the notifier lease."})
	f(m.NotifierPasses)
	m.panics.WithLabelValues("room") // both series exist from the start, at 0
	m.panics.WithLabelValues("conn")
	m.heldDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_held_dropped_total", Help: "Held changes from other nodes or from a replayed log not kept, over the held limits."})
	for _, c := range []prometheus.Collector{m.Connections, m.rooms, m.accepted, m.rejected, m.remote, m.commit, m.fanout,
		m.deliveries, m.slow, m.BytesIn, m.BytesOut, m.busErrors, m.HTTP, m.panics, m.heldDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// RoomHooks returns the hooks that feed these metrics from rooms.
func (m *Metrics) RoomHooks() room.Hooks {
	return room.Hooks{
		Accepted:      func(n int) { m.accepted.Add(float64(n)) },
		Rejected:      func(code protocol.Code, n int) { m.rejected.WithLabelValues(string(code)).Add(float64(n)) },
		Remote:        func(n int) { m.remote.Add(float64(n)) },
		Commit:        func(d time.Duration) { m.commit.Observe(d.Seconds()) },
		Fanout:        func(d time.Duration) { m.fanout.Observe(d.Seconds()) },
		Deliveries:    func(n int) { m.deliveries.Add(float64(n)) },
		SlowConsumers: func() { m.slow.Inc() },
		Rooms:         func(d int) { m.rooms.Add(float64(d)) },
		BusErrors:     func() { m.busErrors.Inc() },
		Panics:        func() { m.Panic("room") },
		HeldDropped:   func(n int) { m.heldDropped.Add(float64(n)) },
	}
}

// Panic counts a recovered panic; where is "room" or "conn".
func (m *Metrics) Panic(where string) { m.panics.WithLabelValues(where).Inc() }

// WatchBusErrors exports a counter the bus keeps (NATS errors).
func (m *Metrics) WatchBusErrors(read func() int64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "corkboard_nats_errors_total", Help: "Errors reported by the NATS connection."},
		func() float64 { return float64(read()) }))
}

// WatchOutbox exports the durable outbox's counters (e-mails and webhook
// calls) and its queue lengths.
func (m *Metrics) WatchOutbox(stats func() (enqueued, delivered, retried, dead uint64), counts func() (pending, dead int)) {
	for i, name := range []string{"enqueued", "delivered", "retried", "dead"} {
		i := i
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "corkboard_outbox_" + name + "_total", Help: "Outbox deliveries (e-mails and webhook calls) " + name + "."},
			func() float64 {
				e, d, r, x := stats()
				return float64([]uint64{e, d, r, x}[i])
			}))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "corkboard_outbox_pending", Help: "Deliveries waiting in the outbox."},
		func() float64 { p, _ := counts(); return float64(p) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "corkboard_outbox_dead", Help: "Deliveries given up (dead letters)."},
		func() float64 { _, d := counts(); return float64(d) }))
}

// WatchOutboxDropped exports how many pending deliveries the outbox
// dropped undelivered to stay under a cap (a board's webhook backlog).
func (m *Metrics) WatchOutboxDropped(read func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "corkboard_outbox_dropped_total", Help: "Outbox deliveries dropped undelivered, past a cap (webhooks waiting per board)."},
		func() float64 { return float64(read()) }))
}

// WatchPeers exports the number of other nodes heard from.
func (m *Metrics) WatchPeers(read func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "corkboard_cluster_peers", Help: "Other nodes heard from recently (heartbeats)."},
		func() float64 { return float64(read()) }))
}

// Rejected counts refusals made outside rooms (rate limits, bad frames).
func (m *Metrics) Rejected(code protocol.Code) { m.rejected.WithLabelValues(string(code)).Inc() }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
