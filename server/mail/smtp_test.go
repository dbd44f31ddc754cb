package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/storage"
)

func startSMTP(t *testing.T, opts smtptest.Options) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func testMessage(id string) Message {
	return Message{
		ID:          id,
		From:        "Corkboard <noreply@cork.example>",
		To:          "Ana <ana@example.com>",
		Subject:     "Résumé of “Q3” — 3 new ideas",
		Text:        "3 new ideas.\n.\n..a line starting with dots\n",
		HTML:        "<p>3 new ideas.</p>",
		Unsubscribe: "https://cork.example/u/abc",
	}
}

// The default sender upgrades with STARTTLS, authenticates, and the relay
// gets the message exactly as Bytes made it (dot-stuffing undone).
func TestSMTPStartTLSAndAuth(t *testing.T) {
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			srv := startSMTP(t, smtptest.Options{Username: "relayuser", Password: "pa55", RequireTLS: true, AuthMechanisms: []string{mech}})
			s := NewSMTP(SMTPConfig{Addr: srv.Addr(), Username: "relayuser", Password: "pa55", TLSConfig: srv.ClientTLS(), From: "bounces@cork.example"}).(*smtpSender)
			s.now = func() time.Time { return testNow }
			m := testMessage("m1")
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			r := msgs[0]
			if !r.TLS || r.AuthUser != "relayuser" {
				t.Errorf("TLS %v, auth %q: want STARTTLS and AUTH", r.TLS, r.AuthUser)
			}
			if r.From != "bounces@cork.example" || len(r.To) != 1 || r.To[0] != "ana@example.com" {
				t.Errorf("envelope %q -> %q", r.From, r.To)
			}
			want, _ := m.Bytes(testNow)
			if !bytes.Equal(r.Data, want) {
				t.Errorf("received\n%s\nwant\n%s", r.Data, want)
			}
			if r.MessageID() != "<m1@cork.example>" || r.ParseErr != nil {
				t.Errorf("Message-ID %q, parse %v", r.MessageID(), r.ParseErr)
			}
			p := parse(t, r.Data)
			if p.subject != m.Subject || !strings.Contains(p.text, "..a line starting with dots") {
				t.Errorf("read back subject %q text %q", p.subject, p.text)
			}
		})
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := startSMTP(t, smtptest.Options{ImplicitTLS: true, Username: "u", Password: "p"})
	s := NewSMTP(SMTPConfig{Addr: srv.Addr(), TLS: "tls", Username: "u", Password: "p", TLSConfig: srv.ClientTLS()})
	if err := s.Send(t.Context(), testMessage("m2")); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "u" {
		t.Fatalf("messages %+v", msgs)
	}
}

// A relay whose certificate we do not trust gets nothing: no fallback to
// clear text.
func TestSMTPUntrustedCertificate(t *testing.T) {
	srv := startSMTP(t, smtptest.Options{})
	err := NewSMTP(SMTPConfig{Addr: srv.Addr()}).Send(t.Context(), testMessage("m3"))
	if err == nil || outbox.IsPermanent(err) {
		t.Fatalf("untrusted certificate: %v, want a transient error", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent despite a bad certificate", n)
	}
}

func TestSMTPErrorsClassified(t *testing.T) {
	srv := startSMTP(t, smtptest.Options{Username: "u", Password: "p"})
	good := SMTPConfig{Addr: srv.Addr(), Username: "u", Password: "p", TLSConfig: srv.ClientTLS()}
	send := func(cfg SMTPConfig) error { return NewSMTP(cfg).Send(t.Context(), testMessage("e")) }

	srv.SetFail(451)
	if err := send(good); err == nil || outbox.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("451 at MAIL: %v, want transient", err)
	}
	srv.SetFail(554)
	if err := send(good); !outbox.IsPermanent(err) {
		t.Errorf("554 at MAIL: %v, want permanent", err)
	}
	srv.SetFail(0)
	srv.SetFailData(452)
	if err := send(good); err == nil || outbox.IsPermanent(err) {
		t.Errorf("452 after DATA: %v, want transient", err)
	}
	srv.SetFailData(550)
	if err := send(good); !outbox.IsPermanent(err) {
		t.Errorf("550 after DATA: %v, want permanent", err)
	}
	srv.SetFailData(0)
	// Wrong credentials are the operator's to fix: transient, so mail waits.
	bad := good
	bad.Password = "wrong"
	if err := send(bad); err == nil || outbox.IsPermanent(err) || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v, want transient 535", err)
	}
	// TLS "none" to localhost may authenticate in clear; the relay sees no TLS.
	none := good
	none.TLS = "none"
	if err := send(none); err != nil {
		t.Errorf("TLS none to localhost: %v", err)
	}
	// Configuration mistakes are clear and transient.
	for _, cfg := range []SMTPConfig{{Addr: "no-port"}, {Addr: srv.Addr(), TLS: "sometimes"}} {
		if err := send(cfg); err == nil || outbox.IsPermanent(err) {
			t.Errorf("config %+v: %v", cfg, err)
		}
	}
	// An invalid message never reaches the network.
	m := testMessage("bad")
	m.Subject = "x\r\nBcc: v@e.example"
	if err := NewSMTP(good).Send(t.Context(), m); !errors.Is(err, ErrInvalid) || !outbox.IsPermanent(err) {
		t.Errorf("invalid message: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].TLS {
		t.Fatalf("relay got %d messages (want only the clear-text one): %+v", len(msgs), msgs)
	}
}

