package bus

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSConfig configures the NATS bus.
type NATSConfig struct {
	// Node is this node's id, stamped on every message. Required.
	Node string
	// URL of an external NATS server or cluster. Empty (the default)
	// starts an embedded server in this process.
	URL string
	// ListenAddr makes the embedded server accept clients on this
	// host:port (for example to let other tools watch). Empty: no client
	// port at all; the node connects in-process.
	ListenAddr string
	// ClusterAddr makes the embedded server join a NATS cluster: it
	// listens for routes on this host:port. Empty: no clustering.
	ClusterAddr string
	// Routes are the other embedded servers' cluster addresses
	// (nats://host:port), used with ClusterAddr. User info in them is
	// replaced by the route credentials derived from Secret.
	Routes []string
	// ClusterAdvertise is the host:port the other servers are told to
	// reach this one's routes at (behind NAT or a proxy). Empty: the
	// listening address.
	ClusterAdvertise string
	// Secret is the cluster's shared secret (the token-signing secret,
	// given explicitly, the same on every node). The embedded server
	// derives its credentials from it (see NodeSeed and routeCredentials):
	// it accepts only clients holding the node nkey and only routes
	// holding the route password, so only nodes of this cluster can read
	// or publish anything. Empty: the embedded server may neither listen
	// for clients nor join a cluster (credentials must be shared); the
	// in-process connection then authenticates with a random nkey.
	// Ignored with URL.
	Secret []byte
	// CredsFile is a NATS credentials file (JWT and nkey seed) for URL.
	CredsFile string
	// NkeyFile is a file holding an nkey seed (SU...) for URL. A user and
	// password may instead be given in URL itself.
	NkeyFile string
	// TLSCert and TLSKey are a PEM certificate and key. Embedded server:
	// its client port and its routes serve TLS with them, and plaintext
	// connections are refused; routes also present them to the other
	// servers. URL: a client certificate, if the server asks for one.
	TLSCert, TLSKey string
	// TLSCA is a PEM file of CA certificates. Embedded server: routes
	// verify the other servers' certificates against it (both ways);
	// required with TLSCert and ClusterAddr. URL: the CAs that sign the
	// server's certificate (default: the system's).
	TLSCA string
	// Logger gets connection events. Nil: slog.Default().
	Logger *slog.Logger
	// JetStreamDir, for the embedded server, enables JetStream (the
	// cluster's metadata buckets, package meta) with its store in this
	// directory. Empty: no JetStream. Ignored with URL (the external
	// server must have JetStream enabled).
	JetStreamDir string
}

// NATS is the production bus.
type NATS struct {
	cfg    NATSConfig
	srv    *natsserver.Server // nil with an external URL
	nc     *nats.Conn
	log    *slog.Logger
	errors atomic.Int64
	closed chan struct{} // closed by the connection's ClosedHandler
	// alone: the embedded server has no client port and no routes, so
	// nothing but this connection can ever be on it, and (no echo) a
	// message published goes nowhere: Publish and PublishCluster skip it.
	alone bool
	// OnReconnect, if set before use, is called after the connection comes
	// back (the hook for catching up between nodes).
	OnReconnect func()
}

