// Package smtptest is an in-process SMTP server for tests of any package
// that sends mail: a real SMTP conversation on a real socket (EHLO,
// STARTTLS with a certificate made at start, AUTH PLAIN and LOGIN,
// MAIL/RCPT/DATA/RSET/NOOP/QUIT), whose received messages the test reads
// back parsed. Switches simulate a relay outage (SetFail, SetFailData) and
// a relay that stops answering in the middle of a message (SetHang).
//
// It is a test double of a relay, not a mail server: it keeps messages in
// memory, accepts any recipient, and does no queueing or relaying.
package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
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
	TLS      bool   // the session had done STARTTLS
	AuthUser string // the user the session authenticated as, if any
}

// MessageID returns the Message-ID header.
func (r Received) MessageID() string { return r.Header.Get("Message-ID") }

// Server is a running test SMTP server.
type Server struct {
	opts      Options
	ln        net.Listener
	serverTLS *tls.Config
	clientTLS *tls.Config
	release   chan struct{} // closed by Close: hung sessions end
	hung      chan Received
	wg        sync.WaitGroup

	mu       sync.Mutex
	msgs     []Received
	changed  chan struct{} // closed and replaced when msgs grows
	failMail int
	failData int
	hang     func(Received) bool
	conns    map[net.Conn]bool
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
		opts.AuthMechanisms = []string{"PLAIN", "LOGIN"}
	}
	cert, pool, err := selfSigned(opts.Hostname)
	if err != nil {
		return nil, fmt.Errorf("smtptest: certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s := &Server{
		opts:      opts,
		ln:        ln,
		serverTLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		clientTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		release:   make(chan struct{}),
		hung:      make(chan Received, 64),
		changed:   make(chan struct{}),
		conns:     make(map[net.Conn]bool),
	}
	s.wg.Go(s.accept)
	return s, nil
}

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
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			sess := &session{srv: s, conn: c}
			if s.opts.ImplicitTLS {
				tc := tls.Server(c, s.serverTLS)
				if tc.Handshake() != nil {
					return
				}
				sess.conn, sess.tls = tc, true
			}
			sess.serve()
		})
	}
}

// session is one SMTP conversation.
type session struct {
	srv  *Server
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	helo     bool
	tls      bool
	authUser string
	from     *string
	to       []string
}

// maxLine bounds a command line (RFC 5321 says 512 octets; a little slack
// for long AUTH responses) and a text line of DATA (1000).
const maxLine = 4096

var errLineTooLong = errors.New("line too long")

