// Package webhook delivers per-board webhooks: an HTTP POST of a JSON event
// to a URL the board's owner configured, signed with HMAC-SHA256 of a
// shared secret, retried from the durable outbox.
//
// # The receiver's side
//
// Each request carries:
//
//	Content-Type:        application/json
//	Corkboard-Event:     the event name ("element.created", "comment.created", ...)
//	Corkboard-Delivery:  the delivery id, the same on every retry
//	Corkboard-Attempt:   1 on the first attempt, 2 on the second, ...
//	Corkboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A receiver checks the signature with Verify (or the same computation in
// its own language), refuses a timestamp too far from its clock (replays),
// and deduplicates by Corkboard-Delivery: a delivery is sent again when the
// node could not record its success (a crash right after the receiver
// answered), so "at least once, with a stable id" is the guarantee. Any 2xx
// is success. A redirect, 410 Gone and the other 4xx (except 408 and 429)
// stop the retries for good; 5xx, 408, 429, timeouts and network errors
// are retried with backoff.
//
// Signing "<t>.<body>" rather than the body alone binds the timestamp, so
// an old request cannot be replayed with a fresh t. The header may carry
// several v1 values (a secret being rotated); Verify accepts any match.
//
// A webhook may instead be in the Standard Webhooks format (standard.go):
// webhook-id, webhook-timestamp and webhook-signature in place of
// Corkboard-Delivery and Corkboard-Signature, checked with VerifyStandard
// or any Standard Webhooks library.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
)

// Kind is the outbox item kind of webhooks.
const Kind = "webhook"

// defaultClient is the client of a Sender without one.
var defaultClient = PublicClient(30 * time.Second)

// Destination is the outbox lane's Destination of webhooks: the host name
// of the item's URL, lower case, without the port ("" for a payload that
// does not decode: its attempt fails for good anyway). Deliveries are
// limited and backed off per destination. The port is left out so that a
// receiver cannot spread itself over more slots by listing one host under
// many ports; names are not resolved, so distinct names of one address are
// distinct destinations (the lane's limit still bounds them together).
func Destination(it outbox.Item) string {
	var r struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(it.Payload, &r) != nil {
		return ""
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// DeadPayload is the outbox lane's DeadPayload of webhooks: what a
// delivery that failed for good keeps, its id, URL, event and format, for
// an operator to see where it went. Not its body, which may be MiBs (a
// window's changes can be read again from the board), nor its secret.
// A payload that does not decode is kept as is (it is an undecodable
// item's evidence).
func DeadPayload(it outbox.Item) []byte {
	var r Request
	if json.Unmarshal(it.Payload, &r) != nil {
		return it.Payload
	}
	b, err := json.Marshal(struct {
		ID     string `json:"id"`
		URL    string `json:"url"`
		Event  string `json:"event"`
		Format string `json:"format,omitempty"`
	}{r.ID, r.URL, r.Event, r.Format})
	if err != nil {
		return nil
	}
	return b
}

// Request is one webhook call. It is also the JSON payload of an outbox
// item of kind "webhook", so its field names are a stored format.
type Request struct {
	// ID is the delivery id (Corkboard-Delivery), stable across retries.
	ID string `json:"id"`
	// URL is the receiver, http or https.
	URL string `json:"url"`
	// Event names what happened: "element.created", "element.changed",
	// "comment.created", "vote.changed", "deadline.reached".
	Event string `json:"event"`
	// Body is the JSON document posted, as is.
	Body json.RawMessage `json:"body"`
	// Secret is the board's webhook secret, the HMAC key. It is stored
	// in the outbox with the request: a secret rotated while a delivery
	// waits does not change what that delivery is signed with, and the
	// outbox lives in the same store as the board's settings anyway.
	Secret string `json:"secret"`
	// Format is how the request is signed: "" or FormatCorkboard
	// (Corkboard-Signature), or FormatStandard (Standard Webhooks, with a
	// "whsec_" Secret; standard.go).
	Format string `json:"format,omitempty"`
}

// ErrInvalid is returned (wrapped) for a request that cannot be sent: no
// ID, a URL that is not absolute http(s), a body that is not JSON, an event
// name with characters a header cannot carry.
var ErrInvalid = errors.New("webhook: invalid request")

// Validate checks r.
func (r *Request) Validate() error {
	if r.ID == "" || len(r.ID) > 500 || !visibleASCII(r.ID) {
		return fmt.Errorf("%w: id %q must be 1-500 visible ASCII characters", ErrInvalid, r.ID)
	}
	if r.Event == "" || len(r.Event) > 100 || !eventName(r.Event) {
		return fmt.Errorf("%w: event %q must be 1-100 of a-z, A-Z, 0-9, '.', '_', '-'", ErrInvalid, r.Event)
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: url %q is not an absolute http(s) URL", ErrInvalid, r.URL)
	}
	if !json.Valid(r.Body) {
		return fmt.Errorf("%w: body is not JSON", ErrInvalid)
	}
	if r.Secret == "" {
		return fmt.Errorf("%w: no secret", ErrInvalid)
	}
	if !ValidFormat(r.Format) {
		return fmt.Errorf("%w: format %q", ErrInvalid, r.Format)
	}
	if r.Format == FormatStandard {
		if _, err := StandardKey(r.Secret); err != nil {
			return err
		}
	}
	return nil
}

// visibleASCII: what a header carries unchanged (no spaces, which header
// parsing trims).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func eventName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewItem returns the outbox item that delivers r: kind "webhook", ID
// r.ID, r as JSON. It validates r first, so a bad request is refused at
// enqueue rather than dead-lettered.
func NewItem(r Request) (outbox.Item, error) {
	if err := r.Validate(); err != nil {
		return outbox.Item{}, err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return outbox.Item{}, fmt.Errorf("webhook: encode: %w", err)
	}
	return outbox.Item{ID: r.ID, Kind: Kind, Payload: payload}, nil
}

// Sign returns the Corkboard-Signature header value for body sent at unix
// time t: "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret string, t int64, body []byte) string {
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret string, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verify, for receivers that answer differently.
var (
	ErrBadSignatureHeader = errors.New("webhook: malformed signature header")
	ErrSignatureMismatch  = errors.New("webhook: signature does not match")
	ErrTimestamp          = errors.New("webhook: timestamp outside the tolerance")
)

// Signature is a parsed Corkboard-Signature header.
type Signature struct {
	T  int64    // unix seconds
	V1 [][]byte // HMAC-SHA256 values, 32 bytes each
}

// ParseSignature parses a Corkboard-Signature header: comma-separated
// key=value pairs with exactly one t (decimal unix seconds) and at least
// one v1 (64 hex digits). Unknown keys are ignored, so a later scheme can
// be added beside v1; anything else malformed is ErrBadSignatureHeader.
func ParseSignature(header string) (Signature, error) {
	var s Signature
	if len(header) > 4096 {
		return s, fmt.Errorf("%w: %d bytes", ErrBadSignatureHeader, len(header))
	}
	seenT := false
	for field := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: %q is not key=value", ErrBadSignatureHeader, field)
		}
		switch k {
		case "t":
			if seenT {
				return Signature{}, fmt.Errorf("%w: two timestamps", ErrBadSignatureHeader)
			}
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil || t < 0 || v == "" || v[0] == '+' {
				return Signature{}, fmt.Errorf("%w: timestamp %q", ErrBadSignatureHeader, v)
			}
			s.T, seenT = t, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 %q is not 64 hex digits", ErrBadSignatureHeader, v)
			}
			s.V1 = append(s.V1, b)
		}
	}
	if !seenT || len(s.V1) == 0 {
		return Signature{}, fmt.Errorf("%w: needs t and v1", ErrBadSignatureHeader)
	}
	return s, nil
}

