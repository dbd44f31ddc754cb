package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"slices"
	"strings"
)

// One SMTP session: the commands, AUTH and DATA.

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
