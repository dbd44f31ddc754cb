package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
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

// FuzzDeliverPayload: any stored payload either is refused for good before
// any request is made, or is posted signed, with its delivery id.
func FuzzDeliverPayload(f *testing.F) {
	var mu sync.Mutex
	var last *http.Request
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last, lastBody = r, b
		mu.Unlock()
	}))
	defer srv.Close()
	// Payloads name the server "SRV": fuzzing runs this function in
	// several processes, each with its own server.
	good, _ := NewItem(Request{ID: "d", URL: "http://SRV/", Event: "e", Body: json.RawMessage(`{"a":[1,2]}`), Secret: "k"})
	f.Add(good.Payload)
	f.Add([]byte(`{"id":"","url":"http://SRV","event":"e","body":1,"secret":"k"}`))
	f.Add([]byte(`{"url":"http://SRV/x","event":"e\n","body":{},"secret":"k"}`))
	f.Add([]byte(`[]`))
	d := Deliverer(srv.Client())
	host := strings.TrimPrefix(srv.URL, "http://")
	f.Fuzz(func(t *testing.T, payload []byte) {
		payload = bytes.ReplaceAll(payload, []byte("SRV"), []byte(host))
		mu.Lock()
		last = nil
		mu.Unlock()
		var r Request
		jsonErr := json.Unmarshal(payload, &r)
		err := d.Deliver(t.Context(), outbox.Item{ID: "item-id", Kind: Kind, Payload: payload})
		mu.Lock()
		req, body := last, lastBody
		mu.Unlock()
		if err != nil {
			if jsonErr != nil && !outbox.IsPermanent(err) {
				t.Fatalf("undecodable payload: %v is not permanent", err)
			}
			if errors.Is(err, ErrInvalid) && req != nil {
				t.Fatalf("an invalid request was sent")
			}
			return
		}
		if req == nil {
			t.Fatalf("delivered without a request")
		}
		if r.ID == "" {
			r.ID = "item-id"
		}
		if req.Header.Get("Corkboard-Delivery") != r.ID || req.Header.Get("Corkboard-Event") != r.Event {
			t.Fatalf("headers %v for %+v", req.Header, r)
		}
		if err := Verify(r.Secret, req.Header.Get("Corkboard-Signature"), body, time.Now(), time.Minute); err != nil {
			t.Fatalf("signature: %v", err)
		}
	})
}
