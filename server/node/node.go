// Package node wires one Corkboard server process together: the Pebble
// store, the NATS bus, the rooms, the WebSocket endpoint, the REST API,
// health and metrics. It is configured by a Config struct; only package main
// reads flags and the environment.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/api"
	"github.com/corkboard/corkboard/server/auth"
	"github.com/corkboard/corkboard/server/blob"
	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/gateway"
	"github.com/corkboard/corkboard/server/httpguard"
	"github.com/corkboard/corkboard/server/limit"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/metrics"
	"github.com/corkboard/corkboard/server/notify"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// DefaultSyncGather is the binary's --sync-gather: while several boards
// commit at once, the store's log is fsynced at most every 5 ms, and each
// fsync serves the appends asked for meanwhile (storage.walGather; a
// board committing alone is synced at once, so a lone busy board and a
// quiet node never wait).
//
// 5 ms, not 1: on 200 boards of 5 people at 1,000 changes/s the node's
// CPU per change fell from 0.26-0.28 ms at 1 ms to 0.175-0.22 ms (fewer
// fsyncs, each costing the kernel about as much as a change's five
// socket writes), for 2-3 ms more ack latency under that load (p50
// 1.9 -> 4.1-4.4 ms), far below what people see on a board (bench/README.md,
// "Peers"). Rejected: 10 ms (0.17 ms per change but p50 7.5-8.4 ms and
// a tail that doubles it); a longer fan-out delay instead (it holds
// each board's deliveries, not the shared fsync).
const DefaultSyncGather = 5 * time.Millisecond

// DefaultBoardLogBytes is the op log a node keeps for one board when
// Config.Room.MaxLogBytes is 0 (the binary's --board-log-mib): 1 GiB, some
// fifty times the history of a board of 100,000 elements made one by one.
// A negative MaxLogBytes means no bound.
const DefaultBoardLogBytes = 1 << 30

// Config configures a node. Zero values take the stated defaults.
type Config struct {
	// Addr to listen on (default ":8080").
	Addr string
	// DataDir holds the Pebble store (default "./data").
	DataDir string
	// SyncGather: the least time between two fsyncs of the store's log
	// while they are shared (storage.PebbleOptions.SyncGather; zero:
	// none; the binary's --sync-gather defaults to DefaultSyncGather).
	SyncGather time.Duration
	// DiskReserve is the free space kept on DataDir's disk
	// (storage.SpaceGuard): below it, clients' new changes, pictures,
	// boards and imports are refused, to be sent again later (0:
	// storage.DefaultDiskReserve; negative: none).
	DiskReserve int64
	// MetricsToken, if set, is the bearer token GET /metrics asks for
	// (401 without it); empty: /metrics answers anyone.
	MetricsToken string
	// Space, if set, is the free-space guard used instead of one on
	// DataDir with DiskReserve (tests).
	Space *storage.SpaceGuard
	// Store, if set, is used instead of opening DataDir (tests).
	Store storage.Store
	// NodeID names this node in the cluster (default: random).
	NodeID string
	// NATS configures the bus; NATS.Node is set from NodeID. By default an
	// embedded server with no listening port.
	NATS bus.NATSConfig
	// Bus, if set, is used instead of NATS (tests).
	Bus bus.Bus
	// Meta, if set, holds the cluster's metadata instead of JetStream
	// (tests of several nodes over an in-memory Bus share one
	// meta.Memory). With Bus set and Meta nil, a node gets a Memory of
	// its own.
	Meta meta.Backend
	// MetaReplicas is how many copies the metadata buckets keep (default
	// 1; 3 for a 3-node cluster). An existing bucket keeps its own.
	MetaReplicas int
	// Secret signs tokens; nodes of a cluster must share it. Default: a
	// secret generated on first start and kept in the store (fine for one
	// node).
	Secret []byte
	// AllowedOrigins are extra Origin host patterns allowed to open
	// WebSockets (the node's own host is always allowed). Security: each
	// pattern lets pages on that origin act for a visitor who has a token.
	AllowedOrigins []string
	// PublicURL is how clients reach this node, for links (default
	// "http://localhost" + Addr).
	PublicURL string
	// Limits per connection.
	Limits Limits
	// Room tuning (snapshot interval, idle timeout...).
	Room room.Config
	Log  *slog.Logger
	// HeartbeatInterval: how often the node announces itself to the other
	// nodes (default 2s); a peer silent for three intervals is gone.
	HeartbeatInterval time.Duration
	// Now is the clock (default time.Now).
	Now            func() time.Time
	publicFromAddr bool // PublicURL was derived from Addr (fixed up by Listen)

	// Mail configures outgoing e-mail (sign-in links, invites,
	// notifications). Without an SMTP relay, e-mails are written to the log.
	Mail MailConfig
	// WebhookClient makes webhook calls (default:
	// webhook.PublicClient, which connects to public addresses only; an
	// intranet install, or a test with a loopback receiver, passes
	// webhook.PrivateClient).
	WebhookClient *http.Client
	// Webhooks bound what webhooks cost (see WebhookLimits).
	Webhooks WebhookLimits
	// NotifyInterval: how often the leading node checks what
	// notifications are due (default 1 minute; negative: never, tests
	// call RunNotifications).
	NotifyInterval time.Duration
	// OutboxManual: the outbox delivers only when RunOutbox is called
	// (tests with a fake clock).
	OutboxManual bool

	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed: a request from one of them is counted
	// under the client address it names (httpguard.ClientIP). Default: none; every
	// request is its peer's.
	TrustedProxies []string
	// HTTP bounds the HTTP server's connections (timeouts, WebSockets
	// per address).
	HTTP HTTPLimits
	// Quotas bound what anonymous and signed-in people may store.
	Quotas Quotas
}

