package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// TestWebhooks: a board's webhook gets signed deliveries from the durable
// outbox, one per event class (element, comment, vote) for changes made
// within one debounce window.
func TestWebhooks(t *testing.T) {
	type delivery struct {
		event, id string
		body      map[string]any
		sigErr    error
	}
	got := make(chan delivery, 64)
	var secret string
	ready := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(b, &body)
		got <- delivery{r.Header.Get("Corkboard-Event"), r.Header.Get("Corkboard-Delivery"), body,
			webhook.Verify(secret, r.Header.Get("Corkboard-Signature"), b, time.Now(), 5*time.Minute)}
		w.WriteHeader(204)
	}))
	defer recv.Close()
	// The outbox runs by itself here: deliveries are due at once, and the
	// receiver's channel is the signal.
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0) // the receiver is on loopback
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "hooks"})["board"].(map[string]any)["id"].(string)
	wh := e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL + "/hook"})["webhook"].(map[string]any)
	secret = wh["secret"].(string)
	close(ready)
	if list := e.must(200, "GET", "/v1/boards/"+board+"/webhooks", owner, nil)["webhooks"].([]any); len(list) != 1 || list[0].(map[string]any)["secret"] != nil {
		t.Fatalf("webhook list shows secrets or lacks the hook: %v", list)
	}
	if code, _ := e.call("POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": "ftp://x"}); code != 400 {
		t.Fatalf("a non-http webhook: %d", code)
	}

	c := e.dial(board, owner, 0x7001)
	note := newID("hooked")
	uid := e.userID(owner)
	mustEdit(t, c, e.clk.Now(), noteTx(note, "hello"))
	mustEdit(t, c, e.clk.Now(), commentTx(newID("hooked-c"), note, uid, "a comment"))
	mustEdit(t, c, e.clk.Now(), voteTx(note, uid, 1))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := map[string]int{}
	ids := map[string]bool{}
	for len(events) < 3 {
		select {
		case d := <-got:
			if d.sigErr != nil {
				t.Fatalf("bad signature on %s: %v", d.event, d.sigErr)
			}
			if ids[d.id] {
				t.Fatalf("delivery %s twice", d.id)
			}
			if d.body["board"] != board || d.body["event"] != d.event || d.body["id"] != d.id {
				t.Fatalf("delivery body %v", d.body)
			}
			ids[d.id] = true
			events[d.event]++
		case <-ctx.Done():
			t.Fatalf("deliveries so far: %v", events)
		}
	}
	if events["element"] != 1 || events["comment"] != 1 || events["vote"] != 1 {
		t.Fatalf("deliveries by event: %v", events)
	}
}

