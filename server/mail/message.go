// Package mail formats and sends the node's e-mail: invites, notifications
// and digests. A Message is encoded by Message.Bytes (RFC 5322 and MIME,
// always with a plain-text body, one-click unsubscribe per RFC 8058) and
// sent by a Sender: SMTP through a configured relay (NewSMTP), or the log
// when no relay is configured (NewLogSender). Deliverer plugs a Sender into
// the durable outbox, which is how the node sends everything: a Message
// travels as the JSON payload of an outbox.Item of kind "mail".
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one e-mail. It is also the JSON payload of an outbox item of
// kind "mail", so its field names are a stored format: add fields, do not
// rename them.
type Message struct {
	// ID identifies the message: it becomes the Message-ID header
	// "<ID@domain-of-From>", the same on every retry, so a receiver (or a
	// person) can tell a re-sent message from a new one.
	ID string `json:"id"`
	// From and To are RFC 5322 addresses, with or without a display name:
	// "Corkboard <noreply@example.com>".
	From string `json:"from"`
	To   string `json:"to"`
	// Subject is plain text, any Unicode.
	Subject string `json:"subject"`
	// Text is the plain-text body. Every message has one.
	Text string `json:"text"`
	// HTML is an optional HTML alternative of Text.
	HTML string `json:"html,omitempty"`
	// Unsubscribe is the one-click unsubscribe URL (https, or http for a
	// node without TLS): it becomes List-Unsubscribe, with
	// List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058). The
	// node's handler must accept a POST to it without a login.
	Unsubscribe string `json:"unsubscribe,omitempty"`
	// Headers are extra headers, such as X-Corkboard-Board. They may not
	// replace the headers above or the MIME ones.
	Headers map[string]string `json:"headers,omitempty"`
}

// ErrInvalid is returned (wrapped) for a message that cannot be sent as
// given: a missing or malformed address, a header value with a line break,
// an unsubscribe URL that is not http(s). Retrying cannot fix it.
var ErrInvalid = errors.New("mail: invalid message")

// Limits, well inside SMTP's 998-byte line limit once folded.
const (
	maxIDLen          = 500
	maxSubjectLen     = 1000
	maxHeaderValueLen = 900
	maxURLLen         = 900
	maxBodyLen        = 8 << 20
)

// reserved are the headers Message.Bytes writes itself; Headers may not
// set them (canonical form).
var reserved = []string{
	"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-Id", "Mime-Version",
	"Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
	"List-Unsubscribe", "List-Unsubscribe-Post", "Return-Path", "Sender", "Reply-To",
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// hasControl reports whether s holds a control character other than tab:
// CR and LF would end a header line early and let the rest of the value
// become headers of its own (header injection).
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return true
		}
	}
	return false
}

// CheckAddress says whether a message may be sent to addr (Validate
// refuses any other To): an ErrInvalid, wrapped, if not. A caller that
// writes to many people checks each address before making their message.
func CheckAddress(addr string) error {
	if hasControl(addr) {
		return invalid("address holds a line break or control character")
	}
	if _, err := mail.ParseAddress(addr); err != nil {
		return invalid("to %q: %v", addr, err)
	}
	return nil
}

// Validate checks the message without encoding it: what Bytes checks,
// except that From may be empty (the Sender fills in its configured From).
func (m *Message) Validate() error {
	if hasControl(m.From) || hasControl(m.To) {
		return invalid("address holds a line break or control character")
	}
	if m.From != "" {
		if _, err := mail.ParseAddress(m.From); err != nil {
			return invalid("from %q: %v", m.From, err)
		}
	}
	if err := CheckAddress(m.To); err != nil {
		return err
	}
	switch {
	case m.ID == "":
		return invalid("no id")
	case len(m.ID) > maxIDLen:
		return invalid("id longer than %d bytes", maxIDLen)
	case !utf8.ValidString(m.ID):
		return invalid("id is not UTF-8")
	case hasControl(m.Subject):
		return invalid("subject holds a line break or control character")
	case len(m.Subject) > maxSubjectLen:
		return invalid("subject longer than %d bytes", maxSubjectLen)
	case !utf8.ValidString(m.Subject):
		return invalid("subject is not UTF-8")
	case strings.TrimSpace(m.Text) == "":
		return invalid("no plain-text body")
	case len(m.Text)+len(m.HTML) > maxBodyLen:
		return invalid("body longer than %d bytes", maxBodyLen)
	case !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML):
		return invalid("body is not UTF-8")
	}
	if m.Unsubscribe != "" {
		if err := checkURL(m.Unsubscribe); err != nil {
			return err
		}
	}
	for k, v := range m.Headers {
		if err := checkExtraHeader(k, v); err != nil {
			return err
		}
	}
	return nil
}

