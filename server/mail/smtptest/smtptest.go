// Package smtptest is an in-process SMTP server for tests of any package
// that sends mail: a real SMTP conversation on a real socket (EHLO,
// STARTTLS with a certificate made at start, AUTH PLAIN and LOGIN,
// MAIL/RCPT/DATA/RSET/NOOP/QUIT), whose received messages the test reads
// back parsed. Switches simulate a relay outage (SetFail, SetFailData) and
// a relay that stops answering in the middle of a message (SetHang).
//
// The protocol is github.com/emersion/go-smtp's server; this package is
// its backend (backend.go): it keeps the messages, checks the credentials
// and TLS the test asked for, and injects the faults. A hand-written SMTP
// server was the alternative (and what this package once was): six hundred
// lines of parsing that only tests exercised, with the quirks of a server
// no relay in the field shares.
//
// It is a test double of a relay, not a mail server: it keeps messages in
// memory, accepts any recipient, and does no queueing or relaying.
package smtptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configures Start. The zero value is a server that offers
// STARTTLS and needs no authentication.
type Options struct {
	// Hostname is the name in the greeting and the certificate. Empty
	// means "smtptest.localhost".
	Hostname string
	// Username and Password, when Username is set, are the only
	// credentials AUTH accepts, and MAIL is refused (530) until a client
	// authenticated.
	Username, Password string
	// RequireTLS refuses MAIL (530) until the client did STARTTLS.
	RequireTLS bool
	// NoSTARTTLS leaves STARTTLS out of the EHLO reply.
	NoSTARTTLS bool
	// MaxSize is the largest message accepted, in bytes. Zero means 10 MiB.
	MaxSize int
	// ImplicitTLS makes the server speak TLS from the first byte, as a
	// relay on port 465 does (and not offer STARTTLS).
	ImplicitTLS bool
	// AuthMechanisms are the mechanisms offered and accepted when Username
	// is set, of "PLAIN" and "LOGIN". Empty means both.
	AuthMechanisms []string
}

// Received is one message the server took (answered 250 to, or would
// have: see SetHang).
type Received struct {
	From     string   // the MAIL FROM path, without angle brackets
	To       []string // the RCPT TO paths
	Data     []byte   // the message as sent, dot-unstuffed, CRLF line ends
	Header   mail.Header
	Body     []byte // the message body after the header (still encoded)
	ParseErr error  // why net/mail could not parse Data, if it could not
	TLS      bool   // the session was encrypted (STARTTLS or implicit TLS)
	AuthUser string // the user the session authenticated as, if any
}

// MessageID returns the Message-ID header.
func (r Received) MessageID() string { return r.Header.Get("Message-ID") }

// Server is a running test SMTP server.
type Server struct {
	opts      Options
	ln        *trackingListener
	smtp      *smtp.Server
	serveDone chan struct{}
	clientTLS *tls.Config
	release   chan struct{} // closed by Close: hung sessions end
	hung      chan Received
	inData    sync.WaitGroup // Data calls of the backend under way

	mu       sync.Mutex
	msgs     []Received
	changed  chan struct{} // closed and replaced when msgs grows
	failMail int
	failData int
	hang     func(Received) bool
	closed   bool
}

// Start starts a server on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Hostname == "" {
		opts.Hostname = "smtptest.localhost"
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = 10 << 20
	}
	if len(opts.AuthMechanisms) == 0 {
		opts.AuthMechanisms = []string{sasl.Plain, sasl.Login}
	}
	cert, pool, err := selfSigned(opts.Hostname)
	if err != nil {
		return nil, fmt.Errorf("smtptest: certificate: %w", err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s := &Server{
		opts:      opts,
		ln:        &trackingListener{Listener: raw, conns: make(map[net.Conn]bool)},
		serveDone: make(chan struct{}),
		clientTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		release:   make(chan struct{}),
		hung:      make(chan Received, 64),
		changed:   make(chan struct{}),
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = int64(opts.MaxSize)
	srv.MaxRecipients = maxRecipients
	// AUTH is offered before STARTTLS too: a relay on localhost may take
	// credentials in clear, and the sender's refusal to send them
	// elsewhere is what the mail tests check.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener = s.ln
	switch {
	case opts.ImplicitTLS:
		ln = tls.NewListener(s.ln, serverTLS)
	case !opts.NoSTARTTLS:
		srv.TLSConfig = serverTLS // STARTTLS is offered when TLSConfig is set
	}
	s.smtp = srv
	go func() {
		defer close(s.serveDone)
		srv.Serve(ln)
	}()
	return s, nil
}

// maxRecipients bounds the RCPTs of one message, as relays do.
const maxRecipients = 100

// selfSigned makes a certificate for 127.0.0.1, ::1, localhost and host,
// and a pool that trusts it.
func selfSigned(host string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", host},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ClientTLS returns a client TLS configuration that trusts the server's
// certificate (and nothing else).
func (s *Server) ClientTLS() *tls.Config { return s.clientTLS.Clone() }

// Messages returns the messages received so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wait returns the messages once at least n have been received, or ctx's
// error with those received so far.
func (s *Server) Wait(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]Received(nil), s.msgs...)
			s.mu.Unlock()
			return msgs, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Messages(), ctx.Err()
		}
	}
}

// SetFail makes the server answer MAIL FROM with code (a 4xx such as 451
// for a transient outage, a 5xx such as 554 for a refusal) until it is
// called again with 0.
func (s *Server) SetFail(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failMail = code
}

// SetFailData makes the server answer the end of DATA with code, and not
// keep the message, until it is called again with 0.
func (s *Server) SetFailData(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failData = code
}

// SetHang makes the server stop answering after the end of DATA of a
// message for which match returns true: it keeps the message (Messages has
// it, as a real relay that crashed before its reply might have delivered
// it), sends it on Hung, and holds the session silent until Close. This is
// the moment a sender killed mid-send leaves behind. nil turns it off.
func (s *Server) SetHang(match func(Received) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = match
}

// Hung receives each message a session hung on (see SetHang).
func (s *Server) Hung() <-chan Received { return s.hung }

// Close stops the server: it closes the listener and every session (hung
// ones included) and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.release)
	s.mu.Unlock()
	err := s.ln.Close() // and every connection it accepted
	s.inData.Wait()
	// Shutdown waits for go-smtp's connection goroutines, which end now
	// that their connections are closed.
	s.smtp.Shutdown(context.Background())
	<-s.serveDone
	return err
}

// trackingListener remembers the connections it accepted so that Close can
// end them all, idle or not: go-smtp's Close does too, but does not wait,
// and its Shutdown waits but does not close.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = true
	return tc, nil
}

// Close closes the listener and every connection still open.
func (l *trackingListener) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
	return err
}

type trackedConn struct {
	net.Conn
	l *trackingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
