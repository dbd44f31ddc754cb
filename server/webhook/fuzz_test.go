package webhook

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseSignature: any header parses or fails with
// ErrBadSignatureHeader, never a panic; what parses has a timestamp and
// 32-byte MACs; and Verify accepts exactly what Sign made.
func FuzzParseSignature(f *testing.F) {
	f.Add("t=1800000000,v1="+"ab"+"00112233445566778899aabbccddeeff00112233445566778899aabbccddee", []byte(`{}`))
	f.Add(Sign("k", 1800000000, []byte(`{"a":1}`)), []byte(`{"a":1}`))
	f.Add("t=1,v1=00,v0=zz", []byte{})
	f.Add("t=,v1=", []byte{})
	f.Add(" t = 1 , v1 = 0", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		s, err := ParseSignature(header)
		if err != nil {
			if !errors.Is(err, ErrBadSignatureHeader) {
				t.Fatalf("error %v does not wrap ErrBadSignatureHeader", err)
			}
		} else {
			if s.T < 0 || len(s.V1) == 0 {
				t.Fatalf("parsed %+v", s)
			}
			for _, v := range s.V1 {
				if len(v) != 32 {
					t.Fatalf("v1 of %d bytes", len(v))
				}
			}
		}
		now := time.Unix(1800000000, 0)
		if err := Verify("k", Sign("k", now.Unix(), body), body, now, time.Second); err != nil {
			t.Fatalf("Verify refuses Sign's header: %v", err)
		}
	})
}
