package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"slices"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The go-smtp backend: the relay's policy (credentials, TLS required) and
// the fault injection (SetFail, SetFailData, SetHang). The protocol itself
// is go-smtp's.

// backend makes one session per EHLO (and a new one after STARTTLS, which
// starts the conversation over).
type backend struct{ srv *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{srv: b.srv, tls: isTLS}, nil
}

// session is one SMTP conversation between EHLO and the end (or
// STARTTLS).
type session struct {
	srv      *Server
	tls      bool
	authUser string
	from     string
	to       []string
}

var (
	errTLSRequired  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "must issue STARTTLS first"}
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	errAuthInvalid  = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid"}
	errHungUp       = errors.New("smtptest: closed while hung")
)

// simulated is the reply of SetFail and SetFailData.
func simulated(code int) error {
	return &smtp.SMTPError{Code: code, Message: "simulated failure"}
}

func (ss *session) AuthMechanisms() []string {
	if ss.srv.opts.Username == "" {
		return nil
	}
	return ss.srv.opts.AuthMechanisms
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	o := &ss.srv.opts
	if o.Username == "" {
		return nil, smtp.ErrAuthUnsupported
	}
	if !slices.Contains(o.AuthMechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		if user != o.Username || pass != o.Password {
			return errAuthInvalid
		}
		ss.authUser = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	o := &ss.srv.opts
	switch {
	case o.RequireTLS && !ss.tls:
		return errTLSRequired
	case o.Username != "" && ss.authUser == "":
		return errAuthRequired
	}
	ss.srv.mu.Lock()
	fail := ss.srv.failMail
	ss.srv.mu.Unlock()
	if fail != 0 {
		return simulated(fail)
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

// Data reads the message (go-smtp undoes the dot-stuffing and refuses one
// over MaxSize with 552), then fails, keeps or hangs as the switches say.
func (ss *session) Data(r io.Reader) error {
	srv := ss.srv
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return errHungUp
	}
	srv.inData.Add(1)
	srv.mu.Unlock()
	defer srv.inData.Done()

	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	srv.mu.Lock()
	fail, hang := srv.failData, srv.hang
	srv.mu.Unlock()
	if fail != 0 {
		return simulated(fail)
	}
	rec := Received{From: ss.from, To: slices.Clone(ss.to), Data: data, TLS: ss.tls, AuthUser: ss.authUser}
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
		return errHungUp
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl offers only
// as a client (the mechanism is obsolete, but relays still offer it, and
// the sender speaks it when PLAIN is not offered): it asks for the user
// name (unless the client sent it with the command) and the password.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	haveUser bool
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case !l.haveUser && response == nil:
		return []byte("Username:"), false, nil
	case !l.haveUser:
		l.user, l.haveUser = string(response), true
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}
