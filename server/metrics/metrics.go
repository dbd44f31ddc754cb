// Package metrics is the only package that imports Prometheus. It turns the
// hooks and counters the rest of the node exposes into metrics served at
// /metrics. No metric has a board id (or any other unbounded value) as a
// label.
package metrics

import (
	"maps"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
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
	// BytesIn and BytesOut are corkboard_ws_received_bytes_total and
	// corkboard_ws_sent_bytes_total.
	BytesIn      prometheus.Counter
	BytesOut     prometheus.Counter
	busErrors    prometheus.Counter
	http         *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	panics       *prometheus.CounterVec
	heldDropped  prometheus.Counter
	stalled      prometheus.Counter
	heldRefused  prometheus.Counter
	hellos       prometheus.Counter
	syncRequests prometheus.Counter
	syncChanges  *prometheus.CounterVec
	syncErrors   *prometheus.CounterVec
	// NotifierPasses counts the notifier passes this node ran as the
	// cluster's notifier (holding its lease).
	NotifierPasses prometheus.Counter
	notifyFailed   *prometheus.CounterVec
}

// latencyBuckets are the buckets of every latency histogram: from 100 µs
// (a group commit on a fast disk) to 10 s (a stalled fsync, an export), so
// that the slow tail an operator is paged for lands in a bucket of its own
// rather than in +Inf.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// OtherRoute is the route label of a request no registered route pattern
// matched (the web client's files, unknown paths, a method a route does
// not take): one value, so a scan of random paths adds no series.
const OtherRoute = "other"

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
	m.BytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_ws_received_bytes_total", Help: "WebSocket payload bytes received."})
	m.BytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_ws_sent_bytes_total", Help: "WebSocket payload bytes sent."})
	m.busErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_bus_errors_total", Help: "NATS publish/subscribe errors and dropped bus messages."})
	m.http = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_http_requests_total", Help: "HTTP requests by route pattern (\"other\" for none) and status class."}, []string{"route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "corkboard_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route pattern (\"other\" for none); WebSocket sessions are not timed.", Buckets: latencyBuckets}, []string{"route"})
	m.syncRequests = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_antientropy_requests_total", Help: "Anti-entropy rounds: version vectors published by this node's rooms to ask the other nodes for what they lack."})
	m.syncChanges = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_antientropy_changes_total", Help: "Changes in anti-entropy answers: sent to other nodes, or received by this node (before deduplication)."}, []string{"direction"})
	m.syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_antientropy_errors_total", Help: "Anti-entropy failures: read (the op log could not be read for an answer), decode (an answer did not decode), trimmed (retention cut what an asker lacks)."}, []string{"reason"})
	for _, d := range []string{"sent", "received"} {
		m.syncChanges.WithLabelValues(d)
	}
	for _, r := range []string{"read", "decode", "trimmed"} {
		m.syncErrors.WithLabelValues(r)
	}
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_panics_total", Help: "Panics recovered: where=room (the board was dropped and reloads on next use), conn (the connection was closed with 4001) or http (the request was answered 500)."}, []string{"where"})
	m.NotifierPasses = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_notifier_passes_total", Help: "Notification passes this node ran while holding the notifier lease."})
	f(m.NotifierPasses)
	m.notifyFailed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corkboard_notify_failures_total",
		Help: "Members' notification e-mails that failed in a notifier pass (the pass went on with the other members), by reason."}, []string{"reason"})
	f(m.notifyFailed)
	m.panics.WithLabelValues("room") // both series exist from the start, at 0
	m.panics.WithLabelValues("conn")
	m.heldDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_held_dropped_total", Help: "Held changes from other nodes or from a replayed log not kept, over the held limits."})
	m.stalled = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_stalled_connections_total", Help: "Sessions disconnected for reading nothing for --write-stall while the node had something to send them."})
	m.heldRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_held_refused_total", Help: "Held changes refused when they could apply (their author may no longer make them), with the held changes of their replicas after them."})
	m.hellos = prometheus.NewCounter(prometheus.CounterOpts{Name: "corkboard_hellos_refused_total", Help: "Connections closed with 4001 because the node held as many bytes of large hellos as it takes at once (gateway Limits.HelloBudget)."})
	for _, c := range []prometheus.Collector{m.Connections, m.rooms, m.accepted, m.rejected, m.remote, m.commit, m.fanout,
		m.deliveries, m.slow, m.stalled, m.BytesIn, m.BytesOut, m.busErrors, m.http, m.httpDuration, m.panics, m.heldDropped, m.heldRefused, m.hellos,
		m.syncRequests, m.syncChanges, m.syncErrors, buildInfo(),
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
		HeldRefused:   func(n int) { m.heldRefused.Add(float64(n)) },
		SyncRequested: func() { m.syncRequests.Inc() },
		SyncSent:      func(n int) { m.syncChanges.WithLabelValues("sent").Add(float64(n)) },
		SyncReceived:  func(n int) { m.syncChanges.WithLabelValues("received").Add(float64(n)) },
		SyncFailed:    func(reason string) { m.syncErrors.WithLabelValues(reason).Inc() },
	}
}

