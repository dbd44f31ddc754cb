package smtptest

import (
	"strings"
	"testing"
)

// FuzzParseCommand: the command parsers never panic, and what they return
// is consistent with their input.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"EHLO x", "MAIL FROM:<a@b> SIZE=1", "rcpt to: <c@d>", "MAIL FROM:<>", "RCPT TO:<a b>", "DATA", "", " ", "MAIL FROM:<a@b>x", "AUTH PLAIN AHUAcA=="} {
		f.Add(s, []byte("\x00u\x00p"))
	}
	f.Fuzz(func(t *testing.T, line string, plain []byte) {
		verb, arg := ParseCommand(line)
		if verb != strings.ToUpper(verb) || strings.ContainsAny(verb, " ") {
			t.Fatalf("verb %q", verb)
		}
		if arg != strings.TrimSpace(arg) {
			t.Fatalf("arg %q not trimmed", arg)
		}
		for _, kw := range []string{"FROM:", "TO:"} {
			if p, ok := ParsePath(arg, kw); ok {
				if strings.ContainsAny(p, "<> \t") {
					t.Fatalf("path %q from %q", p, arg)
				}
				if !strings.Contains(arg, "<"+p+">") {
					t.Fatalf("path %q is not in %q", p, arg)
				}
			}
		}
		if _, user, pass, ok := ParsePlain(plain); ok {
			if user == "" || strings.Contains(user, "\x00") || strings.Contains(pass, "\x00") {
				t.Fatalf("PLAIN %q gave user %q pass %q", plain, user, pass)
			}
		}
	})
}
