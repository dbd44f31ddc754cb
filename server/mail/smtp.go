package mail

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Kind is the outbox item kind of e-mail.
const Kind = "mail"

// Sender sends one message. An error wrapped with outbox.Permanent means
// that retrying cannot help (the message is invalid, the relay refused the
// recipient with a 5xx); any other error is worth retrying.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTPConfig configures NewSMTP.
type SMTPConfig struct {
	// Addr is the relay's host:port.
	Addr string
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN or LOGIN (whichever the relay offers, PLAIN first). Credentials
	// are never sent over an unencrypted connection, except to localhost.
	Username, Password string
	// From is the From of messages that have none, and when set the
	// envelope sender (MAIL FROM) of every message, so that bounces go to
	// one address the operator controls.
	From string
	// TLS is the transport security:
	//   "starttls" (or ""): upgrade with STARTTLS when the relay offers
	//       it; without it the message goes in clear, but AUTH is refused
	//       (unless the relay is localhost).
	//   "tls": implicit TLS from the first byte (port 465).
	//   "none": never TLS (a relay on localhost or a private network).
	TLS string
	// TLSConfig is used for TLS and STARTTLS. Nil means the system's roots;
	// an empty ServerName is set to Addr's host.
	TLSConfig *tls.Config
	// HeloName is the name sent in EHLO. Empty means "localhost".
	HeloName string
	// Timeout bounds one whole SMTP conversation. Zero means 30 seconds.
	Timeout time.Duration
}

// smtpSender is the Sender of NewSMTP.
type smtpSender struct {
	cfg  SMTPConfig
	host string
	now  func() time.Time
}

// NewSMTP returns a Sender that opens one SMTP conversation per message to
// cfg.Addr. It does not dial until the first Send; a bad configuration
// (an Addr without a port, an unknown TLS mode) makes every Send fail with
// a clear error, which the outbox retries, so mail waits while the
// operator fixes it.
//
// A reply with a 5xx code to MAIL, RCPT or DATA is permanent
// (outbox.Permanent): the relay refused this message. A 5xx to EHLO, AUTH
// or STARTTLS is not: it says the relay or our credentials are wrong, for
// every message alike, and they should wait, not be dead-lettered.
//
// One connection per message rather than a pool: the outbox sends a
// handful of messages at a time, a relay may close idle connections at any
// moment, and a fresh conversation makes each attempt's outcome its own.
func NewSMTP(cfg SMTPConfig) Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	return &smtpSender{cfg: cfg, host: host, now: time.Now}
}

// stage names a step of the conversation, for errors and for deciding what
// a 5xx means.
type stage string

const (
	stageConnect stage = "connect" // dial, EHLO, STARTTLS, AUTH
	stageMail    stage = "mail from"
	stageRcpt    stage = "rcpt to"
	stageData    stage = "data"
)

// classify wraps an error of one stage: permanent for a 5xx reply to a
// per-message command, else as it is.
func classify(st stage, err error) error {
	err = fmt.Errorf("smtp %s: %w", st, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		switch st {
		case stageMail, stageRcpt, stageData:
			return outbox.Permanent(err)
		}
	}
	return err
}