// HTTPRequest counts a request answered with status on route, a
// registered route pattern ("GET /v1/boards/{board}/state", never the raw
// path) or OtherRoute.
func (m *Metrics) HTTPRequest(route string, status int) {
	m.http.WithLabelValues(route, strconv.Itoa(status/100)+"xx").Inc()
}

// HTTPDuration records the time a request on route took to answer. Not
// for WebSocket routes: their handler lasts as long as the session.
//
// By route only, without the status class that HTTPRequest counts: every
// label value multiplies the histogram's sixteen buckets, and the error
// rate is already read from the counter.
func (m *Metrics) HTTPDuration(route string, d time.Duration) {
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// buildInfo is corkboard_build_info, the usual constant 1 whose labels say
// what runs: the module version ("(devel)" for a build from a work tree),
// the Go version, and the VCS revision ("unknown" when the build did not
// stamp one, as with -buildvcs=false).
func buildInfo() prometheus.Collector {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "corkboard_build_info", Help: "Always 1; the labels say which build of the node runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": revision}})
	g.Set(1)
	return g
}

// Stalled counts a session dropped for reading nothing while the node had
// something to send it (gateway Limits.WriteStall).
func (m *Metrics) Stalled() { m.stalled.Inc() }

// HelloRefused counts a connection refused for the node's hello budget
// (gateway Limits.HelloBudget).
func (m *Metrics) HelloRefused() { m.hellos.Inc() }

// Panic counts a recovered panic; where is "room" or "conn".
func (m *Metrics) Panic(where string) { m.panics.WithLabelValues(where).Inc() }

// WatchBusErrors exports a counter the bus keeps (NATS errors).
func (m *Metrics) WatchBusErrors(read func() int64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "corkboard_nats_errors_total", Help: "Errors reported by the NATS connection."},
		func() float64 { return float64(read()) }))
}

// OutboxStats are the outbox's counters for one kind of item
// (outbox.Stats, without importing the outbox here).
type OutboxStats struct {
	Enqueued, Delivered, Retried, Dead, Dropped uint64
}

// WatchOutbox exports the durable outbox's counters and queue lengths by
// kind of item. kinds are the kinds whose series exist from the start (at
// 0): "mail" and "webhook"; any other kind the outbox reports (such as
// "corrupt", the unreadable items moved to the dead letters) gets its
// series when it appears. Kinds are the producers' constants, so the label
// is bounded. stats and counts are called at each scrape.
//
// The families, one per meaning:
//
//	corkboard_outbox_pending{kind}                    gauge: items waiting
//	corkboard_outbox_dead_letters{kind}               gauge: items given up
//	corkboard_outbox_enqueued_total{kind}             counter
//	corkboard_outbox_attempts_total{kind,result}      counter: result is
//	    delivered, retried (failed, to be tried again) or dead (failed
//	    for good, or unreadable: moved to the dead letters)
//	corkboard_outbox_dropped_total{kind}              counter: dropped
//	    undelivered over a cap (a board's webhook backlog)
//
// They replace a gauge and a counter that shared a name
// (corkboard_outbox_dead and corkboard_outbox_dead_total, one family name
// for OpenMetrics, which drops _total) and four counters that were one
// meaning split by name. "attempts" rather than "deliveries": one delivery
// may take several attempts, and each attempt is counted once, so the rate
// of result="retried" is the rate of failed tries. Rejected: a label for
// the status of a dead letter (the outcome is enough to alert on; the
// reason is in the item and the log).
func (m *Metrics) WatchOutbox(kinds []string, stats func() map[string]OutboxStats, counts func() (pending, dead map[string]int)) {
	m.reg.MustRegister(&outboxCollector{kinds: kinds, stats: stats, counts: counts, now: time.Now})
}