func checkURL(s string) error {
	if len(s) > maxURLLen {
		return invalid("unsubscribe URL longer than %d bytes", maxURLLen)
	}
	if hasControl(s) || strings.ContainsAny(s, " <>\"") {
		return invalid("unsubscribe URL %q holds a space, control character, quote or angle bracket", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid("unsubscribe URL: %v", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("unsubscribe URL %q is not an absolute http(s) URL", s)
	}
	return nil
}

func checkExtraHeader(k, v string) error {
	if k == "" {
		return invalid("empty header name")
	}
	for i := 0; i < len(k); i++ {
		// RFC 5322 field names: printable ASCII except colon.
		if c := k[i]; c < 33 || c > 126 || c == ':' {
			return invalid("header name %q", k)
		}
	}
	if slices.Contains(reserved, textproto.CanonicalMIMEHeaderKey(k)) {
		return invalid("header %s is set by the message itself", k)
	}
	if hasControl(v) {
		return invalid("header %s holds a line break or control character", k)
	}
	if len(v) > maxHeaderValueLen || !utf8.ValidString(v) {
		return invalid("header %s is longer than %d bytes or not UTF-8", k, maxHeaderValueLen)
	}
	return nil
}

// addresses parses From and To.
func (m *Message) addresses() (from, to *mail.Address, err error) {
	if hasControl(m.From) || hasControl(m.To) {
		return nil, nil, invalid("address holds a line break or control character")
	}
	if from, err = mail.ParseAddress(m.From); err != nil {
		return nil, nil, invalid("from %q: %v", m.From, err)
	}
	if to, err = mail.ParseAddress(m.To); err != nil {
		return nil, nil, invalid("to %q: %v", m.To, err)
	}
	return from, to, nil
}

// MessageID returns the Message-ID header of m: "<ID@domain>", where the
// domain is From's. Bytes of ID outside letters, digits and "-_/+" are
// written as "=XX" (hex), so any ID gives a valid, distinct Message-ID.
func (m *Message) MessageID() string {
	domain := "corkboard.invalid"
	if a, err := mail.ParseAddress(m.From); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 && validDomain(a.Address[at+1:]) {
			domain = a.Address[at+1:]
		}
	}
	var b strings.Builder
	b.WriteByte('<')
	for i := 0; i < len(m.ID); i++ {
		c := m.ID[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' || c == '+' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteByte('@')
	b.WriteString(domain)
	b.WriteByte('>')
	return b.String()
}

func validDomain(d string) bool {
	if d == "" || d[0] == '.' || d[len(d)-1] == '.' || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Bytes encodes m as an RFC 5322 message with CRLF line endings, dated
// now: text/plain, or multipart/alternative (text, then HTML) when HTML is
// set; bodies in quoted-printable UTF-8; a non-ASCII subject or display
// name in RFC 2047 encoded-words; long header lines folded. It refuses
// (ErrInvalid) anything Validate refuses, so no value can add a header.
//
// The multipart boundary is derived from ID rather than random, so the
// same message encodes to the same bytes (tests compare them) and retries
// are byte-identical apart from Date. It cannot collide with the content:
// it starts with "=_", which quoted-printable never produces on a line of
// its own.
func (m *Message) Bytes(now time.Time) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	from, to, err := m.addresses()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	writeHeader(&b, "From", from.String())
	writeHeader(&b, "To", to.String())
	writeHeader(&b, "Subject", encodeText(m.Subject))
	writeHeader(&b, "Date", now.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", m.MessageID())
	writeHeader(&b, "MIME-Version", "1.0")
	writeHeader(&b, "Auto-Submitted", "auto-generated")
	if m.Unsubscribe != "" {
		writeHeader(&b, "List-Unsubscribe", "<"+m.Unsubscribe+">")
		writeHeader(&b, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m.Headers {
			if !yield(k) {
				return
			}
		}
	}) {
		writeHeader(&b, k, encodeText(m.Headers[k]))
	}
	if m.HTML == "" {
		writeHeader(&b, "Content-Type", "text/plain; charset=utf-8")
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, m.Text)
		return b.Bytes(), nil
	}
	sum := sha256.Sum256([]byte(m.ID))
	boundary := "=_" + hex.EncodeToString(sum[:14])
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, fmt.Errorf("mail: boundary: %w", err)
	}
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: part: %w", err)
		}
		var pb bytes.Buffer
		writeQP(&pb, part.body)
		if _, err := w.Write(pb.Bytes()); err != nil {
			return nil, fmt.Errorf("mail: part: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("mail: multipart: %w", err)
	}
	return b.Bytes(), nil
}

// encodeText returns s as header text: unchanged when it is printable
// ASCII that no decoder could mistake for an encoded-word, else as RFC 2047
// Q encoded-words.
func encodeText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	if strings.Contains(s, "=?") {
		return mime.QEncoding.Encode("utf-8", s)
	}
	return s
}

// writeHeader writes "name: value" folded at spaces to lines of about 78
// characters (RFC 5322 2.2.3). value holds no CR or LF (checked before).
// Unfolding (removing each CRLF) gives back the value exactly.
func writeHeader(b *bytes.Buffer, name, value string) {
	const width = 78
	line := len(name) + 2
	b.WriteString(name)
	b.WriteString(":")
	words := strings.Split(value, " ")
	for i, w := range words {
		if i > 0 && w != "" && line+1+len(w) > width && line > 1 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteByte(' ')
		b.WriteString(w)
		line += 1 + len(w)
	}
	b.WriteString("\r\n")
}

// writeQP writes s in quoted-printable with CRLF line breaks, ending in a
// line break.
func writeQP(b *bytes.Buffer, s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(s)) // writes to a bytes.Buffer do not fail
	w.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}