// A webhook added with "format": "standard" gets a "whsec_" secret and
// Standard Webhooks headers, which its receiver verifies; a format that is
// neither is refused with 400.
func TestStandardWebhook(t *testing.T) {
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), b}
		w.WriteHeader(204)
	}))
	defer recv.Close()
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0)
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "standard hooks"})["board"].(map[string]any)["id"].(string)
	if code, body := e.call("POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL, "format": "svix"}); code != 400 || !strings.Contains(fmt.Sprint(body), "format") {
		t.Fatalf("unknown format: %d %s", code, body)
	}
	wh := e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL, "format": "standard", "events": []string{"element"}})["webhook"].(map[string]any)
	secret, _ := wh["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || wh["format"] != "standard" {
		t.Fatalf("standard webhook %v", wh)
	}
	if list := e.must(200, "GET", "/v1/boards/"+board+"/webhooks", owner, nil)["webhooks"].([]any); len(list) != 1 || list[0].(map[string]any)["format"] != "standard" || list[0].(map[string]any)["secret"] != nil {
		t.Fatalf("list %v", list)
	}
	c := e.dial(board, owner, 0x7101)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("std"), "hello"))
	select {
	case d := <-got:
		if err := webhook.VerifyStandard(secret, d.header, d.body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("verify: %v (headers %v)", err, d.header)
		}
		var body map[string]any
		json.Unmarshal(d.body, &body)
		if d.header.Get("Webhook-Id") != body["id"] || d.header.Get("Corkboard-Signature") != "" || d.header.Get("Corkboard-Event") != "element" {
			t.Fatalf("headers %v body %s", d.header, d.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
}

// blackHoles are loopback HTTP endpoints that accept a connection, read
// the request and never answer: receivers that hang. Each listens on an
// address of its own (127.0.0.2, 127.0.0.3, ... where the system routes
// them, as Linux does), so each is a destination of its own for the
// outbox. Close ends every connection.
type blackHoles struct {
	urls     []string
	lns      []net.Listener
	accepted chan struct{} // one value per connection accepted
	mu       sync.Mutex
	open     int // connections open now
	maxOpen  int // the most open at once
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newBlackHoles(t *testing.T, n int) *blackHoles {
	t.Helper()
	b := &blackHoles{accepted: make(chan struct{}, 1024)}
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+2))
		if err != nil {
			t.Logf("no 127.0.0.%d here (%v): one loopback address for all", i+2, err)
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
		}
		b.lns = append(b.lns, ln)
		b.urls = append(b.urls, "http://"+ln.Addr().String()+"/hook")
		b.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b.mu.Lock()
				b.conns = append(b.conns, c)
				b.open++
				b.maxOpen = max(b.maxOpen, b.open)
				b.mu.Unlock()
				b.accepted <- struct{}{}
				b.wg.Go(func() {
					io.Copy(io.Discard, c) // until the caller gives up
					b.mu.Lock()
					b.open--
					b.mu.Unlock()
				})
			}
		})
	}
	t.Cleanup(b.Close)
	return b
}

func (b *blackHoles) Close() {
	for _, ln := range b.lns {
		ln.Close()
	}
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *blackHoles) most() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxOpen
}

// Finding 9: twenty webhooks pointing at receivers that never answer must
// not delay a sign-in e-mail. They used to share the outbox's four slots
// with mail, so the e-mail waited behind every hung call (8 minutes in
// the report); now e-mail has a lane of its own, and the webhook lane
// holds at most its concurrency in calls.
func TestWebhooksDoNotStarveMail(t *testing.T) {
	holes := newBlackHoles(t, 20)
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.Now = time.Now // the outbox runs by itself, on the real clock
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0)
		c.Webhooks.MaxPerBoard = 20
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "black holes"})["board"].(map[string]any)["id"].(string)
	for _, u := range holes.urls {
		e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": u})
	}
	c := e.dial(board, owner, 0x7101)
	for i := range 5 {
		mustEdit(t, c, time.Now(), noteTx(newID(fmt.Sprintf("hole-%d", i)), "into the void"))
	}
	// The webhook calls are stuck: at least two receivers hold one each.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 2 {
		select {
		case <-holes.accepted:
		case <-ctx.Done():
			t.Fatal("no webhook call reached the black holes")
		}
	}
	before := len(e.smtp.Messages())
	start := time.Now()
	e.must(202, "POST", "/v1/signin", "", map[string]any{"email": "late@example.com"})
	// Generous: a prompt delivery takes milliseconds, the old queue
	// minutes (every hung call holds its slot for the 10 s timeout).
	mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer mcancel()
	msgs, err := e.smtp.Wait(mctx, before+1)
	if err != nil {
		t.Fatalf("the sign-in e-mail did not arrive while webhooks hang: %v", err)
	}
	if len(to(msgs[before:], "late@example.com")) != 1 {
		t.Fatalf("e-mails after the sign-in request: %d, none to late@example.com", len(msgs)-before)
	}
	t.Logf("sign-in e-mail delivered %v after the request, webhooks stuck", time.Since(start).Round(time.Millisecond))
	if most, lane := holes.most(), 8; most > lane {
		t.Fatalf("%d webhook calls open at once, the lane has %d slots", most, lane)
	}
}