// outboxCountsEvery: the queue's counts are a scan of the outbox (every
// pending item and dead letter), and /metrics answers anyone. A scrape
// scans again only when the outbox's counters moved since the last scan
// (an item queued, delivered, given up or dropped: the counts may have
// changed) or this long has passed (an operator's retry moves an item
// without a counter); otherwise it reuses the last scan. Hammering the
// endpoint then costs one scan per change of the outbox, and at most one
// per interval while nothing changes.
const outboxCountsEvery = 5 * time.Second

var (
	outboxPending  = prometheus.NewDesc("corkboard_outbox_pending", "Outbox items (e-mails, webhook calls) waiting to be delivered, by kind.", []string{"kind"}, nil)
	outboxDead     = prometheus.NewDesc("corkboard_outbox_dead_letters", "Outbox items given up (dead letters), by kind.", []string{"kind"}, nil)
	outboxEnqueued = prometheus.NewDesc("corkboard_outbox_enqueued_total", "Outbox items queued, by kind.", []string{"kind"}, nil)
	outboxAttempts = prometheus.NewDesc("corkboard_outbox_attempts_total", "Outbox delivery attempts by kind and result: delivered, retried (failed, to be tried again), dead (failed for good or unreadable).", []string{"kind", "result"}, nil)
	outboxDropped  = prometheus.NewDesc("corkboard_outbox_dropped_total", "Outbox items dropped undelivered past a cap (webhooks waiting per board), by kind.", []string{"kind"}, nil)
)

type outboxCollector struct {
	kinds  []string
	stats  func() map[string]OutboxStats
	counts func() (pending, dead map[string]int)
	now    func() time.Time

	// The last scan, the time and the counters it was taken at
	// (outboxCountsEvery); mu also makes concurrent scrapes wait for one
	// scan rather than each run their own.
	mu            sync.Mutex
	countedAt     time.Time
	countedStats  map[string]OutboxStats
	pending, dead map[string]int
}

// scan returns the queue's counts, scanned again only when the counters
// in stats moved since the last scan or outboxCountsEvery passed.
func (c *outboxCollector) scan(stats map[string]OutboxStats) (pending, dead map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.countedAt.IsZero() || now.Sub(c.countedAt) >= outboxCountsEvery || !maps.Equal(stats, c.countedStats) {
		c.pending, c.dead = c.counts()
		c.countedAt, c.countedStats = now, maps.Clone(stats)
	}
	return c.pending, c.dead
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{outboxPending, outboxDead, outboxEnqueued, outboxAttempts, outboxDropped} {
		ch <- d
	}
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.stats()
	pending, dead := c.scan(stats)
	kinds := map[string]bool{}
	for _, k := range c.kinds {
		kinds[k] = true
	}
	for _, m := range []map[string]int{pending, dead} {
		for k := range m {
			kinds[k] = true
		}
	}
	for k := range stats {
		kinds[k] = true
	}
	for k := range kinds {
		s := stats[k]
		ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(pending[k]), k)
		ch <- prometheus.MustNewConstMetric(outboxDead, prometheus.GaugeValue, float64(dead[k]), k)
		ch <- prometheus.MustNewConstMetric(outboxEnqueued, prometheus.CounterValue, float64(s.Enqueued), k)
		ch <- prometheus.MustNewConstMetric(outboxAttempts, prometheus.CounterValue, float64(s.Delivered), k, "delivered")
		ch <- prometheus.MustNewConstMetric(outboxAttempts, prometheus.CounterValue, float64(s.Retried), k, "retried")
		ch <- prometheus.MustNewConstMetric(outboxAttempts, prometheus.CounterValue, float64(s.Dead), k, "dead")
		ch <- prometheus.MustNewConstMetric(outboxDropped, prometheus.CounterValue, float64(s.Dropped), k)
	}
}

