// Command webhookfanout measures the webhook worst case of a node: boards
// with the most webhooks allowed, every one pointing at a receiver that
// accepts the connection and never answers (a black hole), and a steady
// stream of changes on every board. Meanwhile it asks for a sign-in e-mail
// every interval and times its arrival at a real SMTP server (in process,
// package smtptest). It reports the e-mail latency, the webhook calls held
// open, and what the node holds for it: goroutines, heap in use after a
// GC, outbox items pending and dropped. It prints one RESULT line.
//
// Everything runs in this process, on loopback: the node (Pebble in a
// temporary directory, embedded NATS), the SMTP server, the black holes
// (one per address 127.0.0.2, 127.0.0.3, ...: each a destination of its
// own, the worst case for the webhook lane) and the clients. Every phase
// has a time limit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corkboard/corkboard/bench/internal/nodeapi"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/client"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/webhook"
)

func main() {
	boards := flag.Int("boards", 5, "boards, each with -hooks webhooks")
	hooks := flag.Int("hooks", 10, "webhooks per board (the node's default cap is 10)")
	rate := flag.Float64("rate", 20, "changes per second per board")
	duration := flag.Duration("duration", 30*time.Second, "how long changes flow")
	every := flag.Duration("mail-every", time.Second, "how often a sign-in e-mail is requested")
	maxPending := flag.Int("max-pending", 0, "webhook deliveries that may wait per board (0: the node's default, 1000)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "webhookfanout:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*boards, *hooks, *rate, *duration, *every, *maxPending); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "webhookfanout:", err)
		os.Exit(1)
	}
}

// holes are the black holes: they read what they get and never answer.
type holes struct {
	urls  []string
	lns   []net.Listener
	open  atomic.Int64
	total atomic.Int64
	most  atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
}

func newHoles(n int) (*holes, error) {
	h := &holes{}
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+2))
		if err != nil {
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, err
			}
		}
		h.lns = append(h.lns, ln)
		h.urls = append(h.urls, "http://"+ln.Addr().String()+"/hook")
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				h.mu.Lock()
				h.conns = append(h.conns, c)
				h.mu.Unlock()
				h.total.Add(1)
				if o := h.open.Add(1); o > h.most.Load() {
					h.most.Store(o)
				}
				go func() {
					io.Copy(io.Discard, c)
					h.open.Add(-1)
				}()
			}
		}()
	}
	return h, nil
}

func (h *holes) close() {
	for _, ln := range h.lns {
		ln.Close()
	}
	h.mu.Lock()
	for _, c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
}

// held returns the goroutines and the heap in use after a GC.
func held() (int, float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), float64(ms.HeapInuse) / (1 << 20)
}

func run(nBoards, nHooks int, rate float64, duration, every time.Duration, maxPending int) error {
	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Minute)
	defer cancel()
	smtp, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		return err
	}
	defer smtp.Close()
	h, err := newHoles(nHooks)
	if err != nil {
		return err
	}
	defer h.close()
	dir, err := os.MkdirTemp("", "webhookfanout")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.New(node.Config{Addr: "127.0.0.1:0", DataDir: dir, Log: quiet, NotifyInterval: -1,
		Mail:          node.MailConfig{SMTP: mail.SMTPConfig{Addr: smtp.Addr(), TLS: "none"}},
		WebhookClient: webhook.PrivateClient(0), // the black holes are on loopback
		Webhooks:      node.WebhookLimits{MaxPerBoard: nHooks, MaxPending: maxPending}})
	if err != nil {
		return err
	}
	addr, err := n.Listen()
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve() }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		n.Shutdown(sctx)
		<-served
	}()
	base := "http://" + addr.(*net.TCPAddr).String()
	api := nodeapi.New(base)

	var bs []nodeapi.Board
	var clients []*client.Client
	for i := range nBoards {
		b, err := api.CreateBoard(ctx, fmt.Sprintf("fanout-%d", i))
		if err != nil {
			return err
		}
		bs = append(bs, b)
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, client.Options{URL: api.WSURL(b), Replica: crdt.ReplicaID(0x5000 + i)})
		dcancel()
		if err != nil {
			return err
		}
		defer c.Close()
		clients = append(clients, c)
	}
	g0, heap0 := held()
	for _, b := range bs {
		for _, u := range h.urls {
			if err := post(ctx, api, "/v1/boards/"+b.ID+"/webhooks", b.Token, map[string]any{"url": u}, 201); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(os.Stderr, "%d boards × %d webhooks to black holes, %.0f changes/s a board for %v\n", nBoards, nHooks, rate, duration)

	// The writers.
	stop := make(chan struct{})
	var changes atomic.Int64
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				var id crdt.ElementID
				copy(id[:], fmt.Sprintf("b%02d-%012d", i, k))
				_, err := c.Edit(ctx, time.Now().UnixMilli(), func(tx *crdt.Tx) error {
					if err := tx.Create(id, "note"); err != nil {
						return err
					}
					return tx.InsertText(id, "text", 0, "into the void")
				})
				if err == nil {
					changes.Add(1)
				}
			}
		})
	}

	// The sign-in e-mails, one at a time, each from a loopback address of
	// its own (the node limits sign-ins per address).
	var lat []time.Duration
	var lost int
	end := time.Now().Add(duration)
	for k := 0; time.Now().Before(end); k++ {
		before := len(smtp.Messages())
		start := time.Now()
		if err := signIn(ctx, base, fmt.Sprintf("user%d@example.com", k), k); err != nil {
			close(stop)
			return err
		}
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := smtp.Wait(wctx, before+1)
		wcancel()
		if err != nil {
			lost++
		} else {
			lat = append(lat, time.Since(start))
		}
		time.Sleep(max(0, every-time.Since(start)))
	}
	close(stop)
	wg.Wait()
	g1, heap1 := held()
	m, _ := api.Scrape(ctx)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return -1
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("RESULT boards=%d hooks_per_board=%d changes=%d mails=%d mails_lost=%d mail_p50_ms=%.1f mail_p99_ms=%.1f mail_max_ms=%.1f "+
		"hook_calls_open=%d hook_calls_most=%d hook_calls_total=%d goroutines_held=%d heap_held_mb=%.1f outbox_pending=%.0f outbox_dropped=%.0f\n",
		nBoards, nHooks, changes.Load(), len(lat), lost, q(0.5), q(0.99), q(1),
		h.open.Load(), h.most.Load(), h.total.Load(), g1-g0, heap1-heap0, m["corkboard_outbox_pending"], m["corkboard_outbox_dropped_total"])
	return nil
}

// post sends a JSON POST with the owner's token and checks the status.
func post(ctx context.Context, api *nodeapi.Client, path, token string, body any, want int) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", api.Base+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := api.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
	}
	return nil
}

// signIn asks for a sign-in e-mail from loopback address 127.0.1.x, a new
// one every ten requests.
func signIn(ctx context.Context, base, email string, k int) error {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+k/10))}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: local}).DialContext, DisableKeepAlives: true}}
	b, _ := json.Marshal(map[string]string{"email": email})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/signin", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != 202 {
		return fmt.Errorf("sign-in: %s: %s", resp.Status, msg)
	}
	return nil
}
