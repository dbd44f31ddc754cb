package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/storage"
)

// receiver is an HTTP endpoint that verifies what it gets and answers with
// the status it is told.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	status int // 0: 204
	got    []got
}

type got struct {
	delivery, event, attempt string
	body                     []byte
	verifyErr                error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g := got{
		delivery:  r.Header.Get("Corkboard-Delivery"),
		event:     r.Header.Get("Corkboard-Event"),
		attempt:   r.Header.Get("Corkboard-Attempt"),
		body:      body,
		verifyErr: Verify(rc.secret, r.Header.Get("Corkboard-Signature"), body, time.Now(), 5*time.Minute),
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		g.verifyErr = errors.New("not a JSON POST")
	}
	rc.mu.Lock()
	rc.got = append(rc.got, g)
	status := rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
	io.WriteString(w, "answer body")
}

func (rc *receiver) setStatus(s int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = s
}

func (rc *receiver) received() []got {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]got(nil), rc.got...)
}

func TestPostSignedAndClassified(t *testing.T) {
	rc := &receiver{t: t, secret: "s3cret"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := &Sender{Client: srv.Client()}
	r := Request{ID: "d1", URL: srv.URL + "/hook", Event: "comment.created", Body: json.RawMessage(`{"text":"hi"}`), Secret: "s3cret"}
	if err := s.Post(t.Context(), r, 1); err != nil {
		t.Fatal(err)
	}
	g := rc.received()
	if len(g) != 1 || g[0].verifyErr != nil || g[0].delivery != "d1" || g[0].event != "comment.created" || g[0].attempt != "1" || string(g[0].body) != `{"text":"hi"}` {
		t.Fatalf("received %+v", g)
	}
	for _, c := range []struct {
		status    int
		permanent bool
	}{
		{500, false}, {503, false}, {408, false}, {429, false},
		{410, true}, {400, true}, {404, true}, {301, true},
	} {
		rc.setStatus(c.status)
		err := s.Post(t.Context(), r, 2)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != c.status || outbox.IsPermanent(err) != c.permanent {
			t.Errorf("status %d: error %v (permanent %v), want permanent %v", c.status, err, outbox.IsPermanent(err), c.permanent)
		}
		if c.status != 301 && !strings.Contains(err.Error(), "answer body") {
			t.Errorf("status %d: error %q lacks the response body", c.status, err)
		}
	}
	// A network error is transient.
	srv.Close()
	if err := s.Post(t.Context(), r, 3); err == nil || outbox.IsPermanent(err) {
		t.Errorf("closed server: %v, want a transient error", err)
	}
	// An invalid request is permanent, before any network.
	bad := r
	bad.URL = "ftp://x.example/"
	if err := s.Post(t.Context(), bad, 1); !errors.Is(err, ErrInvalid) || !outbox.IsPermanent(err) {
		t.Errorf("invalid request: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign("k", now.Unix(), body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("k", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := Verify("other", h, body, now, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify("k", h, []byte(`{"a":2}`), now, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("changed body: %v", err)
	}
	if err := Verify("k", h, body, now.Add(10*time.Minute), 5*time.Minute); !errors.Is(err, ErrTimestamp) {
		t.Errorf("old timestamp: %v", err)
	}
	if err := Verify("k", h, body, now.Add(-10*time.Minute), 5*time.Minute); !errors.Is(err, ErrTimestamp) {
		t.Errorf("future timestamp: %v", err)
	}
	// The timestamp is signed: moving it breaks the signature.
	moved := strings.Replace(h, "t=1800000000", "t=1800000600", 1)
	if err := Verify("k", moved, body, now.Add(10*time.Minute), 5*time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("replayed with a new timestamp: %v", err)
	}
	// Rotation: any v1 may match; unknown schemes are ignored.
	rotated := Sign("old", now.Unix(), body) + "," + strings.SplitN(h, ",", 2)[1] + ",v9=zz"
	if err := Verify("k", rotated, body, now, time.Minute); err != nil {
		t.Errorf("two v1 values: %v", err)
	}
	for _, bad := range []string{"", "t=1", "v1=" + strings.Repeat("0", 64), "t=x,v1=" + strings.Repeat("0", 64),
		"t=1,t=1,v1=" + strings.Repeat("0", 64), "t=1,v1=abc", "t=-5,v1=" + strings.Repeat("0", 64), "t=1,,v1=" + strings.Repeat("0", 64)} {
		if err := Verify("k", bad, body, now, time.Minute); !errors.Is(err, ErrBadSignatureHeader) {
			t.Errorf("header %q: %v, want ErrBadSignatureHeader", bad, err)
		}
	}
}

// Through the outbox on a real store: a receiver down for a while gets the
// delivery once it is back, with the attempt number; a 410 dead-letters.
func TestOutboxRetriesWebhook(t *testing.T) {
	ctx := t.Context()
	st, err := storage.OpenPebble(t.TempDir(), storage.PebbleOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rc := &receiver{t: t, secret: "s", status: 503}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	o := outbox.New(st, outbox.Config{Now: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinBackoff: time.Minute, Seed: 7})
	o.Register(Kind, Deliverer(srv.Client()))

	it, err := NewItem(Request{ID: "board1/vote/9", URL: srv.URL, Event: "vote.changed", Body: json.RawMessage(`{"votes":3}`), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := NewItem(Request{ID: "board1/gone", URL: srv.URL + "/gone", Event: "vote.changed", Body: json.RawMessage(`{}`), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, it); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := o.RunDue(ctx); n != 0 || err != nil {
			t.Fatalf("RunDue while down = %d, %v", n, err)
		}
		advance(time.Hour)
	}
	rc.setStatus(200)
	if n, err := o.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue when back = %d, %v", n, err)
	}
	g := rc.received()
	if len(g) != 4 {
		t.Fatalf("%d requests, want 4", len(g))
	}
	for i, r := range g {
		if r.delivery != "board1/vote/9" || r.attempt != string(rune('1'+i)) || r.verifyErr != nil {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	rc.setStatus(410)
	if err := o.Enqueue(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	dead, err := o.Dead(ctx)
	if err != nil || len(dead) != 1 || dead[0].ID != "board1/gone" || !strings.Contains(dead[0].LastError, "410") {
		t.Fatalf("dead %+v, %v", dead, err)
	}
}

func TestNewItemValidates(t *testing.T) {
	good := Request{ID: "x", URL: "https://h.example/", Event: "e", Body: json.RawMessage(`{}`), Secret: "s"}
	if _, err := NewItem(good); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Request){
		"no id":        func(r *Request) { r.ID = "" },
		"newline id":   func(r *Request) { r.ID = "a\nb" },
		"newline evt":  func(r *Request) { r.Event = "a\r\nX-Evil: 1" },
		"relative url": func(r *Request) { r.URL = "/hook" },
		"bad body":     func(r *Request) { r.Body = json.RawMessage(`{`) },
		"no secret":    func(r *Request) { r.Secret = "" },
	} {
		r := good
		mutate(&r)
		if _, err := NewItem(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// The payload decodes back to the request.
	it, _ := NewItem(good)
	var back Request
	if err := json.Unmarshal(it.Payload, &back); err != nil || back.URL != good.URL || string(back.Body) != "{}" {
		t.Fatalf("payload %s: %v", it.Payload, err)
	}
}

func TestPublicClient(t *testing.T) {
	rc := &receiver{t: t, secret: "s"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := &Sender{Client: PublicClient(0)}
	err := s.Post(t.Context(), Request{ID: "p", URL: srv.URL, Event: "e", Body: json.RawMessage(`{}`), Secret: "s"}, 1)
	if !errors.Is(err, ErrNotPublic) || !outbox.IsPermanent(err) {
		t.Fatalf("POST to loopback with PublicClient: %v, want permanent ErrNotPublic", err)
	}
	if n := len(rc.received()); n != 0 {
		t.Fatalf("receiver on loopback got %d requests", n)
	}
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "100.64.0.1": false, "0.0.0.0": false,
		"::": false, "224.0.0.1": false, "255.255.255.255": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::a00:1": false, "2002:a00:1::": false, "198.18.0.1": false,
	} {
		if got := IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

// A webhook's dead letter keeps where the delivery went, not its body or
// its secret.
func TestDeadPayload(t *testing.T) {
	req := Request{ID: "webhook/b/1-2/element/w", URL: "https://hooks.example.com/x", Event: "element",
		Body: json.RawMessage(`{"events":["` + strings.Repeat("x", 1<<20) + `"]}`), Secret: "s3cret-of-the-hook", Format: FormatStandard}
	p, _ := json.Marshal(req)
	got := DeadPayload(outbox.Item{ID: req.ID, Kind: Kind, Payload: p})
	var kept Request
	if err := json.Unmarshal(got, &kept); err != nil {
		t.Fatal(err)
	}
	if kept.ID != req.ID || kept.URL != req.URL || kept.Event != req.Event || kept.Format != req.Format {
		t.Fatalf("kept %+v", kept)
	}
	if len(got) > 512 || strings.Contains(string(got), req.Secret) || kept.Body != nil {
		t.Fatalf("a dead letter keeps %d bytes: %.200s", len(got), got)
	}
}