// WatchPebble exports Pebble's metrics (storage.PebbleStats), read at
// each scrape. A read that fails (the store is closing) exports nothing.
//
// Rejected: Pebble's whole Metrics (hundreds of numbers, per level, whose
// meaning changes between Pebble versions) and a poller that copies them
// on a timer (stale between scrapes, and work when nobody scrapes).
func (m *Metrics) WatchPebble(read func() (storage.PebbleStats, error)) {
	m.reg.MustRegister(pebbleCollector(read))
}

var pebbleDescs = struct {
	disk, compactions, debt, running, flushes, memtable, readAmp, wal, cache, hits, misses *prometheus.Desc
}{
	disk:        prometheus.NewDesc("corkboard_pebble_disk_usage_bytes", "Bytes of the store's files on disk: WAL, sstables, obsolete files not yet deleted.", nil, nil),
	compactions: prometheus.NewDesc("corkboard_pebble_compactions_total", "Pebble compactions since the store opened.", nil, nil),
	debt:        prometheus.NewDesc("corkboard_pebble_compaction_debt_bytes", "Estimated bytes Pebble must compact to bring the LSM into shape; growing means compactions fall behind writes.", nil, nil),
	running:     prometheus.NewDesc("corkboard_pebble_compactions_running", "Pebble compactions in progress.", nil, nil),
	flushes:     prometheus.NewDesc("corkboard_pebble_flushes_total", "Pebble memtable flushes since the store opened.", nil, nil),
	memtable:    prometheus.NewDesc("corkboard_pebble_memtable_bytes", "Bytes allocated by Pebble's memtables.", nil, nil),
	readAmp:     prometheus.NewDesc("corkboard_pebble_read_amplification", "Files a point read may visit (L0 sublevels plus non-empty lower levels); past about 20 Pebble stalls writes.", nil, nil),
	wal:         prometheus.NewDesc("corkboard_pebble_wal_written_bytes_total", "Bytes written to Pebble's write-ahead log since the store opened.", nil, nil),
	cache:       prometheus.NewDesc("corkboard_pebble_block_cache_bytes", "Bytes in Pebble's block cache.", nil, nil),
	hits:        prometheus.NewDesc("corkboard_pebble_block_cache_hits_total", "Pebble block cache hits since the store opened.", nil, nil),
	misses:      prometheus.NewDesc("corkboard_pebble_block_cache_misses_total", "Pebble block cache misses since the store opened.", nil, nil),
}

type pebbleCollector func() (storage.PebbleStats, error)

func (c pebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	d := pebbleDescs
	for _, x := range []*prometheus.Desc{d.disk, d.compactions, d.debt, d.running, d.flushes, d.memtable, d.readAmp, d.wal, d.cache, d.hits, d.misses} {
		ch <- x
	}
}

func (c pebbleCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c()
	if err != nil {
		return
	}
	d := pebbleDescs
	g := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	n := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v)
	}
	g(d.disk, float64(s.DiskUsageBytes))
	n(d.compactions, float64(s.Compactions))
	g(d.debt, float64(s.CompactionDebtBytes))
	g(d.running, float64(s.CompactionsRunning))
	n(d.flushes, float64(s.Flushes))
	g(d.memtable, float64(s.MemTableBytes))
	g(d.readAmp, float64(s.ReadAmplification))
	n(d.wal, float64(s.WALWrittenBytes))
	g(d.cache, float64(s.BlockCacheBytes))
	n(d.hits, float64(s.BlockCacheHits))
	n(d.misses, float64(s.BlockCacheMisses))
}

// WatchPeers exports the number of other nodes heard from.
func (m *Metrics) WatchPeers(read func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "corkboard_cluster_peers", Help: "Other nodes heard from recently (heartbeats)."},
		func() float64 { return float64(read()) }))
}

// NotifyFailures returns the hook that counts a member's notification
// e-mail that failed in a notifier pass, by reason (notify.FailReasons,
// whose series exist from the start, at 0).
func (m *Metrics) NotifyFailures(reasons ...string) func(reason string) {
	for _, r := range reasons {
		m.notifyFailed.WithLabelValues(r)
	}
	return func(reason string) { m.notifyFailed.WithLabelValues(reason).Inc() }
}

// Rejected counts refusals made outside rooms (rate limits, bad frames).
func (m *Metrics) Rejected(code protocol.Code) { m.rejected.WithLabelValues(string(code)).Inc() }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
