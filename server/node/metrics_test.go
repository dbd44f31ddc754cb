package node_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// families reads /metrics and returns each family's type ("counter",
// "gauge", "histogram"...) by name, and every series line.
func families(t *testing.T, tn *testNode) (types map[string]string, series []string) {
	t.Helper()
	code, body := tn.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	types = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			types[f[0]] = f[1]
		} else if line != "" && line[0] != '#' {
			series = append(series, line)
		}
	}
	return types, series
}

// exercise makes a node serve every family the dashboard reads: a change
// accepted (commit, fan-out, WebSocket bytes), one refused, REST requests.
func exercise(t *testing.T, tn *testNode) {
	t.Helper()
	b := tn.createBoard(`{"name":"metrics"}`)
	c := dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	ctx := ctx10(t)
	seq, err := c.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	raw := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 2, nil)
	raw.write(websocket.MessageText, []byte(`{"type":"ops","seq":1,"changes":[`))
	raw.expectError(protocol.CodeMalformed)
	tn.state(b.Board.ID, b.Token)
	tn.get("/healthz")
}

// Requests are counted and timed by route pattern, never by raw path: a
// board's id, an unknown path or a path of the web client's files never
// becomes a label value; what no route matched is route="other". The
// WebSocket route is counted but not timed (its handler lasts the
// session). corkboard_build_info and Pebble's metrics are served.
func TestMetricsHTTPRoutesBounded(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"routes"}`)
	_ = dial(t, tn.wsURL(b.Board.ID, b.Token), 1)
	tn.state(b.Board.ID, b.Token)
	for _, p := range []string{"/no/such/path-7f3a9", "/v1/boards/zz-not-a-board-91c2/state", "/index.html", "/healthz"} {
		tn.get(p)
	}
	types, series := families(t, tn)
	all := strings.Join(series, "\n")
	for _, leak := range []string{b.Board.ID, "path-7f3a9", "zz-not-a-board-91c2", "index.html"} {
		if strings.Contains(all, leak) {
			t.Errorf("a raw path (%q) became a label value", leak)
		}
	}
	count := func(re string) float64 {
		t.Helper()
		var sum float64
		for _, s := range series {
			if m := regexp.MustCompile(`^` + re + ` (\S+)$`).FindStringSubmatch(s); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				sum += v
			}
		}
		return sum
	}
	if n := count(regexp.QuoteMeta(`corkboard_http_request_duration_seconds_count{route="GET /v1/boards/{board}/state"}`)); n < 2 {
		t.Errorf("state requests timed: %v, want at least 2 (the board's and the unknown board's)", n)
	}
	if n := count(regexp.QuoteMeta(`corkboard_http_request_duration_seconds_count{route="other"}`)); n < 2 {
		t.Errorf("requests timed as other: %v, want at least 2", n)
	}
	if n := count(regexp.QuoteMeta(`corkboard_http_requests_total{route="GET /v1/boards/{board}/ws",status="1xx"}`)); n != 1 {
		t.Errorf("WebSocket upgrades counted: %v, want 1", n)
	}
	if n := count(regexp.QuoteMeta(`corkboard_http_request_duration_seconds_count{route="GET /v1/boards/{board}/ws"}`)); n != 0 {
		t.Errorf("WebSocket sessions timed: %v, want none", n)
	}
	if n := count(regexp.QuoteMeta(`corkboard_http_request_duration_seconds_bucket{route="GET /healthz",le="10"}`)); n < 1 {
		t.Errorf("no 10 s bucket for /healthz")
	}
	if n := count(`corkboard_build_info\{goversion="go[^"]+",revision="[^"]+",version="[^"]+"\}`); n != 1 {
		t.Errorf("corkboard_build_info: %v", n)
	}
	if n := count(`corkboard_pebble_disk_usage_bytes`); n <= 0 {
		t.Errorf("Pebble disk usage %v, want > 0", n)
	}
	for _, name := range []string{"corkboard_pebble_compactions_total", "corkboard_pebble_wal_written_bytes_total", "corkboard_pebble_read_amplification"} {
		if types[name] == "" {
			t.Errorf("%s not served", name)
		}
	}
	if n := count(`corkboard_pebble_wal_written_bytes_total`); n <= 0 {
		t.Errorf("WAL bytes written %v after a change, want > 0", n)
	}
}

// promName is a metric name in a PromQL expression: corkboard_ then
// lower-case words (label names and values are not read: the expression's
// braces and quotes are skipped by the caller).
var promName = regexp.MustCompile(`\bcorkboard_[a-z0-9_]+`)

// dashboardNames returns the corkboard_* names in every "expr" of the
// Grafana dashboard (panels, rows, templating), with label matchers and
// strings removed first so that a label value cannot pass for a name.
func dashboardNames(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	braces := regexp.MustCompile(`\{[^}]*\}|"[^"]*"`)
	seen := map[string]bool{}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			if key == "expr" || key == "query" || key == "definition" {
				for _, n := range promName.FindAllString(braces.ReplaceAllString(v, ""), -1) {
					seen[n] = true
				}
			}
		}
	}
	walk(doc, "")
	return slices.Sorted(func(yield func(string) bool) {
		for n := range seen {
			if !yield(n) {
				return
			}
		}
	})
}

