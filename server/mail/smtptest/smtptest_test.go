package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dial opens a raw conversation and reads the greeting.
func dial(t *testing.T, s *Server) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c
}

// cmd sends a command and checks the reply code.
func cmd(t *testing.T, c *textproto.Conn, want int, format string, args ...any) string {
	t.Helper()
	id, err := c.Cmd(format, args...)
	if err != nil {
		t.Fatal(err)
	}
	c.StartResponse(id)
	defer c.EndResponse(id)
	code, msg, err := c.ReadResponse(0)
	if code != want {
		t.Fatalf("%q: reply %d %q (%v), want %d", format, code, msg, err, want)
	}
	return msg
}

// The raw conversation: what the backend records (envelope, dot-unstuffed
// data), RSET, a message over MaxSize refused and not kept. The protocol's
// own errors are go-smtp's; two are checked here so that a change of
// library that answers them differently is seen.
func TestConversation(t *testing.T) {
	s := start(t, Options{MaxSize: 200})
	c := dial(t, s)
	cmd(t, c, 502, "MAIL FROM:<a@b>") // before EHLO
	cmd(t, c, 501, "EHLO")
	msg := cmd(t, c, 250, "EHLO client.example")
	if !strings.Contains(msg, "STARTTLS") || strings.Contains(msg, "AUTH") || !strings.Contains(msg, "SIZE 200") {
		t.Errorf("EHLO reply %q", msg)
	}
	cmd(t, c, 250, "MAIL FROM:<> SIZE=10")
	cmd(t, c, 250, "RCPT TO:<x@y.example>")
	cmd(t, c, 354, "DATA")
	cmd(t, c, 250, "Subject: hi\r\n\r\n..leading dot\r\nline\r\n.")
	cmd(t, c, 250, "NOOP")
	cmd(t, c, 250, "mail from:<a@b.example>")
	cmd(t, c, 250, "RSET")
	cmd(t, c, 502, "DATA") // RSET forgot the sender
	// Too big: refused, not kept, and the session goes on.
	cmd(t, c, 250, "MAIL FROM:<a@b.example>")
	cmd(t, c, 250, "RCPT TO:<x@y.example>")
	cmd(t, c, 354, "DATA")
	cmd(t, c, 552, "%s\r\n.", strings.Repeat("x", 300))
	cmd(t, c, 250, "NOOP")
	cmd(t, c, 221, "QUIT")

	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "" || len(m.To) != 1 || m.To[0] != "x@y.example" || m.TLS {
		t.Errorf("envelope %+v", m)
	}
	if string(m.Data) != "Subject: hi\r\n\r\n.leading dot\r\nline\r\n" || m.Header.Get("Subject") != "hi" || string(m.Body) != ".leading dot\r\nline\r\n" {
		t.Errorf("data %q body %q", m.Data, m.Body)
	}
}

func TestAuthAndTLSRequired(t *testing.T) {
	s := start(t, Options{Username: "u", Password: "p", RequireTLS: true})
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := textproto.NewConn(raw)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	cmd(t, c, 250, "EHLO c")
	cmd(t, c, 530, "MAIL FROM:<a@b>")
	cmd(t, c, 220, "STARTTLS")
	conf := s.ClientTLS()
	conf.ServerName = "127.0.0.1"
	tc := tls.Client(raw, conf)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake with the generated certificate: %v", err)
	}
	c = textproto.NewConn(tc)
	cmd(t, c, 502, "MAIL FROM:<a@b>") // EHLO again after STARTTLS
	msg := cmd(t, c, 250, "EHLO c")
	if strings.Contains(msg, "STARTTLS") || !strings.Contains(msg, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO after TLS %q", msg)
	}
	cmd(t, c, 530, "MAIL FROM:<a@b>")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cmd(t, c, 535, "AUTH PLAIN %s", b64("\x00u\x00wrong"))
	cmd(t, c, 504, "AUTH CRAM-MD5")
	// LOGIN, the mechanism this package adds to go-sasl's: asked for
	// the user, then the password; "*" cancels.
	if got := cmd(t, c, 334, "AUTH LOGIN"); got != b64("Username:") {
		t.Errorf("LOGIN prompt %q", got)
	}
	if got := cmd(t, c, 334, "%s", b64("u")); got != b64("Password:") {
		t.Errorf("LOGIN prompt %q", got)
	}
	cmd(t, c, 501, "*")
	cmd(t, c, 334, "AUTH LOGIN %s", b64("u"))
	cmd(t, c, 535, "%s", b64("wrong"))
	cmd(t, c, 334, "AUTH PLAIN")
	cmd(t, c, 235, "%s", b64("\x00u\x00p"))
	cmd(t, c, 503, "AUTH PLAIN %s", b64("\x00u\x00p"))
	cmd(t, c, 250, "MAIL FROM:<a@b>")
}

// net/smtp, the client NewSMTP uses, against every switch.
func TestNetSMTPClientAndSwitches(t *testing.T) {
	s := start(t, Options{Username: "u", Password: "p"})
	send := func(id string) error {
		conf := s.ClientTLS()
		conf.ServerName = "127.0.0.1"
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.StartTLS(conf); err != nil {
			return err
		}
		if err := c.Auth(smtp.PlainAuth("", "u", "p", "127.0.0.1")); err != nil {
			return err
		}
		if err := c.Mail("a@b.example"); err != nil {
			return err
		}
		if err := c.Rcpt("c@d.example"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		w.Write([]byte("Message-ID: <" + id + ">\r\nSubject: t\r\n\r\nbody\r\n"))
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	code := func(err error) int {
		if te, ok := err.(*textproto.Error); ok {
			return te.Code
		}
		return 0
	}
	if err := send("1@x"); err != nil {
		t.Fatal(err)
	}
	s.SetFail(451)
	if err := send("2@x"); code(err) != 451 {
		t.Errorf("SetFail(451): %v", err)
	}
	s.SetFail(0)
	s.SetFailData(554)
	if err := send("3@x"); code(err) != 554 {
		t.Errorf("SetFailData(554): %v", err)
	}
	s.SetFailData(0)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	go send("4@x")
	msgs, err := s.Wait(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].MessageID() != "<1@x>" || msgs[1].MessageID() != "<4@x>" || !msgs[1].TLS || msgs[1].AuthUser != "u" {
		t.Fatalf("messages %+v", msgs)
	}
	// Wait gives up with the context, returning what it has.
	short, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if got, err := s.Wait(short, 3); err == nil || len(got) != 2 {
		t.Errorf("Wait past the end: %d, %v", len(got), err)
	}
	// A hung session holds the message, reports it, and ends on Close.
	s.SetHang(func(r Received) bool { return r.MessageID() == "<5@x>" })
	errc := make(chan error, 1)
	go func() { errc <- send("5@x") }()
	if r := <-s.Hung(); r.MessageID() != "<5@x>" || !bytes.Contains(r.Data, []byte("body")) {
		t.Errorf("hung on %+v", r)
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("%d messages, want the hung one kept", n)
	}
	s.Close()
	if err := <-errc; err == nil {
		t.Errorf("a send hung until Close succeeded")
	}
}