// A board has at most Webhooks.MaxPerBoard webhooks, also when the
// requests come at once; past it the answer is 409 with a JSON error.
func TestWebhookCap(t *testing.T) {
	e := newAsyncEnv(t, time.Now())
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "capped"})["board"].(map[string]any)["id"].(string)
	hooks := "/v1/boards/" + board + "/webhooks"
	var wg sync.WaitGroup
	codes := make(chan int, 15)
	for i := range 15 {
		wg.Go(func() {
			code, _ := e.call("POST", hooks, owner, map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i)})
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for c := range codes {
		byCode[c]++
	}
	if byCode[201] != 10 || byCode[409] != 5 {
		t.Fatalf("15 parallel creations answered %v, want 10×201 and 5×409", byCode)
	}
	code, body := e.call("POST", hooks, owner, map[string]any{"url": "https://hooks.example.com/one-more"})
	errObj, _ := body["error"].(map[string]any)
	if code != 409 || errObj["code"] != "too_large" || !strings.Contains(errObj["message"].(string), "at most 10") {
		t.Fatalf("the 11th webhook: %d %v", code, body)
	}
	list := e.must(200, "GET", hooks, owner, nil)["webhooks"].([]any)
	if len(list) != 10 {
		t.Fatalf("%d webhooks stored, want 10", len(list))
	}
	// Deleting one makes room for one.
	e.must(204, "DELETE", hooks+"/"+list[0].(map[string]any)["id"].(string), owner, nil)
	e.must(201, "POST", hooks, owner, map[string]any{"url": "https://hooks.example.com/again"})
	if code, _ := e.call("POST", hooks, owner, map[string]any{"url": "https://hooks.example.com/over"}); code != 409 {
		t.Fatalf("over the cap again: %d", code)
	}
}

