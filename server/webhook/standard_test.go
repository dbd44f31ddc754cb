package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
)

// The example of the Standard Webhooks specification: its secret, message
// id, timestamp and payload give its signature.
func TestSignStandardSpecExample(t *testing.T) {
	got, err := SignStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

// standardReceiver verifies a Standard Webhooks request with code of its
// own, written from the specification (not this package's): the key is
// the base64 after "whsec_"; the signed content is id.timestamp.body; any
// of the space-separated v1 signatures may match, compared in constant
// time; the timestamp must be within five minutes of the receiver's clock.
// It answers 204, or 401 with the reason.
func standardReceiver(t *testing.T, secret string, now func() time.Time, got chan<- error) *httptest.Server {
	verify := func(r *http.Request, body []byte) error {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return err
		}
		id, ts := r.Header.Get("Webhook-Id"), r.Header.Get("Webhook-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || id == "" {
			return errors.New("missing id or timestamp")
		}
		if d := now().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
			return errors.New("timestamp outside the window")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range strings.Split(r.Header.Get("Webhook-Signature"), " ") {
			if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
				if b, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(b, want) {
					return nil
				}
			}
		}
		return errors.New("no signature matches")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := verify(r, body)
		got <- err
		if err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A webhook in the standard format: the receiver's own check passes on the
// request as sent, and fails on a changed body and on a request signed
// too long ago (which the sender takes as final: 401). The default format
// still signs with Corkboard-Signature only.
func TestStandardWebhooksReceiverVerifies(t *testing.T) {
	secret := NewStandardSecret()
	if key, err := StandardKey(secret); err != nil || len(key) != 32 {
		t.Fatalf("new secret %q: %d bytes, %v", secret, len(key), err)
	}
	got := make(chan error, 8)
	now := time.Now
	rc := standardReceiver(t, secret, func() time.Time { return now() }, got)
	req := Request{ID: "webhook/b/1-2/element/h", URL: rc.URL, Event: "element", Body: []byte(`{"id":"webhook/b/1-2/element/h","n":1}`), Secret: secret, Format: FormatStandard}
	s := &Sender{Client: PrivateClient(0)}
	if err := s.Post(t.Context(), req, 1); err != nil {
		t.Fatalf("post: %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the receiver refused a good request: %v", err)
	}

	// Tampered in transit: the body changed, the headers kept.
	var captured http.Header
	var capturedBody []byte
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		captured = r.Header.Clone()
		capturedBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(204)
	}))
	defer capture.Close()
	req.URL = capture.URL
	if err := s.Post(t.Context(), req, 1); err != nil {
		t.Fatal(err)
	}
	if captured.Get("Corkboard-Signature") != "" || captured.Get("Corkboard-Delivery") != "" || captured.Get("Webhook-Id") != req.ID {
		t.Fatalf("standard headers %v", captured)
	}
	if err := VerifyStandard(secret, captured, capturedBody, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("VerifyStandard on the request as sent: %v", err)
	}
	tampered, _ := http.NewRequest("POST", rc.URL, strings.NewReader(strings.Replace(string(capturedBody), `"n":1`, `"n":2`, 1)))
	tampered.Header = captured
	resp, err := http.DefaultClient.Do(tampered)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-got; err == nil || resp.StatusCode != 401 {
		t.Fatalf("a tampered body passed the receiver (%d, %v)", resp.StatusCode, err)
	}
	if err := VerifyStandard(secret, captured, []byte(`{"n":2}`), time.Now(), 5*time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("VerifyStandard on a tampered body: %v", err)
	}

	// Signed ten minutes ago: outside the receiver's window.
	old := &Sender{Client: PrivateClient(0), Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	req.URL = rc.URL
	err = old.Post(t.Context(), req, 1)
	if rerr := <-got; rerr == nil {
		t.Fatal("an old timestamp passed the receiver")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 || !outbox.IsPermanent(err) {
		t.Fatalf("old request: %v", err)
	}
	captured.Set("Webhook-Timestamp", strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
	if err := VerifyStandard(secret, captured, capturedBody, time.Now(), 5*time.Minute); err == nil {
		t.Fatal("VerifyStandard took a timestamp moved back (its signature no longer matches either)")
	}

	// The default format is unchanged.
	req.URL, req.Format, req.Secret = capture.URL, "", "corkboard-secret"
	if err := s.Post(t.Context(), req, 1); err != nil {
		t.Fatal(err)
	}
	if captured.Get("Webhook-Signature") != "" || Verify("corkboard-secret", captured.Get("Corkboard-Signature"), capturedBody, time.Now(), time.Minute) != nil {
		t.Fatalf("default format headers %v", captured)
	}
}

// A standard webhook needs a "whsec_" secret of 24 to 64 bytes; a format
// is one of the two.
func TestStandardValidates(t *testing.T) {
	base := Request{ID: "d", URL: "https://example.com/h", Event: "element", Body: []byte(`{}`)}
	for _, c := range []struct {
		secret, format string
		ok             bool
	}{
		{NewStandardSecret(), FormatStandard, true},
		{"plain", FormatStandard, false},
		{"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), FormatStandard, false},
		{"whsec_not base64!", FormatStandard, false},
		{"plain", FormatCorkboard, true},
		{"plain", "", true},
		{"plain", "svix", false},
	} {
		r := base
		r.Secret, r.Format = c.secret, c.format
		if err := r.Validate(); (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("secret %q format %q: %v", c.secret, c.format, err)
		}
	}
}
