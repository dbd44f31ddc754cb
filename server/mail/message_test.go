package mail

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// parsed is a message read back the way a mail client would.
type parsed struct {
	hdr        mail.Header
	subject    string
	text, html string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	var p parsed
	p.hdr = msg.Header
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	readQP := func(r io.Reader, cte string) string {
		if cte != "quoted-printable" {
			t.Fatalf("transfer encoding %q", cte)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(r))
		if err != nil {
			t.Fatalf("quoted-printable: %v", err)
		}
		return string(b)
	}
	switch mt {
	case "text/plain":
		p.text = readQP(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
	case "multipart/alternative":
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			body := readQP(part, part.Header.Get("Content-Transfer-Encoding"))
			switch part.Header.Get("Content-Type") {
			case "text/plain; charset=utf-8":
				p.text = body
			case "text/html; charset=utf-8":
				p.html = body
			default:
				t.Fatalf("unexpected part %q", part.Header.Get("Content-Type"))
			}
		}
	default:
		t.Fatalf("content type %q", mt)
	}
	return p
}

func TestBytesPlain(t *testing.T) {
	m := Message{
		ID:      "invite/b1/u2",
		From:    "Corkboard <noreply@cork.example>",
		To:      "ana@example.com",
		Subject: "You are invited to “Q3 brainstorm” ✨",
		Text:    "Hello Ana,\n\nJoin the board: https://cork.example/b/1\nA line that is quite long, longer than seventy-six characters, so that quoted-printable has to wrap it.\nÜmlaut and = sign.\n",
		Headers: map[string]string{"X-Corkboard-Board": "b1"},
	}
	raw, err := m.Bytes(testNow)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	if p.subject != m.Subject {
		t.Errorf("subject %q, want %q", p.subject, m.Subject)
	}
	if want := strings.ReplaceAll(m.Text, "\n", "\r\n"); p.text != want {
		t.Errorf("text %q, want %q", p.text, want)
	}
	if got := p.hdr.Get("Message-ID"); got != "<invite/b1/u2@cork.example>" {
		t.Errorf("Message-ID %q", got)
	}
	if d, err := p.hdr.Date(); err != nil || !d.Equal(testNow) {
		t.Errorf("Date %v, %v", d, err)
	}
	from, err := p.hdr.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Corkboard" || from[0].Address != "noreply@cork.example" {
		t.Errorf("From %v, %v", from, err)
	}
	if p.hdr.Get("X-Corkboard-Board") != "b1" || p.hdr.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", p.hdr)
	}
	if p.hdr.Get("List-Unsubscribe") != "" {
		t.Errorf("List-Unsubscribe without an unsubscribe URL")
	}
	// Deterministic apart from the date.
	again, _ := m.Bytes(testNow)
	if !bytes.Equal(raw, again) {
		t.Errorf("two encodings differ")
	}
}

func TestBytesMultipartAndUnsubscribe(t *testing.T) {
	m := Message{
		ID:          "digest/b1/u2/2026-03-01",
		From:        "noreply@cork.example",
		To:          "José Núñez <jose@example.com>",
		Subject:     "3 new ideas",
		Text:        "3 new ideas on Q3.",
		HTML:        "<p>3 new ideas on <b>Q3</b>.</p>\n--=_ not a boundary\n",
		Unsubscribe: "https://cork.example/unsubscribe?t=abc.def",
	}
	raw, err := m.Bytes(testNow)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, raw)
	if p.text != m.Text+"\r\n" || p.html != strings.ReplaceAll(m.HTML, "\n", "\r\n") {
		t.Errorf("parts: text %q html %q", p.text, p.html)
	}
	if got := p.hdr.Get("List-Unsubscribe"); got != "<"+m.Unsubscribe+">" {
		t.Errorf("List-Unsubscribe %q", got)
	}
	if got := p.hdr.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	to, err := p.hdr.AddressList("To")
	if err != nil || to[0].Name != "José Núñez" || to[0].Address != "jose@example.com" {
		t.Errorf("To %v, %v", to, err)
	}
}

// A long subject is folded into several lines, and reads back whole.
func TestBytesFoldsLongHeaders(t *testing.T) {
	for _, subject := range []string{
		strings.Repeat("word ", 60) + "end",
		strings.Repeat("Überraschung ", 30) + "Ende",
		"no  double  spaces  lost " + strings.Repeat("x", 100),
	} {
		m := Message{ID: "x", From: "a@b.example", To: "c@d.example", Subject: subject, Text: "t"}
		raw, err := m.Bytes(testNow)
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !bytes.Contains(head, []byte("\r\n ")) {
			t.Errorf("subject of %d bytes not folded", len(subject))
		}
		if p := parse(t, raw); p.subject != subject {
			t.Errorf("subject %q, want %q", p.subject, subject)
		}
	}
}