// NewNATS starts an embedded NATS server (unless cfg.URL is set) and
// connects to it.
func NewNATS(cfg NATSConfig) (*NATS, error) {
	if cfg.Node == "" {
		return nil, fmt.Errorf("bus: NATSConfig.Node is required")
	}
	b := &NATS{cfg: cfg, log: cfg.Logger, closed: make(chan struct{})}
	if b.log == nil {
		b.log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name("corkboard-" + cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(8 << 20),
		// Every handler drops this node's own messages: without echo the
		// server does not send them back (a write, a read and a decode
		// per change on a busy node).
		nats.NoEcho(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				b.log.Debug("nats disconnected") // a normal close
				return
			}
			b.log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.log.Info("nats reconnected")
			if b.OnReconnect != nil {
				b.OnReconnect()
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.errors.Add(1)
			b.log.Warn("nats error", "err", err)
		}),
	}
	url := cfg.URL
	if url != "" {
		o, err := cfg.externalOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, o...)
	} else {
		srv, o, err := cfg.startEmbedded()
		if err != nil {
			return nil, err
		}
		b.srv = srv
		b.alone = cfg.ListenAddr == "" && cfg.ClusterAddr == "" // startEmbedded's DontListen
		// In process, TLS is pointless (the server does not ask for
		// it there); a tls:// URL would make the client insist.
		url = strings.Replace(srv.ClientURL(), "tls://", "nats://", 1)
		opts = append(opts, o...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if b.srv != nil {
			b.srv.Shutdown()
		}
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

// Publish sends on the board's subject.
func (b *NATS) Publish(board [16]byte, kind Kind, data []byte) error {
	if b.alone {
		return nil
	}
	if err := b.nc.Publish(subject(board, kind), envelope(b.cfg.Node, data)); err != nil {
		b.errors.Add(1)
		return fmt.Errorf("bus: publish: %w", err)
	}
	return nil
}

// Subscribe delivers the board's messages from other nodes.
func (b *NATS) Subscribe(board [16]byte, h Handler) (func(), error) {
	sub, err := b.nc.Subscribe(subject(board, "*"), func(m *nats.Msg) {
		bd, kind, ok := parseSubject(m.Subject)
		if !ok {
			return
		}
		node, data, err := openEnvelope(m.Data)
		if err != nil || node == b.cfg.Node {
			return
		}
		h(Message{Board: bd, Kind: kind, Node: node, Data: data})
	})
	if err != nil {
		b.errors.Add(1)
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	// Generous pending limits: a slow room drops to anti-entropy rather
	// than stalling the connection.
	sub.SetPendingLimits(1<<16, 256<<20)
	return func() { sub.Unsubscribe() }, nil
}

// SubscribeKind delivers other nodes' messages of the kind for any board.
func (b *NATS) SubscribeKind(kind Kind, h Handler) (func(), error) {
	sub, err := b.nc.Subscribe("cb.*."+string(kind), func(m *nats.Msg) {
		bd, k, ok := parseSubject(m.Subject)
		if !ok {
			return
		}
		node, data, err := openEnvelope(m.Data)
		if err != nil || node == b.cfg.Node {
			return
		}
		h(Message{Board: bd, Kind: k, Node: node, Data: data})
	})
	if err != nil {
		b.errors.Add(1)
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	return func() { sub.Unsubscribe() }, nil
}

// PublishCluster sends on the cluster-wide subject of the kind.
func (b *NATS) PublishCluster(kind Kind, data []byte) error {
	if b.alone {
		return nil
	}
	if err := b.nc.Publish(clusterSubject(kind), envelope(b.cfg.Node, data)); err != nil {
		b.errors.Add(1)
		return fmt.Errorf("bus: publish: %w", err)
	}
	return nil
}

// SubscribeCluster delivers other nodes' messages of the kind.
func (b *NATS) SubscribeCluster(kind Kind, h Handler) (func(), error) {
	sub, err := b.nc.Subscribe(clusterSubject(kind), func(m *nats.Msg) {
		node, data, err := openEnvelope(m.Data)
		if err != nil || node == b.cfg.Node {
			return
		}
		h(Message{Kind: kind, Node: node, Data: data})
	})
	if err != nil {
		b.errors.Add(1)
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	return func() { sub.Unsubscribe() }, nil
}

// Conn is the NATS connection (for JetStream, package meta).
func (b *NATS) Conn() *nats.Conn { return b.nc }

// Connected reports the NATS connection state.
func (b *NATS) Connected() bool { return b.nc.IsConnected() }

// Errors returns the number of NATS errors seen (for metrics).
func (b *NATS) Errors() int64 { return b.errors.Load() }

// Close drains the connection and stops the embedded server.
func (b *NATS) Close() error {
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
	// Drain is asynchronous: wait for the connection to report closed.
	select {
	case <-b.closed:
	case <-time.After(5 * time.Second):
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	u, err := url.Parse("nats://" + addr)
	if err != nil || u.Port() == "" {
		return "", 0, fmt.Errorf("bus: address %q: want host:port", addr)
	}
	var port int
	if _, err := fmt.Sscanf(u.Port(), "%d", &port); err != nil {
		return "", 0, fmt.Errorf("bus: address %q: bad port", addr)
	}
	return u.Hostname(), port, nil
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bus: route %q: want nats://host:port", s)
	}
	return u, nil
}