// Verify checks a Corkboard-Signature header against body and secret, and
// that its timestamp is within tolerance of now (either way). It is what a
// receiver runs before trusting a request.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	s, err := ParseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, s.T, body)
	match := false
	for _, v := range s.V1 {
		if hmac.Equal(v, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(s.T, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %d, %v from now", ErrTimestamp, s.T, d.Round(time.Second))
	}
	return nil
}

// Sender posts webhook requests. The zero value is usable.
type Sender struct {
	// Client sends the requests. Nil means PublicClient(30 * time.Second):
	// only public addresses. Redirects are never followed, whatever the client says: a
	// POST redirected becomes a GET in most clients, and a receiver that
	// moved should be reconfigured, not chased.
	Client *http.Client
	// Now is the clock of the signature timestamp. Nil means time.Now.
	Now func() time.Time
	// UserAgent is sent as User-Agent. Empty means "Corkboard-Webhook/1".
	UserAgent string
}

// Deliverer returns the outbox deliverer of kind "webhook", posting with
// client (nil: PublicClient(30 * time.Second)). An install whose webhooks
// deliberately go to a private network passes PrivateClient.
func Deliverer(client *http.Client) outbox.Deliverer {
	return &Sender{Client: client}
}

// Deliver implements outbox.Deliverer: it decodes the item's payload (a
// JSON Request; an empty ID becomes the item's) and posts it.
func (s *Sender) Deliver(ctx context.Context, it outbox.Item) error {
	var r Request
	if err := json.Unmarshal(it.Payload, &r); err != nil {
		return outbox.Permanent(fmt.Errorf("%w: payload of %q: %v", ErrInvalid, it.ID, err))
	}
	if r.ID == "" {
		r.ID = it.ID
	}
	return s.Post(ctx, r, it.Attempts+1)
}

// StatusError is the error of a delivery the receiver answered with a
// non-2xx status.
type StatusError struct {
	Code int
	Body string // the start of the response body, for the operator
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("webhook: receiver answered %d", e.Code)
	}
	return fmt.Sprintf("webhook: receiver answered %d: %s", e.Code, e.Body)
}

// Post sends r once, as attempt number attempt (>= 1). The error is
// outbox.Permanent for an invalid request and for a status that retrying
// will not change: 3xx, and 4xx except 408 (timeout) and 429 (rate
// limited). Other statuses, timeouts and network errors are transient.
func (s *Sender) Post(ctx context.Context, r Request, attempt int) error {
	if err := r.Validate(); err != nil {
		return outbox.Permanent(err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	client := s.Client
	if client == nil {
		client = defaultClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return outbox.Permanent(fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	ua := s.UserAgent
	if ua == "" {
		ua = "Corkboard-Webhook/1"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Corkboard-Event", r.Event)
	req.Header.Set("Corkboard-Attempt", strconv.Itoa(max(attempt, 1)))
	if r.Format == FormatStandard {
		if err := setStandardHeaders(req.Header, r, now().Unix()); err != nil {
			return outbox.Permanent(err)
		}
	} else {
		req.Header.Set("Corkboard-Delivery", r.ID)
		req.Header.Set("Corkboard-Signature", Sign(r.Secret, now().Unix(), r.Body))
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		err = fmt.Errorf("webhook %s: %w", r.ID, err)
		if errors.Is(err, ErrNotPublic) {
			return outbox.Permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	// Drain a little more so the connection can be reused; a receiver
	// that answers with megabytes gets its connection closed instead.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &StatusError{Code: resp.StatusCode, Body: strings.ToValidUTF8(strings.TrimSpace(string(head)), "?")}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests:
		return serr
	case c >= 300 && c < 500:
		return outbox.Permanent(serr)
	}
	return serr
}