// Every metric the Grafana dashboard (docs/grafana-dashboard.json) queries
// is served by a real node: a name, or a histogram's _bucket, _sum or
// _count. A renamed metric breaks this test, not an operator's dashboard.
func TestGrafanaDashboardMetricsServed(t *testing.T) {
	names := dashboardNames(t, "../../docs/grafana-dashboard.json")
	if len(names) < 30 {
		t.Fatalf("the dashboard queries %d corkboard metrics (%v): is it read right?", len(names), names)
	}
	tn := startNode(t, nil)
	exercise(t, tn)
	types, _ := families(t, tn)
	for _, n := range names {
		if types[n] != "" {
			continue
		}
		ok := false
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(n, suffix); cut && (types[base] == "histogram" || types[base] == "summary") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("the dashboard queries %s, which the node does not serve", n)
		}
	}
}

// The test above reads names as it should: a name that is not served, in
// a dashboard like the real one, is reported; names inside label matchers
// are not taken for metrics.
func TestDashboardNamesParse(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/d.json"
	os.WriteFile(file, []byte(`{"panels":[{"targets":[{"expr":"sum by (le) (rate(corkboard_commit_seconds_bucket{job=\"corkboard_x\"}[5m])) / corkboard_no_such_total"}]},
		{"panels":[{"targets":[{"expr":"corkboard_rooms"}]}]}],"templating":{"list":[{"query":{"query":"label_values(corkboard_build_info, instance)"}}]}}`), 0o644)
	got := dashboardNames(t, file)
	want := []string{"corkboard_build_info", "corkboard_commit_seconds_bucket", "corkboard_no_such_total", "corkboard_rooms"}
	if !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}

// Anti-entropy is counted on both sides: a node cut off while changes are
// made elsewhere asks (requests), gets them (received) from the node that
// sends them (sent).
func TestAntiEntropyMetrics(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{5}, 32)
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) {
			c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb
			c.Room.SyncInterval = 20 * time.Millisecond
		})
	}
	a, b := mk("a"), mk("b")
	board := a.createBoard(`{"name":"anti-entropy"}`)
	id, tok := board.Board.ID, board.Token
	ca := dial(t, a.wsURL(id, tok), 1)
	cb := dial(t, b.wsURL(id, tok), 2)
	ctx := ctx10(t)
	hub.Cut("b", true)
	var last uint64
	for i := range 10 {
		seq, err := ca.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Create(elem(i), "note") })
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := ca.WaitAck(ctx, last); err != nil {
		t.Fatal(err)
	}
	// The ack can reach the client (written straight to its socket) before
	// the room has published the change to the other nodes: a read of the
	// board, served in a's room after that, makes sure the publish is done
	// (and dropped by the cut) before b is connected again.
	if res := a.do("GET", "/v1/boards/"+id+"/state", tok, "", nil, nil); res.status != 200 {
		t.Fatalf("state on a: %d %s", res.status, res.body)
	}
	hub.Cut("b", false)
	if err := cb.WaitDoc(ctx, func(d *crdt.Doc) bool { return d.Len() == 10 }); err != nil {
		t.Fatalf("b never caught up: %v", err)
	}
	value := func(tn *testNode, series string) float64 {
		v, _ := strconv.ParseFloat(tn.metric(series), 64)
		return v
	}
	// The hook runs once the room applied the answer, just after the
	// client may have seen it.
	pollFor(t, "anti-entropy counted", 10*time.Second, func() bool {
		return value(b, `corkboard_antientropy_changes_total{direction="received"}`) >= 10 &&
			value(a, `corkboard_antientropy_changes_total{direction="sent"}`) >= 10
	})
	for _, n := range []*testNode{a, b} {
		if v := value(n, "corkboard_antientropy_requests_total"); v < 1 {
			t.Errorf("anti-entropy rounds %v, want some", v)
		}
		if v := n.metric(`corkboard_antientropy_errors_total{reason="decode"}`); v != "0" {
			t.Errorf("decode errors %s", v)
		}
	}
}

// TestMetricsToken: /metrics told anyone on the internet how busy the
// node was (its connections, rooms, e-mails, refusals). With a metrics
// token set, it answers 401 without it or with another, and the metrics
// with it.
func TestMetricsToken(t *testing.T) {
	tn := startNode(t, func(c *node.Config) { c.MetricsToken = "scrape-me" })
	for _, auth := range []string{"", "Bearer nope", "Bearer scrape-mf", "scrape-me", "Basic scrape-me"} {
		r := tn.do("GET", "/metrics", "", "", nil, map[string]string{"Authorization": auth})
		if auth == "" {
			r = tn.do("GET", "/metrics", "", "", nil, nil)
		}
		wantError(t, "/metrics with "+strconv.Quote(auth), r, 401, "unauthorized")
		if strings.Contains(string(r.body), "corkboard_") || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("/metrics with %q: %s, WWW-Authenticate %q", auth, r.body, r.header.Get("WWW-Authenticate"))
		}
	}
	r := tn.do("GET", "/metrics", "", "", nil, map[string]string{"Authorization": "Bearer scrape-me"})
	if r.status != 200 || !strings.Contains(string(r.body), "corkboard_connections") {
		t.Fatalf("/metrics with the token: %d %.200s", r.status, r.body)
	}
}