func TestMessageIDEscapes(t *testing.T) {
	a := Message{ID: "a b@c", From: "x@y.example"}
	b := Message{ID: "a=20b=40c", From: "x@y.example"}
	if a.MessageID() == b.MessageID() {
		t.Errorf("distinct IDs share a Message-ID %s", a.MessageID())
	}
	if got := a.MessageID(); got != "<a=20b=40c@y.example>" {
		t.Errorf("MessageID %q", got)
	}
	if _, err := (&mail.AddressParser{}).Parse("x " + a.MessageID()); err != nil {
		t.Errorf("Message-ID is not a valid angle address: %v", err)
	}
	if got := (&Message{ID: "z", From: "weird@[1.2.3.4]"}).MessageID(); got != "<z@corkboard.invalid>" {
		t.Errorf("MessageID with an odd domain %q", got)
	}
}

// No field lets a caller add a header or break the message.
func TestBytesRefusesInjection(t *testing.T) {
	ok := Message{ID: "x", From: "a@b.example", To: "c@d.example", Subject: "s", Text: "t"}
	cases := map[string]func(m *Message){
		"CRLF in subject":        func(m *Message) { m.Subject = "hi\r\nBcc: victim@example.com" },
		"LF in subject":          func(m *Message) { m.Subject = "hi\nBcc: victim@example.com" },
		"CR in to":               func(m *Message) { m.To = "c@d.example\rBcc: v@e.example" },
		"LF in from name":        func(m *Message) { m.From = "\"x\ny\" <a@b.example>" },
		"LF in header value":     func(m *Message) { m.Headers = map[string]string{"X-A": "1\nBcc: v@e.example"} },
		"colon in header name":   func(m *Message) { m.Headers = map[string]string{"X-A: 1\r\nBcc": "v"} },
		"reserved header":        func(m *Message) { m.Headers = map[string]string{"bcc": "v@e.example"} },
		"reserved content type":  func(m *Message) { m.Headers = map[string]string{"content-type": "text/html"} },
		"CRLF in unsubscribe":    func(m *Message) { m.Unsubscribe = "https://x.example/u\r\nBcc: v@e.example" },
		"angle in unsubscribe":   func(m *Message) { m.Unsubscribe = "https://x.example/u>, <mailto:v@e.example" },
		"javascript unsubscribe": func(m *Message) { m.Unsubscribe = "javascript:alert(1)" },
		"relative unsubscribe":   func(m *Message) { m.Unsubscribe = "/unsubscribe" },
		"NUL in subject":         func(m *Message) { m.Subject = "a\x00b" },
		"two recipients":         func(m *Message) { m.To = "a@b.example, c@d.example" },
		"no recipient":           func(m *Message) { m.To = "" },
		"no from":                func(m *Message) { m.From = "" },
		"no id":                  func(m *Message) { m.ID = "" },
		"no text":                func(m *Message) { m.Text = " \n" },
		"bad UTF-8":              func(m *Message) { m.Subject = "\xff" },
	}
	for name, mutate := range cases {
		m := ok
		mutate(&m)
		raw, err := m.Bytes(testNow)
		if !errors.Is(err, ErrInvalid) || raw != nil {
			t.Errorf("%s: Bytes = %d bytes, %v; want ErrInvalid", name, len(raw), err)
		}
	}
	if _, err := ok.Bytes(testNow); err != nil {
		t.Fatalf("the valid message: %v", err)
	}
}

func TestNewItem(t *testing.T) {
	m := Message{ID: "i1", To: "c@d.example", Subject: "s", Text: "t"}
	it, err := NewItem(m)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != "i1" || it.Kind != Kind || !bytes.Contains(it.Payload, []byte(`"to":"c@d.example"`)) {
		t.Fatalf("item %+v", it)
	}
	m.Subject = "a\nb"
	if _, err := NewItem(m); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NewItem of an invalid message: %v", err)
	}
}

// CheckAddress refuses what Validate refuses as To, and nothing else.
func TestCheckAddress(t *testing.T) {
	for addr, ok := range map[string]bool{
		"ana@example.com":        true,
		"Ana <ana@example.com>":  true,
		"john doe@example.com":   false, // what `"john doe"@example.com` normalises to
		"a@b@example.com":        false,
		"ana@example.com\r\nBcc": false,
		"":                       false,
	} {
		err := CheckAddress(addr)
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckAddress(%q) = %v", addr, err)
		}
		m := Message{ID: "x", From: "a@example.com", To: addr, Subject: "s", Text: "t"}
		if verr := m.Validate(); (verr == nil) != (err == nil) {
			t.Errorf("%q: Validate says %v, CheckAddress %v", addr, verr, err)
		}
	}
}
