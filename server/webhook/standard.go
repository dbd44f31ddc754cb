package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks format (https://www.standardwebhooks.com), offered
// per webhook beside the Corkboard-Signature format, so that receivers
// built on one of its libraries (or a platform that speaks it) verify our
// calls without code of their own. A webhook in this format is sent with:
//
//	webhook-id:        the delivery id, the same on every retry
//	webhook-timestamp: unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
//
// where key is the base64-decoded part of the secret after "whsec_". The
// Corkboard-Event and Corkboard-Attempt headers are sent too.
//
// Rejected: switching every webhook to this format (receivers written for
// Corkboard-Signature would break); deriving its key from a Corkboard
// secret (the spec's libraries take a "whsec_" secret as given, so the
// secret must be one).

// Formats of a webhook's requests.
const (
	FormatCorkboard = "corkboard" // Corkboard-Signature (the default, also "")
	FormatStandard  = "standard"  // Standard Webhooks
)

// ValidFormat says whether f is a format a webhook may have ("" is the
// default, FormatCorkboard).
func ValidFormat(f string) bool { return f == "" || f == FormatCorkboard || f == FormatStandard }

// StandardSecretPrefix starts a Standard Webhooks secret.
const StandardSecretPrefix = "whsec_"

// NewStandardSecret returns a new Standard Webhooks secret: "whsec_" and
// the standard base64 of 32 random bytes.
func NewStandardSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return StandardSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// StandardKey returns the HMAC key of a Standard Webhooks secret: the
// base64 after "whsec_", of 24 to 64 bytes as the spec requires.
func StandardKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, StandardSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: a standard webhook secret starts with %q", ErrInvalid, StandardSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("%w: a standard webhook secret is %q and the base64 of 24 to 64 bytes", ErrInvalid, StandardSecretPrefix)
	}
	return key, nil
}

// SignStandard returns the webhook-signature header value for a message
// id and body sent at unix time t: "v1," and the base64 of
// HMAC-SHA256(key, "<id>.<t>.<body>").
func SignStandard(secret, id string, t int64, body []byte) (string, error) {
	key, err := StandardKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(key, id, t, body)), nil
}

func standardMAC(key []byte, id string, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// setStandardHeaders signs r's body for attempt time t, Standard Webhooks
// style.
func setStandardHeaders(h http.Header, r Request, t int64) error {
	sig, err := SignStandard(r.Secret, r.ID, t, r.Body)
	if err != nil {
		return err
	}
	h.Set("webhook-id", r.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(t, 10))
	h.Set("webhook-signature", sig)
	return nil
}

// VerifyStandard checks a Standard Webhooks request: its webhook-signature
// (space-separated "v1,<base64>" values, any of which may match; other
// versions are ignored) against the id, timestamp and body, compared in
// constant time, and that webhook-timestamp is within tolerance of now
// (the spec suggests 5 minutes). It is what a Go receiver runs.
func VerifyStandard(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := StandardKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are needed", ErrBadSignatureHeader)
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || t < 0 {
		return fmt.Errorf("%w: webhook-timestamp %q", ErrBadSignatureHeader, ts)
	}
	want := standardMAC(key, id, t, body)
	match := false
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %d, %v from now", ErrTimestamp, t, d.Round(time.Second))
	}
	return nil
}
