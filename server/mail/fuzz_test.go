package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/outbox"
)

// FuzzBytes: whatever the caller puts in a message, Bytes either refuses
// it (ErrInvalid) or writes a message that parses back with exactly the
// headers it meant to write (nothing injected), the same subject, and the
// same text.
func FuzzBytes(f *testing.F) {
	f.Add("Hello", "Ana", "board-1", "body\n", "https://x.example/u")
	f.Add("Résumé “x” =?utf-8?q?no?=", "José, Jr.", "v\r\nBcc: x@y", "a\r\n.\r\nb", "")
	f.Add(strings.Repeat("long words ", 30), "", "ü", strings.Repeat("x", 200)+" \n", "http://h.example/a?b=c")
	f.Add("tab\there", "\"quoted\"", "", "line\rcr", "https://h.example/>x")
	f.Fuzz(func(t *testing.T, subject, toName, header, text, unsub string) {
		m := Message{
			ID: "f1", From: "noreply@cork.example",
			To:      (&mail.Address{Name: toName, Address: "ana@example.com"}).String(),
			Subject: subject, Text: text, Unsubscribe: unsub,
			Headers: map[string]string{"X-Test": header},
		}
		raw, err := m.Bytes(testNow)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("does not parse: %v\n%q", err, raw)
		}
		want := []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Auto-Submitted", "Content-Type", "Content-Transfer-Encoding", "X-Test"}
		if unsub != "" {
			want = append(want, "List-Unsubscribe", "List-Unsubscribe-Post")
		}
		if len(msg.Header) != len(want) {
			t.Fatalf("headers %v, want %v", msg.Header, want)
		}
		for _, k := range want {
			if len(msg.Header[k]) != 1 {
				t.Fatalf("header %s appears %d times: %v", k, len(msg.Header[k]), msg.Header)
			}
		}
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || norm(got) != norm(subject) {
			t.Fatalf("subject %q (%v), want %q", got, err, subject)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != "ana@example.com" {
			t.Fatalf("To %v, %v", to, err)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		wantText := strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
		if !strings.HasSuffix(wantText, "\r\n") {
			wantText += "\r\n"
		}
		if string(body) != wantText {
			t.Fatalf("text %q, want %q", body, wantText)
		}
	})
}

// FuzzDeliverPayload: any stored payload is either refused for good or
// sent as a valid message with the item's ID when it names none.
func FuzzDeliverPayload(f *testing.F) {
	good, _ := NewItem(Message{ID: "m", From: "a@b.example", To: "c@d.example", Subject: "s", Text: "t"})
	f.Add(good.Payload)
	f.Add([]byte(`{"to":"c@d.example","text":"t"}`))
	f.Add([]byte(`{"to":"c@d.example\nBcc: x@y","text":"t"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var sent []Message
		d := Deliverer(senderFunc(func(ctx context.Context, m Message) error {
			if err := m.Validate(); err != nil {
				return outbox.Permanent(err)
			}
			sent = append(sent, m)
			return nil
		}))
		err := d.Deliver(t.Context(), outbox.Item{ID: "item", Kind: Kind, Payload: payload})
		if err != nil {
			if !outbox.IsPermanent(err) {
				t.Fatalf("error %v is not permanent", err)
			}
			return
		}
		if len(sent) != 1 || sent[0].ID == "" {
			t.Fatalf("sent %+v", sent)
		}
		if _, err := sent[0].Bytes(testNow); err != nil && sent[0].From != "" {
			t.Fatalf("a validated message does not encode: %v", err)
		}
	})
}

type senderFunc func(ctx context.Context, m Message) error

func (f senderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
