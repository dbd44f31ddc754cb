package bus

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually polls check (routes forming, interest spreading between real
// servers) for a bounded time.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testSecret(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func newTestNATS(t *testing.T, cfg NATSConfig) *NATS {
	t.Helper()
	b, err := NewNATS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// certs is a CA and a certificate it signed for 127.0.0.1, usable by both
// ends of a connection, as PEM files.
type certs struct{ ca, cert, key string }

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newCerts(t *testing.T, name string) certs {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := certs{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
	writePEM(t, c.ca, "CERTIFICATE", caDER)
	writePEM(t, c.cert, "CERTIFICATE", der)
	writePEM(t, c.key, "EC PRIVATE KEY", keyDER)
	return c
}

// pair starts two embedded servers clustered over loopback with the same
// secret (and TLS when tc is set) and waits until their route is up and a
// cluster message crosses it.
func pair(t *testing.T, secret []byte, tc *certs) (a, b *NATS, clusterA string) {
	t.Helper()
	ca, cb := freeAddr(t), freeAddr(t)
	cfg := func(node, own, other string) NATSConfig {
		c := NATSConfig{Node: node, ClusterAddr: own, Routes: []string{"nats://" + other}, Secret: secret}
		if tc != nil {
			c.TLSCert, c.TLSKey, c.TLSCA = tc.cert, tc.key, tc.ca
		}
		return c
	}
	a = newTestNATS(t, cfg("a", ca, cb))
	b = newTestNATS(t, cfg("b", cb, ca))
	eventually(t, "the route between a and b", func() bool { return a.srv.NumRoutes() > 0 && b.srv.NumRoutes() > 0 })
	got := make(chan struct{}, 1)
	cancel, err := a.SubscribeCluster(KindHeartbeat, func(Message) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	eventually(t, "a message from b to reach a", func() bool {
		if err := b.PublishCluster(KindHeartbeat, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			return true
		default:
			return false
		}
	})
	return a, b, ca
}

// refusals counts the rogue server's route connections that ended
// (refused by the cluster, or failed handshakes); startRogue checks none
// of them joined.
type refusals struct {
	mu   sync.Mutex
	n    int
	logs []string
	ch   chan struct{}
}

func (r *refusals) log(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, s)
	if strings.Contains(s, "Router connection closed") || strings.Contains(s, "TLS route handshake error") {
		r.n++
		select {
		case r.ch <- struct{}{}:
		default:
		}
	}
}
func (r *refusals) Noticef(f string, v ...any) { r.log(f, v...) }
func (r *refusals) Warnf(f string, v ...any)   { r.log(f, v...) }
func (r *refusals) Fatalf(f string, v ...any)  { r.log(f, v...) }
func (r *refusals) Errorf(f string, v ...any)  { r.log(f, v...) }
func (r *refusals) Debugf(f string, v ...any)  { r.log(f, v...) }
func (r *refusals) Tracef(f string, v ...any)  {}

// routedTo reports whether any of the nodes' servers holds a route to the
// server with the given id. (The rogue's own count is no proof: a
// soliciting server registers the route on the other side's INFO, a moment
// before that side reads its CONNECT and turns it away.)
func routedTo(t *testing.T, id string, nodes ...*NATS) bool {
	t.Helper()
	for _, n := range nodes {
		rz, err := n.srv.Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rz.Routes {
			if r.RemoteID == id {
				return true
			}
		}
	}
	return false
}

// startRogue starts a plain nats-server whose cluster routes to target
// with the given user info (nil: none) and TLS settings, and waits until
// the cluster has turned its route away twice.
func startRogue(t *testing.T, cluster []*NATS, target string, user *url.Userinfo, tc *tls.Config) *natsserver.Server {
	t.Helper()
	host, port, err := splitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	so := &natsserver.Options{
		ServerName: "rogue", Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoSigs: true,
		Routes: []*url.URL{{Scheme: "nats", Host: target, User: user}},
	}
	so.Cluster.Name, so.Cluster.Host, so.Cluster.Port = "corkboard", host, port
	so.Cluster.TLSConfig = tc
	srv, err := natsserver.NewServer(so)
	if err != nil {
		t.Fatal(err)
	}
	r := &refusals{ch: make(chan struct{}, 1)}
	srv.SetLogger(r, true, false)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("rogue server did not start")
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for turnedAway := 0; turnedAway < 2; {
		select {
		case <-r.ch:
			turnedAway++
		case <-tick.C:
			if routedTo(t, srv.ID(), cluster...) {
				t.Fatal("the rogue joined the cluster")
			}
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("the rogue's route was never turned away; its log ends:\n%s", strings.Join(r.logs[max(0, len(r.logs)-20):], "\n"))
		}
	}
	return srv
}

// checkRogueIsolated checks, with explicit markers, that nothing crosses
// between the cluster (a, b) and the rogue: a record published by the
// cluster never reaches a subscriber on the rogue, and a forged session
// record published on the rogue never reaches a node.
func checkRogueIsolated(t *testing.T, a, b *NATS, rogue *natsserver.Server) {
	t.Helper()
	if routedTo(t, rogue.ID(), a, b) {
		t.Fatal("the cluster holds a route to the rogue")
	}
	spy, err := nats.Connect(rogue.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	spied := make(chan *nats.Msg, 16)
	if _, err := spy.ChanSubscribe(">", spied); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	// The forged record goes first; a's marker through the legitimate
	// route follows.
	if err := spy.Publish(clusterSubject(KindHeartbeat), envelope("rogue", []byte("forged session"))); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	atB := make(chan string, 1024)
	cancelB, err := b.SubscribeCluster(KindHeartbeat, func(m Message) { atB <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancelB()
	// b's subscription travels to a over the route: resend until seen.
	eventually(t, "a's records to reach b", func() bool {
		if err := a.PublishCluster(KindHeartbeat, []byte("webhook secret")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-atB:
			if m != "webhook secret" {
				t.Fatalf("b got %q", m)
			}
			return true
		default:
			return false
		}
	})
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The spy's own forged message is the only one it may see (its
	// server echoes it back). The cluster's record had time to reach it
	// (it crossed a route to b), but the proof it cannot is the rogue's
	// route count, checked before and after.
	for len(spied) > 0 {
		if m := <-spied; !strings.Contains(string(m.Data), "forged") {
			t.Fatalf("rogue read the cluster's %s: %q", m.Subject, m.Data)
		}
	}
	// Marker: after the forged record, the spy publishes once more and a
	// marker goes through the cluster; if the rogue were routed the
	// forged record would have reached b before anything it sent later.
	if err := spy.Publish(clusterSubject(KindHeartbeat), envelope("rogue", []byte("forged again"))); err != nil {
		t.Fatal(err)
	}
	spy.Flush()
	if err := a.PublishCluster(KindHeartbeat, []byte("marker")); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		select {
		case m := <-atB:
			if strings.Contains(m, "forged") {
				t.Fatalf("a node accepted the rogue's %q", m)
			}
			done = m == "marker"
		case <-time.After(10 * time.Second):
			t.Fatal("the marker never reached b")
		}
	}
	if routedTo(t, rogue.ID(), a, b) || !routedTo(t, b.srv.ID(), a) {
		t.Fatal("the cluster's routes changed: a route to the rogue, or none between a and b")
	}
}

// A rogue nats-server routing to the cluster with no credentials, or with
// guessed ones, is turned away: it reads nothing and forges nothing.
func TestNATSRogueRouteRefused(t *testing.T) {
	a, b, clusterA := pair(t, testSecret(0x11), nil)
	for _, c := range []struct {
		name string
		user *url.Userinfo
	}{
		{"no credentials", nil},
		{"wrong password", url.UserPassword(routeUser, "guessed")},
		{"another secret's credentials", url.UserPassword(routeCredentials(testSecret(0x22)))},
	} {
		t.Run(c.name, func(t *testing.T) {
			rogue := startRogue(t, []*NATS{a, b}, clusterA, c.user, nil)
			checkRogueIsolated(t, a, b, rogue)
		})
	}
}

// With TLS on the routes, even the right route password is not enough: a
// rogue must also hold a certificate from the cluster's CA, so a password
// sniffed or leaked does not let a server in.
func TestNATSTLSRoutesVerifyPeers(t *testing.T) {
	secret := testSecret(0x33)
	legit := newCerts(t, "cluster")
	a, b, clusterA := pair(t, secret, &legit)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(legit.ca)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("reading the CA: %v", err)
	}
	foreign := newCerts(t, "rogue")
	cert, err := tls.LoadX509KeyPair(foreign.cert, foreign.key)
	if err != nil {
		t.Fatal(err)
	}
	password := url.UserPassword(routeCredentials(secret))
	t.Run("certificate from another CA", func(t *testing.T) {
		rogue := startRogue(t, []*NATS{a, b}, clusterA, password, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12})
		checkRogueIsolated(t, a, b, rogue)
	})
	t.Run("no certificate", func(t *testing.T) {
		rogue := startRogue(t, []*NATS{a, b}, clusterA, password, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		checkRogueIsolated(t, a, b, rogue)
	})
	t.Run("plaintext", func(t *testing.T) {
		rogue := startRogue(t, []*NATS{a, b}, clusterA, password, nil)
		checkRogueIsolated(t, a, b, rogue)
	})
}

// seedFile writes the node nkey seed derived from secret to a file, as an
// operator would with `corkboard --print-nats-nkey`.
func seedFile(t *testing.T, secret []byte) string {
	t.Helper()
	seed, err := NodeSeed(secret)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "node.nk")
	if err := os.WriteFile(p, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// receive subscribes to a cluster kind on b and returns what arrives.
func receive(t *testing.T, b *NATS, kind Kind) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	cancel, err := b.SubscribeCluster(kind, func(m Message) { ch <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func expectMsg(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q never arrived", want)
	}
}

// An exposed client port takes only the node nkey derived from the
// secret: no credentials, or another cluster's, are refused; a node (or
// tool) holding the seed file connects through --nats-url.
func TestNATSClientPortNeedsNodeKey(t *testing.T) {
	secret := testSecret(0x44)
	addr := freeAddr(t)
	a := newTestNATS(t, NATSConfig{Node: "a", ListenAddr: addr, Secret: secret})
	u := "nats://" + addr
	if nc, err := nats.Connect(u, nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connecting with no credentials: %v, want an authorization error", err)
	}
	other, err := nats.NkeyOptionFromSeed(seedFile(t, testSecret(0x45)))
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(u, other, nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connecting with another secret's nkey: %v, want an authorization error", err)
	}
	routeUser, routePass := routeCredentials(secret)
	asRoute := (&url.URL{Scheme: "nats", Host: addr, User: url.UserPassword(routeUser, routePass)}).String()
	if nc, err := nats.Connect(asRoute, nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connecting with the route password: %v, want an authorization error", err)
	}
	b := newTestNATS(t, NATSConfig{Node: "b", URL: u, NkeyFile: seedFile(t, secret)})
	atA := receive(t, a, KindHeartbeat)
	if err := b.PublishCluster(KindHeartbeat, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, atA, "from b")
}

// With TLS, the client port refuses plaintext (even with the right nkey);
// a client trusting the CA and holding the nkey gets in, and the node's
// own in-process connection needs neither.
func TestNATSClientPortTLS(t *testing.T) {
	secret := testSecret(0x55)
	c := newCerts(t, "nats")
	addr := freeAddr(t)
	a := newTestNATS(t, NATSConfig{Node: "a", ListenAddr: addr, Secret: secret, TLSCert: c.cert, TLSKey: c.key})
	if !a.Connected() {
		t.Fatal("the in-process connection is down")
	}
	u := "nats://" + addr
	key, err := nats.NkeyOptionFromSeed(seedFile(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	// nats.go upgrades to TLS by itself: speak plaintext by hand.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	info, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q, %v: want tls_required", info, err)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":true}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the server neither answered nor closed a plaintext connection: %v", err)
	}
	if bytes.Contains(rest, []byte("PONG")) || bytes.Contains(rest, []byte("+OK")) {
		t.Fatalf("a plaintext connection was served: %q", rest)
	}
	// Nor does a client that does not trust the CA.
	if nc, err := nats.Connect(u, key, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connected without trusting the CA")
	}
	if nc, err := nats.Connect(u, nats.RootCAs(c.ca), nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("TLS without the nkey: %v, want an authorization error", err)
	}
	b := newTestNATS(t, NATSConfig{Node: "b", URL: u, NkeyFile: seedFile(t, secret), TLSCA: c.ca})
	atB := receive(t, b, KindHeartbeat)
	if err := a.PublishCluster(KindHeartbeat, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, atB, "from a")
}

// Credentials must be shared, so the embedded server opens no port
// without the cluster's secret; a lone node needs no configuration.
func TestNATSConfigChecks(t *testing.T) {
	secret := testSecret(0x66)
	c := newCerts(t, "nats")
	for _, tc := range []struct {
		name string
		cfg  NATSConfig
		want string
	}{
		{"cluster without secret", NATSConfig{ClusterAddr: "127.0.0.1:0"}, "--secret"},
		{"client port without secret", NATSConfig{ListenAddr: "127.0.0.1:0"}, "--secret"},
		{"short secret", NATSConfig{ClusterAddr: "127.0.0.1:0", Secret: []byte("short")}, "at least 32 bytes"},
		{"certificate without key", NATSConfig{ListenAddr: "127.0.0.1:0", Secret: secret, TLSCert: c.cert}, "key"},
		{"route TLS without CA", NATSConfig{ClusterAddr: "127.0.0.1:0", Secret: secret, TLSCert: c.cert, TLSKey: c.key}, "CA"},
		{"nkey file with the embedded server", NATSConfig{NkeyFile: "x"}, "external"},
		{"creds and nkey", NATSConfig{URL: "nats://127.0.0.1:1", CredsFile: "a", NkeyFile: "b"}, "not both"},
	} {
		tc.cfg.Node = "n"
		b, err := NewNATS(tc.cfg)
		if err == nil {
			b.Close()
			t.Errorf("%s: started", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// Zero configuration: in process only, no secret needed.
	b := newTestNATS(t, NATSConfig{Node: "solo"})
	if !b.Connected() {
		t.Fatal("a lone node did not connect to its embedded server")
	}
}