// readLine reads one line without its CRLF (a bare LF is accepted too).
func (ss *session) readLine() (string, error) {
	var line []byte
	for {
		chunk, isPrefix, err := ss.r.ReadLine()
		if err != nil {
			return "", err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return "", errLineTooLong
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}

func (ss *session) reply(format string, args ...any) error {
	fmt.Fprintf(ss.w, format+"\r\n", args...)
	return ss.w.Flush()
}

func (ss *session) reset() {
	ss.from, ss.to = nil, nil
}

func (ss *session) serve() {
	ss.r = bufio.NewReader(ss.conn)
	ss.w = bufio.NewWriter(ss.conn)
	if ss.reply("220 %s ESMTP smtptest", ss.srv.opts.Hostname) != nil {
		return
	}
	for {
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			ss.reply("500 5.5.2 line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg := ParseCommand(line)
		if !ss.handle(verb, arg) {
			return
		}
	}
}

// handle runs one command; false ends the session.
func (ss *session) handle(verb, arg string) bool {
	o := &ss.srv.opts
	var err error
	switch verb {
	case "EHLO":
		if arg == "" {
			err = ss.reply("501 5.5.4 EHLO needs a domain")
			break
		}
		ss.helo = true
		ss.reset()
		lines := []string{o.Hostname + " greets " + arg, fmt.Sprintf("SIZE %d", o.MaxSize), "8BITMIME"}
		if !ss.tls && !o.NoSTARTTLS && !o.ImplicitTLS {
			lines = append(lines, "STARTTLS")
		}
		if o.Username != "" {
			lines = append(lines, "AUTH "+strings.Join(o.AuthMechanisms, " "))
		}
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			fmt.Fprintf(ss.w, "250%s%s\r\n", sep, l)
		}
		err = ss.w.Flush()
	case "HELO":
		if arg == "" {
			err = ss.reply("501 5.5.4 HELO needs a domain")
			break
		}
		ss.helo = true
		ss.reset()
		err = ss.reply("250 %s", o.Hostname)
	case "STARTTLS":
		switch {
		case ss.tls:
			err = ss.reply("503 5.5.1 TLS already active")
		case o.NoSTARTTLS || o.ImplicitTLS:
			err = ss.reply("502 5.5.1 STARTTLS not offered")
		default:
			if ss.reply("220 2.0.0 ready to start TLS") != nil {
				return false
			}
			tc := tls.Server(ss.conn, ss.srv.serverTLS)
			if tc.Handshake() != nil {
				return false
			}
			// RFC 3207: the client starts over, forgetting everything.
			ss.conn = tc
			ss.r = bufio.NewReader(tc)
			ss.w = bufio.NewWriter(tc)
			ss.tls, ss.helo, ss.authUser = true, false, ""
			ss.reset()
		}
	case "AUTH":
		return ss.auth(arg)
	case "MAIL":
		path, ok := ParsePath(arg, "FROM:")
		ss.srv.mu.Lock()
		fail := ss.srv.failMail
		ss.srv.mu.Unlock()
		switch {
		case !ss.helo:
			err = ss.reply("503 5.5.1 EHLO first")
		case ss.from != nil:
			err = ss.reply("503 5.5.1 nested MAIL")
		case !ok:
			err = ss.reply("501 5.5.4 syntax: MAIL FROM:<address>")
		case o.RequireTLS && !ss.tls:
			err = ss.reply("530 5.7.0 must issue STARTTLS first")
		case o.Username != "" && ss.authUser == "":
			err = ss.reply("530 5.7.0 authentication required")
		case fail != 0:
			err = ss.reply("%d simulated failure", fail)
		default:
			ss.from = &path
			err = ss.reply("250 2.1.0 ok")
		}
	case "RCPT":
		path, ok := ParsePath(arg, "TO:")
		switch {
		case ss.from == nil:
			err = ss.reply("503 5.5.1 MAIL first")
		case !ok || path == "":
			err = ss.reply("501 5.5.4 syntax: RCPT TO:<address>")
		case len(ss.to) >= 100:
			err = ss.reply("452 4.5.3 too many recipients")
		default:
			ss.to = append(ss.to, path)
			err = ss.reply("250 2.1.5 ok")
		}
	case "DATA":
		if ss.from == nil || len(ss.to) == 0 {
			err = ss.reply("503 5.5.1 RCPT first")
			break
		}
		return ss.data()
	case "RSET":
		ss.reset()
		err = ss.reply("250 2.0.0 ok")
	case "NOOP":
		err = ss.reply("250 2.0.0 ok")
	case "QUIT":
		ss.reply("221 2.0.0 bye")
		return false
	case "VRFY":
		err = ss.reply("252 2.5.2 cannot verify")
	default:
		err = ss.reply("500 5.5.2 unknown command")
	}
	return err == nil
}

// auth runs AUTH PLAIN or LOGIN.
func (ss *session) auth(arg string) bool {
	o := &ss.srv.opts
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	switch {
	case o.Username == "":
		return ss.reply("502 5.5.1 AUTH not offered") == nil
	case !ss.helo:
		return ss.reply("503 5.5.1 EHLO first") == nil
	case ss.authUser != "":
		return ss.reply("503 5.5.1 already authenticated") == nil
	case ss.from != nil:
		return ss.reply("503 5.5.1 AUTH not allowed during a transaction") == nil
	}
	// challenge sends a 334 and returns the client's decoded answer; ok
	// is false when the client cancelled or sent bad base64 (already
	// answered) or the connection failed (alive false).
	challenge := func(prompt string) (answer []byte, ok, alive bool) {
		if ss.reply("334 %s", base64.StdEncoding.EncodeToString([]byte(prompt))) != nil {
			return nil, false, false
		}
		line, err := ss.readLine()
		if err != nil {
			return nil, false, false
		}
		if line == "*" {
			return nil, false, ss.reply("501 5.7.0 AUTH cancelled") == nil
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, false, ss.reply("501 5.5.2 bad base64") == nil
		}
		return b, true, true
	}
	if !slices.Contains(o.AuthMechanisms, mech) {
		return ss.reply("504 5.5.4 unrecognised AUTH mechanism") == nil
	}
	var user, pass string
	switch mech {
	case "PLAIN":
		var resp []byte
		if initial != "" && initial != "=" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				return ss.reply("501 5.5.2 bad base64") == nil
			}
			resp = b
		} else {
			b, ok, alive := challenge("")
			if !ok {
				return alive
			}
			resp = b
		}
		var ok bool
		if _, user, pass, ok = ParsePlain(resp); !ok {
			return ss.reply("501 5.5.2 malformed PLAIN response") == nil
		}
	case "LOGIN":
		if initial != "" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				return ss.reply("501 5.5.2 bad base64") == nil
			}
			user = string(b)
		} else {
			b, ok, alive := challenge("Username:")
			if !ok {
				return alive
			}
			user = string(b)
		}
		b, ok, alive := challenge("Password:")
		if !ok {
			return alive
		}
		pass = string(b)
	default:
		return ss.reply("504 5.5.4 unrecognised AUTH mechanism") == nil
	}
	if user != o.Username || pass != o.Password {
		return ss.reply("535 5.7.8 authentication credentials invalid") == nil
	}
	ss.authUser = user
	return ss.reply("235 2.7.0 authenticated") == nil
}