// A relay that stops answering in the middle of DATA: the attempt ends at
// the timeout (or the context), as a transient failure.
func TestSMTPHangTimesOut(t *testing.T) {
	srv := startSMTP(t, smtptest.Options{})
	srv.SetHang(func(smtptest.Received) bool { return true })
	s := NewSMTP(SMTPConfig{Addr: srv.Addr(), TLSConfig: srv.ClientTLS(), Timeout: 200 * time.Millisecond})
	err := s.Send(t.Context(), testMessage("h"))
	if err == nil || outbox.IsPermanent(err) {
		t.Fatalf("hung relay: %v, want a transient error", err)
	}
	if r := <-srv.Hung(); r.MessageID() != "<h@cork.example>" {
		t.Fatalf("hung on %q", r.MessageID())
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-srv.Hung()
		cancel()
	}()
	s = NewSMTP(SMTPConfig{Addr: srv.Addr(), TLSConfig: srv.ClientTLS()})
	if err := s.Send(ctx, testMessage("h2")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send: %v", err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Through the outbox on a real store: an SMTP outage delays the mail with
// backoff on a fake clock, and it arrives once when the relay is back; a
// refused recipient is dead-lettered.
func TestOutboxSMTPOutage(t *testing.T) {
	ctx := t.Context()
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := startSMTP(t, smtptest.Options{})
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	o := outbox.New(st, outbox.Config{Now: clock, Log: quietLog(), MinBackoff: 30 * time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 10, Seed: 3})
	o.Register(Kind, Deliverer(NewSMTP(SMTPConfig{Addr: srv.Addr(), TLSConfig: srv.ClientTLS()})))

	m := testMessage("digest/b1/u1/2026-03-01")
	it, err := NewItem(m)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFail(421)
	if err := o.Enqueue(ctx, it); err != nil {
		t.Fatal(err)
	}
	var lastNext int64
	for attempt := 1; attempt <= 4; attempt++ {
		if n, err := o.RunDue(ctx); n != 0 || err != nil {
			t.Fatalf("attempt %d during the outage: %d, %v", attempt, n, err)
		}
		p, _ := o.Pending(ctx)
		if len(p) != 1 || p[0].Attempts != attempt || !strings.Contains(p[0].LastError, "421") {
			t.Fatalf("attempt %d: pending %+v", attempt, p)
		}
		if p[0].NextAt <= lastNext {
			t.Fatalf("attempt %d: NextAt did not move on", attempt)
		}
		lastNext = p[0].NextAt
		advance(time.Duration(p[0].NextAt-clock().UnixMilli()) * time.Millisecond)
	}
	srv.SetFail(0)
	if n, err := o.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("after the outage: %d, %v", n, err)
	}
	if n, _ := o.RunDue(ctx); n != 0 {
		t.Fatalf("delivered twice")
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].MessageID() != m.MessageID() {
		t.Fatalf("relay got %+v", msgs)
	}

	srv.SetFail(550)
	bad, _ := NewItem(testMessage("refused"))
	if err := o.Enqueue(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	dead, err := o.Dead(ctx)
	if err != nil || len(dead) != 1 || dead[0].ID != "refused" || dead[0].Attempts != 1 || !strings.Contains(dead[0].LastError, "550") {
		t.Fatalf("dead %+v, %v", dead, err)
	}
	// A payload that is not a message is dead at once too.
	if err := o.Enqueue(ctx, outbox.Item{ID: "junk", Kind: Kind, Payload: []byte("[1,2]")}); err != nil {
		t.Fatal(err)
	}
	srv.SetFail(0)
	o.RunDue(ctx)
	if dead, _ := o.Dead(ctx); len(dead) != 2 {
		t.Fatalf("dead %+v", dead)
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	m := testMessage("l1")
	m.From = ""
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ana@example.com", "3 new ideas", "https://cork.example/u/abc", "<l1@corkboard.invalid>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
	m.To = "x\ny"
	if err := s.Send(t.Context(), m); !outbox.IsPermanent(err) {
		t.Errorf("invalid message: %v", err)
	}
}