// A hundred changes in a burst reach a webhook as a few deliveries that
// together describe all hundred, not as a hundred POSTs.
func TestWebhookDebounce(t *testing.T) {
	type delivery struct {
		id      string
		changes int
		events  []any
	}
	got := make(chan delivery, 256)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID      string `json:"id"`
			Changes int    `json:"changes"`
			Events  []any  `json:"events"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		got <- delivery{body.ID, body.Changes, body.Events}
		w.WriteHeader(204)
	}))
	defer recv.Close()
	const window = 2 * time.Second
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0)
		c.Webhooks.Debounce = window
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "busy"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL, "events": []string{"element"}})
	c := e.dial(board, owner, 0x7201)
	const n = 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var seqs []uint64
	for i := range n {
		seq, err := c.Edit(ctx, e.clk.Now().UnixMilli(), noteTx(newID(fmt.Sprintf("burst-%03d", i)), "note"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	for _, s := range seqs {
		if err := c.WaitAck(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	posts, changes := 0, 0
	elements := map[string]bool{}
	for changes < n {
		select {
		case d := <-got:
			posts++
			changes += d.changes
			for _, ev := range d.events {
				elements[ev.(map[string]any)["element"].(string)] = true
			}
		case <-ctx.Done():
			t.Fatalf("%d POSTs carried %d of %d changes", posts, changes, n)
		}
	}
	// One window from the first change, and one more per window the burst
	// lasted.
	limit := 1 + int(took/window) + 1
	t.Logf("%d changes in %v reached the webhook in %d POSTs (limit %d)", n, took.Round(time.Millisecond), posts, limit)
	if changes != n || len(elements) != n || posts > limit {
		t.Fatalf("%d POSTs carried %d changes about %d elements; want all %d in at most %d POSTs", posts, changes, len(elements), n, limit)
	}
}

// A board's deliveries waiting in the outbox are capped: past
// Webhooks.MaxPending the oldest are dropped and counted, so a receiver
// that is down cannot grow the store without bound.
func TestWebhookBacklogBounded(t *testing.T) {
	const maxPending = 5
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.Webhooks.MaxPending = maxPending
		c.Webhooks.Debounce = -1 // a delivery per accepted batch: many items fast
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "backlog"})["board"].(map[string]any)["id"].(string)
	// The outbox is manual here and never run again: every delivery waits.
	e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": "https://hooks.example.com/down"})
	c := e.dial(board, owner, 0x7301)
	const n = 20
	for i := range n {
		mustEdit(t, c, e.clk.Now(), noteTx(newID(fmt.Sprintf("backlog-%02d", i)), "note"))
	}
	// The worker runs apart from the edits: wait for its count.
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, e.tn, `corkboard_outbox_dropped_total{kind="webhook"}`) != fmt.Sprint(n-maxPending) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %s, pending %s; want %d dropped", metric(t, e.tn, `corkboard_outbox_dropped_total{kind="webhook"}`),
				metric(t, e.tn, `corkboard_outbox_pending{kind="webhook"}`), n-maxPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := metric(t, e.tn, `corkboard_outbox_pending{kind="webhook"}`); p != fmt.Sprint(maxPending) {
		t.Fatalf("pending %s, want %d", p, maxPending)
	}
}

// A node's default webhook client calls public addresses only: a webhook
// to loopback (a service on the node's own machine) is refused for good,
// the receiver never called. Tests that want loopback receivers opt in
// with webhook.PrivateClient.
func TestWebhookDefaultClientRefusesLoopback(t *testing.T) {
	called := make(chan struct{}, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called <- struct{}{}
		w.WriteHeader(204)
	}))
	defer recv.Close()
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) { c.Webhooks.Debounce = -1 })
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "internal"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL + "/admin"})
	c := e.dial(board, owner, 0x7401)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("internal"), "note"))
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, e.tn, `corkboard_outbox_pending{kind="webhook"}`) == "0" {
		if time.Now().After(deadline) {
			t.Fatal("the delivery was never queued")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.deliver()
	if d := metric(t, e.tn, `corkboard_outbox_dead_letters{kind="webhook"}`); d != "1" {
		t.Fatalf("dead letters %s, want the loopback delivery refused for good", d)
	}
	select {
	case <-called:
		t.Fatal("the default client called a loopback webhook")
	default:
	}
}

// A window describes at most Webhooks.MaxBatch changes; the delivery says
// it was truncated and its seq range still covers every change.
func TestWebhookBatchTruncated(t *testing.T) {
	type delivery struct {
		Changes   int      `json:"changes"`
		Truncated bool     `json:"truncated"`
		Seq       []uint64 `json:"seq"`
	}
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		json.NewDecoder(r.Body).Decode(&d)
		got <- d
		w.WriteHeader(204)
	}))
	defer recv.Close()
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0)
		c.Webhooks.Debounce = 5 * time.Second // the burst below takes milliseconds
		c.Webhooks.MaxBatch = 10
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "truncated"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL, "events": []string{"element"}})
	c := e.dial(board, owner, 0x7501)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 30
	var last uint64
	for i := range n {
		seq, err := c.Edit(ctx, e.clk.Now().UnixMilli(), noteTx(newID(fmt.Sprintf("trunc-%02d", i)), "note"))
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := c.WaitAck(ctx, last); err != nil {
		t.Fatal(err)
	}
	covered := 0
	for covered < n {
		select {
		case d := <-got:
			if len(d.Seq) != 2 || d.Seq[1] < d.Seq[0] {
				t.Fatalf("seq %v", d.Seq)
			}
			span := int(d.Seq[1]-d.Seq[0]) + 1
			if d.Changes > 10 || (span > 10) != d.Truncated || (d.Truncated && d.Changes != 10) {
				t.Fatalf("a delivery of %d changes over %d log positions, truncated=%v; want at most 10, truncated past 10", d.Changes, span, d.Truncated)
			}
			covered += span
		case <-ctx.Done():
			t.Fatalf("deliveries covered %d of %d changes", covered, n)
		}
	}
	if covered != n {
		t.Fatalf("deliveries covered %d log positions, want %d", covered, n)
	}
}

// Finding: a receiver that answers just before the timeout is never backed
// off, and the per-host bound is by host name, so one board's webhooks
// at a few names of one slow server held every webhook slot of the node,
// and another board's deliveries waited for them. A board's deliveries
// now hold at most Webhooks.PerBoard slots at once, whatever their hosts.
func TestWebhookSlotsPerBoard(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var mu sync.Mutex
	inFlight, most := 0, 0
	entered := make(chan struct{}, 64)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.WriteHeader(204)
	})
	// Five host names of one slow service: 127.0.0.2 to 127.0.0.6.
	var slowURLs []string
	for i := range 5 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+2))
		if err != nil {
			t.Skipf("no 127.0.0.%d here: %v", i+2, err)
		}
		srv := httptest.NewUnstartedServer(slow)
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		slowURLs = append(slowURLs, srv.URL+"/hook")
	}
	prompt := make(chan string, 16)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prompt <- r.Header.Get("Corkboard-Delivery")
		w.WriteHeader(204)
	}))
	t.Cleanup(fast.Close)
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0)
		c.Webhooks.Debounce = -1       // a delivery per accepted batch
		c.Webhooks.Timeout = time.Hour // the slow calls end only when released
	})
	t.Cleanup(free) // first of the cleanups: the receivers' handlers return
	attacker := e.signIn("attacker@example.com")
	slowBoard := e.must(201, "POST", "/v1/boards", attacker, map[string]any{"name": "slow"})["board"].(map[string]any)["id"].(string)
	for i := range 10 { // two webhooks on each name: ten calls, within two per host
		e.must(201, "POST", "/v1/boards/"+slowBoard+"/webhooks", attacker, map[string]any{"url": slowURLs[i%5], "events": []string{"element"}})
	}
	victim := e.signIn("victim@example.com")
	board := e.must(201, "POST", "/v1/boards", victim, map[string]any{"name": "victim"})["board"].(map[string]any)["id"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/webhooks", victim, map[string]any{"url": fast.URL, "events": []string{"element"}})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mustEdit(t, e.dial(slowBoard, attacker, 0x7601), e.clk.Now(), noteTx(newID("slow"), "note"))
	for range 2 {
		select {
		case <-entered:
		case <-ctx.Done():
			t.Fatal("the slow board's calls never reached their receivers")
		}
	}
	mustEdit(t, e.dial(board, victim, 0x7602), e.clk.Now(), noteTx(newID("victim"), "note"))
	select {
	case id := <-prompt:
		if !strings.Contains(id, board) {
			t.Fatalf("delivery %s to the victim's receiver", id)
		}
	case <-ctx.Done():
		mu.Lock()
		n := inFlight
		mu.Unlock()
		t.Fatalf("the other board's delivery waited while the slow board's %d calls held the slots", n)
	}
	mu.Lock()
	m := most
	mu.Unlock()
	if m != 2 {
		t.Fatalf("%d of the slow board's calls at once, want Webhooks.PerBoard = 2", m)
	}
	free()
}

// Finding: a deleted webhook was only marked deleted, so looping create
// and delete (the cap counts live webhooks) left a record per cycle in
// the cluster's account records for good, each listed under the node's
// record lock by every later creation. The record is deleted now, and a
// board's creations are rate-limited: past 30 an hour, 429.
func TestWebhookCreateDeleteBounded(t *testing.T) {
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the node stops
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) { c.Store = st })
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "churn"})["board"].(map[string]any)["id"].(string)
	hooks := "/v1/boards/" + board + "/webhooks"
	created, limited := 0, 0
	for i := range 40 {
		code, body := e.call("POST", hooks, owner, map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i)})
		switch code {
		case 201:
			created++
			e.must(204, "DELETE", hooks+"/"+body["webhook"].(map[string]any)["id"].(string), owner, nil)
		case 429:
			if errObj, _ := body["error"].(map[string]any); errObj["code"] != "rate_limited" {
				t.Fatalf("429 with %v", body)
			}
			limited++
		default:
			t.Fatalf("creation %d: %d %v", i, code, body)
		}
	}
	if created != 30 || limited != 10 {
		t.Fatalf("40 creations: %d created, %d refused; want 30 and 10 (429)", created, limited)
	}
	id, err := storage.ParseBoardID(board)
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	st.ScanMeta(context.Background(), account.NSWebhook, id[:], func(_, _ []byte) error { records++; return nil })
	if records != 0 {
		t.Fatalf("%d webhook records left by %d created and deleted webhooks, want none", records, created)
	}
	if list := e.must(200, "GET", hooks, owner, nil)["webhooks"].([]any); len(list) != 0 {
		t.Fatalf("webhooks listed after deleting them all: %v", list)
	}
}