// data reads a message after DATA and records it.
func (ss *session) data() bool {
	if ss.reply("354 end data with <CR><LF>.<CR><LF>") != nil {
		return false
	}
	var buf bytes.Buffer
	tooBig := false
	for {
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			ss.reply("500 5.5.2 line too long")
			return false
		}
		if err != nil {
			return false
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".") // dot-unstuffing
		if buf.Len()+len(line)+2 > ss.srv.opts.MaxSize {
			tooBig = true
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
	}
	from, to := *ss.from, ss.to
	ss.reset()
	if tooBig {
		return ss.reply("552 5.3.4 message too big") == nil
	}
	srv := ss.srv
	srv.mu.Lock()
	fail, hang := srv.failData, srv.hang
	srv.mu.Unlock()
	if fail != 0 {
		return ss.reply("%d simulated failure", fail) == nil
	}
	rec := Received{From: from, To: to, Data: buf.Bytes(), TLS: ss.tls, AuthUser: ss.authUser}
	if msg, err := mail.ReadMessage(bytes.NewReader(rec.Data)); err != nil {
		rec.ParseErr = err
	} else {
		rec.Header = msg.Header
		rec.Body, rec.ParseErr = io.ReadAll(msg.Body)
	}
	hangNow := hang != nil && hang(rec)
	srv.mu.Lock()
	srv.msgs = append(srv.msgs, rec)
	close(srv.changed)
	srv.changed = make(chan struct{})
	srv.mu.Unlock()
	if hangNow {
		select {
		case srv.hung <- rec:
		default:
		}
		<-srv.release
		return false
	}
	return ss.reply("250 2.0.0 ok: queued") == nil
}

// ParseCommand splits a command line into its verb, upper-cased, and the
// rest with surrounding spaces removed.
func ParseCommand(line string) (verb, arg string) {
	line = strings.TrimRight(line, " \t\r\n")
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// ParsePath parses the argument of MAIL ("FROM:<path> params") or RCPT
// ("TO:<path> params"), with keyword "FROM:" or "TO:" (any case, spaces
// allowed after the colon), and returns the path without its angle
// brackets. "<>" (the null sender) gives "". Parameters after the path are
// ignored.
func ParsePath(arg, keyword string) (string, bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", false
	}
	rest := strings.TrimLeft(arg[len(keyword):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	path := rest[1:end]
	if after := rest[end+1:]; after != "" && after[0] != ' ' {
		return "", false
	}
	if strings.ContainsAny(path, " <>\t") {
		return "", false
	}
	return path, true
}

// ParsePlain splits a decoded AUTH PLAIN response "authzid\0user\0pass".
func ParsePlain(resp []byte) (authzid, user, pass string, ok bool) {
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), true
}
