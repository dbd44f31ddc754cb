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
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
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

// isLocal reports whether host is the local machine, where credentials may
// go without TLS.
func isLocal(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stage names a step of the conversation, for errors and for deciding what
// a 5xx means.
type stage string

const (
	stageConnect stage = "connect"
	stageHello   stage = "hello"
	stageTLS     stage = "starttls"
	stageAuth    stage = "auth"
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

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return classify(stageConnect, err)
	}
	defer conn.Close()
	// net/smtp has no contexts: the deadline and a cancellation that
	// unblocks any read or write stand in for them.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	wrap := func(st stage, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: %w (%v)", st, ctx.Err(), err)
		}
		return classify(st, err)
	}

	tlsConf := s.tlsConfig()
	if mode == "tls" {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return wrap(stageTLS, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return wrap(stageConnect, err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return wrap(stageHello, err)
	}
	_, isTLS := conn.(*tls.Conn)
	if mode == "" || mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return wrap(stageTLS, err)
			}
			isTLS = true
		}
	}
	if s.cfg.Username != "" {
		if !isTLS && !isLocal(s.host) {
			return fmt.Errorf("smtp %s: refusing to send credentials to %s without TLS", stageAuth, s.host)
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return fmt.Errorf("smtp %s: the relay offers no AUTH, but a username is configured", stageAuth)
		}
		var auth smtp.Auth
		switch fields := strings.Fields(strings.ToUpper(mechs)); {
		case containsWord(fields, "PLAIN"):
			auth = smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)
		case containsWord(fields, "LOGIN"):
			auth = &loginAuth{user: s.cfg.Username, pass: s.cfg.Password}
		default:
			return fmt.Errorf("smtp %s: the relay offers %q, none of PLAIN and LOGIN", stageAuth, mechs)
		}
		if err := c.Auth(auth); err != nil {
			return wrap(stageAuth, err)
		}
	}
	if err := c.Mail(sender.Address); err != nil {
		return wrap(stageMail, err)
	}
	if err := c.Rcpt(to.Address); err != nil {
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

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
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

// loginAuth is AUTH LOGIN, which net/smtp lacks and many relays still
// offer alone. Like smtp.PlainAuth it refuses an unencrypted connection
// to anything but localhost (Send checks that before, too).
type loginAuth struct{ user, pass string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocal(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch p := strings.ToLower(strings.TrimSpace(string(fromServer))); {
	case strings.HasPrefix(p, "username"):
		return []byte(a.user), nil
	case strings.HasPrefix(p, "password"):
		return []byte(a.pass), nil
	default:
		return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", fromServer)
	}
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
