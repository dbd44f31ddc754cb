package bus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Who may talk on the embedded NATS server.
//
// Every record a node replicates (sessions, webhook secrets, every op)
// crosses NATS, and a node believes what arrives there, so only nodes may
// read or publish. Both credentials derive from the cluster's shared
// secret, so there is nothing more to distribute:
//
//   - Clients (the node's own in-process connection, and whoever uses the
//     client port) authenticate with the node nkey: the server sends a
//     nonce, the client signs it, no secret crosses the wire.
//   - Routes between embedded servers authenticate with a user and a
//     password. nats-server routes know no nkey challenge (only a
//     password, a TLS certificate subject, or custom code), so the
//     password is an HMAC of the secret: it reveals nothing about the
//     secret, but without TLS it crosses the route network in clear, and
//     whoever sniffs it can join. Off a private network, use TLS
//     (TLSCert/TLSKey/TLSCA): routes then verify each other's
//     certificates against the CA both ways, and the password is
//     encrypted.
//
// Rejected: a separate --nats-password flag (one more secret to share and
// rotate, and forgetting it leaves the cluster open); signing every
// message in the envelope (protects integrity only, not the records'
// confidentiality, and costs a MAC per message; authentication at the
// NATS layer covers both); a read-only "monitor" user (records carry
// session tokens and webhook secrets, so reading is as sensitive as
// writing). Changing the secret changes the credentials: restart every
// node with the new one, as for tokens.

// Labels of the derivations: a new scheme gets a new label.
const (
	nodeSeedLabel  = "corkboard nats node v1"
	routeLabel     = "corkboard nats route v1"
	routeUser      = "corkboard-route"
	minSecretBytes = 32
)

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// NodeSeed returns the nkey seed (SU...) of the node user derived from the
// cluster's secret: the credential the embedded server's client port
// accepts. Written to a file, it serves as --nats-nkey of a node or tool
// connecting to that port. Whoever holds it is a node of the cluster.
func NodeSeed(secret []byte) ([]byte, error) {
	if len(secret) < minSecretBytes {
		return nil, fmt.Errorf("bus: the secret must be at least %d bytes", minSecretBytes)
	}
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, derive(secret, nodeSeedLabel))
	if err != nil {
		return nil, fmt.Errorf("bus: node nkey: %w", err)
	}
	return kp.Seed()
}

// routeCredentials returns the user and password of the cluster's routes.
func routeCredentials(secret []byte) (user, password string) {
	return routeUser, hex.EncodeToString(derive(secret, routeLabel))
}

// nodeKey is the node user's key pair: derived from the secret, or random
// when there is none (an in-process connection only).
func nodeKey(secret []byte) (nkeys.KeyPair, error) {
	if len(secret) == 0 {
		return nkeys.CreateUser()
	}
	seed, err := NodeSeed(secret)
	if err != nil {
		return nil, err
	}
	return nkeys.FromSeed(seed)
}

// startEmbedded starts the embedded server with authentication (and TLS if
// configured) and returns it with the options the node connects with.
func (cfg NATSConfig) startEmbedded() (*natsserver.Server, []nats.Option, error) {
	if len(cfg.Secret) == 0 && (cfg.ListenAddr != "" || cfg.ClusterAddr != "") {
		return nil, nil, errors.New("bus: an embedded NATS server with a client port or cluster routes needs the cluster's shared secret " +
			"(pass --secret, the same on every node): its credentials derive from it, and a secret generated per node would let no one in")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, nil, errors.New("bus: a TLS certificate needs its key and the other way round")
	}
	if cfg.TLSCert == "" && cfg.TLSCA != "" {
		return nil, nil, errors.New("bus: a TLS CA for the embedded server needs its certificate and key too")
	}
	if cfg.TLSCert != "" && cfg.ClusterAddr != "" && cfg.TLSCA == "" {
		return nil, nil, errors.New("bus: TLS on cluster routes needs a CA file: routes verify each other's certificates against it")
	}
	if cfg.CredsFile != "" || cfg.NkeyFile != "" {
		return nil, nil, errors.New("bus: a creds or nkey file is for an external NATS URL; the embedded server derives its credentials from the secret")
	}
	kp, err := nodeKey(cfg.Secret)
	if err != nil {
		return nil, nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, nil, fmt.Errorf("bus: node nkey: %w", err)
	}
	so := &natsserver.Options{
		ServerName: "corkboard-" + cfg.Node,
		NoLog:      true,
		NoSigs:     true,
		// The cluster routes only start once a client port is open:
		// with a cluster and no client address, listen on a random
		// loopback port that nobody else needs to know (it asks for the
		// node nkey like any client port).
		DontListen: cfg.ListenAddr == "" && cfg.ClusterAddr == "",
		MaxPayload: 8 << 20,
		Nkeys:      []*natsserver.NkeyUser{{Nkey: pub}},
	}
	if cfg.JetStreamDir != "" {
		so.JetStream, so.StoreDir = true, cfg.JetStreamDir
	}
	if cfg.ListenAddr != "" {
		host, port, err := splitHostPort(cfg.ListenAddr)
		if err != nil {
			return nil, nil, err
		}
		so.Host, so.Port = host, port
	} else if cfg.ClusterAddr != "" {
		so.Host, so.Port = "127.0.0.1", natsserver.RANDOM_PORT
	}
	if cfg.TLSCert != "" {
		// Client port: TLS required; clients prove who they are with
		// the nkey, so no client certificate is asked for.
		tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, nil, fmt.Errorf("bus: nats tls: %w", err)
		}
		so.TLS, so.TLSConfig = true, tc
	}
	if cfg.ClusterAddr != "" {
		host, port, err := splitHostPort(cfg.ClusterAddr)
		if err != nil {
			return nil, nil, err
		}
		user, pass := routeCredentials(cfg.Secret)
		so.Cluster.Name = "corkboard"
		so.Cluster.Host, so.Cluster.Port = host, port
		so.Cluster.Username, so.Cluster.Password = user, pass
		for _, r := range cfg.Routes {
			u, err := parseURL(r)
			if err != nil {
				return nil, nil, err
			}
			u.User = url.UserPassword(user, pass)
			so.Routes = append(so.Routes, u)
		}
		if cfg.TLSCert != "" {
			tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: true})
			if err != nil {
				return nil, nil, fmt.Errorf("bus: nats route tls: %w", err)
			}
			// A route is a client of the other server too: verify
			// its certificate against the same CA.
			tc.RootCAs = tc.ClientCAs
			so.Cluster.TLSConfig = tc
		}
	}
	srv, err := natsserver.NewServer(so)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("bus: embedded nats did not start")
	}
	return srv, []nats.Option{nats.InProcessServer(srv), nats.Nkey(pub, kp.Sign)}, nil
}

// externalOptions are the credentials and TLS settings for URL.
func (cfg NATSConfig) externalOptions() ([]nats.Option, error) {
	if cfg.CredsFile != "" && cfg.NkeyFile != "" {
		return nil, errors.New("bus: give a creds file or an nkey file, not both")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("bus: a TLS certificate needs its key and the other way round")
	}
	var opts []nats.Option
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NkeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey file: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	return opts, nil
}