// WebhookLimits bound what a board's webhooks may cost the node (package
// notify).
type WebhookLimits = notify.WebhookLimits

// Quotas bound what anonymous and signed-in people may store (package
// api).
type Quotas = api.Quotas

// MailConfig configures e-mail.
type MailConfig struct {
	// From is the sender address (default "Corkboard <corkboard@localhost>").
	From string
	// SMTP relay; an empty Addr means no relay: e-mails are logged.
	SMTP mail.SMTPConfig
}

// Limits bound what one connection may do (package gateway).
type Limits = gateway.Limits

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.NodeID == "" {
		c.NodeID = auth.RandomID(6)
	}
	if c.PublicURL == "" {
		c.publicFromAddr = true
		host := c.Addr
		if h, p, err := net.SplitHostPort(c.Addr); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
			host = "localhost:" + p
		}
		c.PublicURL = "http://" + host
	}
	c.Limits.Defaults()
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 2 * time.Second
	}
	if c.Mail.From == "" {
		c.Mail.From = "Corkboard <corkboard@localhost>"
	}
	if c.Mail.SMTP.From == "" {
		c.Mail.SMTP.From = c.Mail.From
	}
	c.Webhooks.Defaults()
	if c.WebhookClient == nil {
		c.WebhookClient = webhook.PublicClient(c.Webhooks.Timeout)
	}
	if c.NotifyInterval == 0 {
		c.NotifyInterval = time.Minute
	}
	c.HTTP.defaults()
	c.Quotas.Defaults()
}

// Node is one running server.
type Node struct {
	cfg     Config
	log     *slog.Logger
	store   storage.Store
	bus     bus.Bus
	rooms   *room.Manager
	metrics *metrics.Metrics
	signer  *auth.Signer
	http    *http.Server
	ln      net.Listener
	ownBus  bool
	ownDB   bool
	space   *storage.SpaceGuard // nil: no reserve

	gw       *gateway.Gateway // the WebSocket side
	blobs    *blob.Store      // the boards' images
	mu       sync.Mutex
	draining bool
	meta     *meta.Store
	jsTemp   string     // a JetStream directory of a node given its Store (tests), removed at shutdown
	recMu    sync.Mutex // serialises a count over records and a write on this node (records.Lock)
	unsubs   []func()   // bus subscriptions of the node itself
	patterns []string   // the routes (Routes)
	cluster  membership

	limits *limit.Limiter
	guard  *httpguard.Guard // client addresses, cross-site writes
	access *access.Checker  // who is asking, with which role
	outbox *outbox.Outbox
	notes  *notify.Notifier // notifications and webhook deliveries
	api    *api.Server      // the REST handlers
	bgStop context.CancelFunc
	bgDone sync.WaitGroup
}