// Send implements Sender.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	if m.From == "" {
		m.From = s.cfg.From
	}
	raw, err := m.Bytes(s.now())
	if err != nil {
		return outbox.Permanent(err)
	}
	_, to, _ := m.addresses()
	envFrom := s.cfg.From
	if envFrom == "" {
		envFrom = m.From
	}
	sender, err := mail.ParseAddress(envFrom)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("%w: envelope sender %q: %v", ErrInvalid, envFrom, err))
	}
	if s.host == "" {
		return fmt.Errorf("smtp: relay address %q is not host:port", s.cfg.Addr)
	}
	mode := strings.ToLower(s.cfg.TLS)
	switch mode {
	case "", "starttls", "tls", "none":
	default:
		return fmt.Errorf("smtp: unknown TLS mode %q (want starttls, tls or none)", s.cfg.TLS)
	}

	_, portText, _ := net.SplitHostPort(s.cfg.Addr)
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("smtp: relay address %q has no port", s.cfg.Addr)
	}
	// The transport is go-mail's (its maintained fork of net/smtp): the
	// dial, EHLO, STARTTLS by policy, AUTH by what the relay offers (it
	// refuses to send credentials unencrypted but to localhost), and a
	// deadline on the whole conversation. The message is this package's
	// own encoding (Bytes), written as is.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// The dial is this package's, for two things go-mail leaves out: the
	// connection, so that a cancelled context unblocks any read or write
	// at once (the deadline bounds the rest), and implicit TLS on it.
	tlsConf := s.tlsConfig()
	var mu sync.Mutex
	var conn net.Conn
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			conn.SetDeadline(time.Unix(1, 0))
		}
	})
	defer stop()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if mode == "tls" {
			tc := tls.Client(c, tlsConf)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			c = tc
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		return c, nil
	}
	wrap := func(st stage, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: %w (%v)", st, ctx.Err(), err)
		}
		return classify(st, err)
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithHELO(s.cfg.HeloName),
		gomail.WithTLSConfig(tlsConf), gomail.WithDialContextFunc(dial)}
	switch mode {
	case "tls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS)) // TLS from the first byte (dial)
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&offeredAuth{user: s.cfg.Username, pass: s.cfg.Password, host: s.host}))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// Connect, EHLO, STARTTLS or AUTH: the relay or the settings,
		// for every message alike: never permanent.
		return wrap(stageConnect, err)
	}
	defer client.CloseWithSMTPClient(c)
	if err := c.Mail("<" + sender.Address + ">"); err != nil {
		return wrap(stageMail, err)
	}
	if err := c.Rcpt("<" + to.Address + ">"); err != nil {
		return wrap(stageRcpt, err)
	}
	w, err := c.Data()
	if err != nil {
		return wrap(stageData, err)
	}
	if _, err := w.Write(raw); err != nil {
		return wrap(stageData, err)
	}
	if err := w.Close(); err != nil {
		return wrap(stageData, err)
	}
	// The relay has the message. A failed QUIT changes nothing.
	c.Quit()
	return nil
}

// offeredAuth is AUTH PLAIN, or LOGIN when the relay offers only that
// (many still do), as go-mail's smtp package makes them: both refuse to
// send credentials over an unencrypted connection to anything but
// localhost.
type offeredAuth struct {
	user, pass, host string
	mech             gosmtp.Auth
}

func (a *offeredAuth) Start(server *gosmtp.ServerInfo) (string, []byte, error) {
	a.mech = gosmtp.PlainAuth("", a.user, a.pass, a.host, false)
	if !slices.Contains(server.Auth, "PLAIN") && slices.Contains(server.Auth, "LOGIN") {
		a.mech = gosmtp.LoginAuth(a.user, a.pass, a.host, false)
	}
	return a.mech.Start(server)
}

func (a *offeredAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}

func (s *smtpSender) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// logSender is the Sender of NewLogSender.
type logSender struct{ log *slog.Logger }

// NewLogSender returns a Sender that writes each message to log instead
// of sending it: for a node with no relay configured (development, a
// first start), so that invite links can still be read somewhere. It
// refuses invalid messages like the SMTP sender does.
func NewLogSender(log *slog.Logger) Sender {
	if log == nil {
		log = slog.Default()
	}
	return &logSender{log: log}
}

func (s *logSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return outbox.Permanent(err)
	}
	s.log.InfoContext(ctx, "mail (no SMTP relay configured, not sent)",
		"message_id", m.MessageID(), "from", m.From, "to", m.To, "subject", m.Subject,
		"unsubscribe", m.Unsubscribe, "text", m.Text)
	return nil
}

// deliverer is the outbox.Deliverer of Deliverer.
type deliverer struct{ s Sender }

// Deliverer returns the outbox deliverer of kind "mail": it decodes the
// item's payload (a JSON Message; an empty ID becomes the item's) and
// sends it with s. A payload that does not decode is permanent.
func Deliverer(s Sender) outbox.Deliverer { return deliverer{s} }

func (d deliverer) Deliver(ctx context.Context, it outbox.Item) error {
	var m Message
	if err := json.Unmarshal(it.Payload, &m); err != nil {
		return outbox.Permanent(fmt.Errorf("%w: payload of %q: %v", ErrInvalid, it.ID, err))
	}
	if m.ID == "" {
		m.ID = it.ID
	}
	return d.s.Send(ctx, m)
}

// NewItem returns the outbox item that sends m: kind "mail", ID m.ID, the
// message as JSON. It validates m first, so a bad message is refused at
// enqueue (where the caller can report it) rather than dead-lettered.
func NewItem(m Message) (outbox.Item, error) {
	if err := m.Validate(); err != nil {
		return outbox.Item{}, err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return outbox.Item{}, fmt.Errorf("mail: encode: %w", err)
	}
	return outbox.Item{ID: m.ID, Kind: Kind, Payload: payload}, nil
}