// New opens the store and the bus and prepares the node; Serve starts it.
func New(cfg Config) (*Node, error) {
	cfg.defaults()
	n := &Node{cfg: cfg, log: cfg.Log.With("node", cfg.NodeID), metrics: metrics.New()}
	guard, err := httpguard.New(cfg.TrustedProxies, func() string { return n.cfg.PublicURL }, cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.guard = guard
	n.store = cfg.Store
	if n.store == nil {
		if err := privateDataDir(cfg.DataDir, n.log); err != nil {
			return nil, fmt.Errorf("node: data directory: %w", err)
		}
		st, err := storage.OpenPebble(cfg.DataDir, storage.PebbleOptions{SyncGather: cfg.SyncGather})
		if err != nil {
			return nil, fmt.Errorf("node: open store: %w", err)
		}
		n.store, n.ownDB = st, true
	}
	n.space = cfg.Space
	if n.space == nil && cfg.DiskReserve >= 0 && cfg.DataDir != "" {
		reserve := cfg.DiskReserve
		if reserve == 0 {
			reserve = storage.DefaultDiskReserve
		}
		n.space = storage.NewSpaceGuard(cfg.DataDir, reserve, 0)
	}
	if n.space != nil {
		n.space.OnChange = func(low bool, status string) {
			if low {
				n.log.Warn("the data directory's disk is below its free-space reserve: clients' new changes, pictures, boards and imports are refused until space is freed", "space", status)
			} else {
				n.log.Info("the data directory's disk has space again: clients' changes are taken", "space", status)
			}
		}
		if !n.space.Check() && n.space.Err() != nil {
			n.log.Warn("the data directory's free space cannot be read: no reserve is kept", "err", n.space.Err())
		}
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		var err error
		if secret, err = n.storedSecret(); err != nil {
			n.closeStore()
			return nil, err
		}
	}
	signer, err := auth.NewSigner(secret)
	if err != nil {
		n.closeStore()
		return nil, err
	}
	n.signer = signer
	n.bus = cfg.Bus
	if n.bus == nil {
		nc := cfg.NATS
		nc.Node = cfg.NodeID
		nc.Logger = n.log
		// Only an explicit secret is shared by the cluster: a stored
		// one is this node's alone, and the bus refuses to open ports
		// without one.
		nc.Secret = cfg.Secret
		if nc.URL == "" && nc.JetStreamDir == "" {
			// The metadata buckets' store: beside Pebble, or (a test
			// that gave its own Store) in a directory of its own.
			if n.ownDB {
				nc.JetStreamDir = filepath.Join(cfg.DataDir, "jetstream")
			} else {
				dir, err := os.MkdirTemp("", "corkboard-js-")
				if err != nil {
					n.closeStore()
					return nil, fmt.Errorf("node: %w", err)
				}
				nc.JetStreamDir, n.jsTemp = dir, dir
			}
		}
		b, err := bus.NewNATS(nc)
		if err != nil {
			n.closeStore()
			return nil, fmt.Errorf("node: %w", err)
		}
		n.bus, n.ownBus = b, true
		n.metrics.WatchBusErrors(b.Errors)
	}
	rc := cfg.Room
	rc.Node, rc.Store, rc.Bus, rc.Log = cfg.NodeID, n.store, n.bus, n.log
	switch {
	case rc.MaxLogBytes == 0:
		rc.MaxLogBytes = DefaultBoardLogBytes
	case rc.MaxLogBytes < 0:
		rc.MaxLogBytes = 0 // no bound
	}
	if rc.Now == nil {
		rc.Now = cfg.Now
	}
	rc.Hooks = n.metrics.RoomHooks()
	rc.Policy = n.roomPolicy
	rc.AuthorRole = n.authorRole
	rc.Accepted = n.onAccepted
	if n.space != nil {
		rc.SpaceLow = n.space.Low
	}
	rc.WholeRead = func(b storage.BoardID, read func() int) bool { return n.api.SpendBoardRead(b, read) }
	n.rooms = room.NewManager(rc)
	n.access = access.New(access.Config{Records: records{n}, Boards: boards{n}, Rooms: n.rooms, Signer: n.signer, Now: cfg.Now,
		Fresh: func() bool { return n.meta.Fresh() }})
	n.blobs = blob.New(blob.Config{Store: n.store, Bus: n.bus, Log: n.log, Peers: func() int { return len(n.Peers()) },
		Knows: func(ctx context.Context, board storage.BoardID) error { _, err := n.loadBoard(ctx, board); return err }})
	n.limits = limit.New(cfg.Now)
	n.limits.Share(newSharedLimits(n, secret))
	n.outbox = outbox.New(n.store, outbox.Config{Now: cfg.Now, Log: n.log.With("part", "outbox"), Lanes: cfg.Webhooks.OutboxLanes()})
	var sender mail.Sender
	if cfg.Mail.SMTP.Addr != "" {
		sender = mail.NewSMTP(cfg.Mail.SMTP)
	} else {
		sender = mail.NewLogSender(n.log.With("part", "mail"))
	}
	n.outbox.Register(mail.Kind, mail.Deliverer(sender))
	n.outbox.Register(webhook.Kind, webhook.Deliverer(cfg.WebhookClient))
	n.notes = notify.New(notify.Config{Store: n.store, Rooms: n.rooms, Outbox: n.outbox, Records: records{n}, Boards: boards{n},
		Log: n.log, Now: cfg.Now, PublicURL: func() string { return n.cfg.PublicURL }, MailFrom: cfg.Mail.From,
		MAC: n.signer.MAC, Closed: func(m *BoardMeta) bool { return n.api.Closed(m) }, Role: n.memberRole, Webhooks: cfg.Webhooks,
		Failed: n.metrics.NotifyFailures(notify.FailReasons...)})
	n.api = api.New(api.Config{Store: n.store, Rooms: n.rooms, Records: records{n}, Boards: boards{n}, Access: n.access,
		Blobs: n.blobs, Notes: n.notes, Outbox: n.outbox, Guard: n.guard, Limits: n.limits, Signer: n.signer, Log: n.log,
		Now: cfg.Now, PublicURL: func() string { return n.cfg.PublicURL }, MailFrom: cfg.Mail.From, Quotas: cfg.Quotas,
		MaxWebhooks: cfg.Webhooks.MaxPerBoard,
		SpaceLow:    n.space.Low,
		AllowClaim:  n.allowClaim,
		ClaimReplica: func(ctx context.Context, board storage.BoardID, rep crdt.ReplicaID, user string) error {
			return n.meta.ClaimReplica(ctx, board, rep, user, true)
		}})
	n.gw = gateway.New(n.gatewayConfig())
	// After what its change hook calls (access, notify, the rooms): a
	// change can arrive as soon as the watch starts.
	if err := n.openMeta(); err != nil {
		n.rooms.Close("")
		if n.ownBus {
			n.bus.Close()
		}
		n.closeStore()
		return nil, err
	}
	n.metrics.WatchOutbox([]string{mail.Kind, webhook.Kind}, func() map[string]metrics.OutboxStats {
		out := make(map[string]metrics.OutboxStats)
		for k, s := range n.outbox.StatsByKind() {
			out[k] = metrics.OutboxStats{Enqueued: s.Enqueued, Delivered: s.Delivered, Retried: s.Retried, Dead: s.Dead, Dropped: s.Dropped}
		}
		return out
	}, func() (pending, dead map[string]int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pending, dead, _ = n.outbox.CountsByKind(ctx)
		return pending, dead
	})
	if p, ok := n.store.(*storage.Pebble); ok {
		n.metrics.WatchPebble(p.Stats)
	}
	// Every phase of a connection is bounded, so idle and slow clients
	// cannot hold file descriptors (Pebble needs them too): headers in
	// 10 s, a request in ReadTimeout (a blob upload's body in
	// BodyTimeout), an answer in WriteTimeout (the large ones in
	// LongWrite), the wait for a keep-alive connection's next request in
	// IdleTimeout. A WebSocket upgrade hijacks the connection, which
	// clears the deadlines; the hello has its own (Limits.HelloTimeout).
	h := cfg.HTTP
	n.http = &http.Server{Handler: n.routes(), ReadHeaderTimeout: min(10*time.Second, h.ReadTimeout),
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout, MaxHeaderBytes: h.MaxHeaderBytes}
	n.metrics.WatchPeers(func() int { return len(n.Peers()) })
	n.startCluster()
	n.startReplication()
	if nb, ok := n.bus.(*bus.NATS); ok {
		// After an outage, every loaded board asks what it missed, and
		// the metadata watches start again where the view stopped
		// (meta.Store.Rewatch).
		nb.OnReconnect = func() {
			n.rooms.SyncAll()
			n.meta.Rewatch()
		}
	}
	return n, nil
}

// openMeta opens the cluster's metadata (package meta) on JetStream, or
// on cfg.Meta, migrating a store written before the buckets, and starts
// applying every change to this node (metaChanged).
func (n *Node) openMeta() error {
	backend := n.cfg.Meta
	if backend == nil {
		if nb, ok := n.bus.(*bus.NATS); ok {
			js, err := meta.NewJetStream(nb.Conn(), n.cfg.MetaReplicas)
			if err != nil {
				return fmt.Errorf("node: %w", err)
			}
			backend = js
		} else {
			backend = meta.NewMemory()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.meta = meta.New(n.store, backend, meta.Options{Log: n.log.With("part", "meta"), Now: n.cfg.Now, Node: n.cfg.NodeID})
	n.meta.OnChange(n.metaChanged)
	// A clustered JetStream may have no quorum until the other nodes
	// start: the node then serves from its view, and its metadata writes
	// wait for the buckets.
	n.meta.Start(ctx)
	return nil
}

func (n *Node) storedSecret() ([]byte, error) {
	ctx := context.Background()
	s, err := n.store.GetMeta(ctx, "node", []byte("secret"))
	if err == nil && len(s) >= 32 {
		return s, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("node: read secret: %w", err)
	}
	s = auth.NewSecret()
	if err := n.store.PutMeta(ctx, "node", []byte("secret"), s); err != nil {
		return nil, fmt.Errorf("node: store secret: %w", err)
	}
	return s, nil
}

func (n *Node) closeStore() {
	if n.ownDB {
		n.store.Close()
	}
}

// Listen binds the configured address (so tests can learn the port).
func (n *Node) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("node: listen: %w", err)
	}
	n.ln = ln
	if n.cfg.publicFromAddr {
		// Links carry the port actually bound (":0" picks a free one).
		if _, p, err := net.SplitHostPort(ln.Addr().String()); err == nil {
			if h, _, err := net.SplitHostPort(strings.TrimPrefix(n.cfg.PublicURL, "http://")); err == nil {
				n.cfg.PublicURL = "http://" + net.JoinHostPort(h, p)
			}
		}
	}
	return ln.Addr(), nil
}

// Serve serves HTTP until Shutdown. It calls Listen if needed.
func (n *Node) Serve() error {
	if n.ln == nil {
		if _, err := n.Listen(); err != nil {
			return err
		}
	}
	n.startBackground()
	n.log.Info("serving", "addr", n.ln.Addr().String(), "url", n.cfg.PublicURL)
	err := n.http.Serve(n.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler returns the node's HTTP handler (for tests with httptest).
func (n *Node) Handler() http.Handler { return n.http.Handler }

// Shutdown stops accepting, tells every client to reconnect elsewhere,
// flushes every room (final snapshots), then closes the bus and the store.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	n.gw.Drain()
	err := n.http.Shutdown(ctx)
	for _, u := range n.unsubs {
		u()
	}
	n.rooms.Close("node shutting down")
	n.stopBackground()
	n.stopCluster()
	if werr := n.gw.Wait(ctx); werr != nil {
		err = errors.Join(err, werr)
	}
	n.meta.Stop()
	if n.ownBus {
		n.bus.Close()
	}
	if n.jsTemp != "" {
		os.RemoveAll(n.jsTemp)
	}
	if n.ownDB {
		// Flushing first means the next start replays little WAL.
		if p, ok := n.store.(*storage.Pebble); ok {
			err = errors.Join(err, p.Flush())
		}
		err = errors.Join(err, n.store.Close())
	}
	return err
}

// startBackground starts the outbox, the webhook worker and the notifier.
func (n *Node) startBackground() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bgStop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.bgStop = cancel
	n.bgDone.Add(3)
	go func() { defer n.bgDone.Done(); n.webhookWorker(ctx) }()
	go func() { defer n.bgDone.Done(); n.sessionSweeper(ctx) }()
	go func() {
		defer n.bgDone.Done()
		if !n.cfg.OutboxManual {
			n.outbox.Run(ctx)
		}
	}()
	if n.cfg.NotifyInterval > 0 {
		n.bgDone.Add(1)
		go func() { defer n.bgDone.Done(); n.notifier(ctx, n.cfg.NotifyInterval) }()
	}
}

func (n *Node) stopBackground() {
	n.mu.Lock()
	stop := n.bgStop
	n.mu.Unlock()
	if stop != nil {
		stop()
		n.bgDone.Wait()
	}
}

// Checkpoint writes a consistent copy of the node's store, as it is now,
// into dir (which must not exist), while the node goes on serving
// (storage.Pebble.Checkpoint): the boards, their pictures, the outbox, and
// the node's view of the cluster metadata, which is every record of the
// JetStream buckets this node has applied. The JetStream directory itself
// is not copied: a node restored from the copy into a cluster whose
// buckets are empty (a new one) fills them from that view when it starts
// (meta's migration); in a cluster whose buckets live on, it takes their
// newer records instead. It fails when the node was given a Store of its
// own (tests) that is not a Pebble.
func (n *Node) Checkpoint(dir string) error {
	p, ok := n.store.(*storage.Pebble)
	if !ok {
		return errors.New("node: checkpoint: the store is not a Pebble store on disk")
	}
	return p.Checkpoint(dir)
}

// RunOutbox delivers the outbox's due items once (tests; the node
// delivers by itself unless Config.OutboxManual).
func (n *Node) RunOutbox(ctx context.Context) (int, error) { return n.outbox.RunDue(ctx) }

// Ready reports whether the node can serve: not draining and the bus up.
func (n *Node) Ready() error {
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	if draining {
		return errors.New("shutting down")
	}
	if !n.bus.Connected() {
		return errors.New("bus disconnected")
	}
	return nil
}
