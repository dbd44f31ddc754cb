package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/mail/smtptest"
)

// TestOutboxSurvivesKill: the real binary enqueues invite e-mails and a
// webhook call, is killed with SIGKILL while the SMTP relay holds a
// message mid-send, and restarts on the same data: every e-mail and the
// webhook call arrive, exactly once after deduplication by Message-ID
// and delivery id (the documented contract), and duplicates are limited to
// what was in flight at the kill.
func TestOutboxSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	srv, err := smtptest.Start(smtptest.Options{NoSTARTTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetHang(func(smtptest.Received) bool { return true })

	var mu sync.Mutex
	hooks := map[string]int{}
	hookGot := make(chan struct{}, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		hooks[r.Header.Get("Corkboard-Delivery")]++
		mu.Unlock()
		w.WriteHeader(204)
		hookGot <- struct{}{}
	}))
	defer recv.Close()

	bin := buildCorkboard(t)
	dir := t.TempDir()
	args := []string{"--smtp-addr", srv.Addr(), "--smtp-tls", "none", "--mail-from", "Corkboard <boards@corkboard.test>", "--webhooks-private"}
	p := startCorkboard(t, bin, dir, args...)
	tn := p.node(t)
	b := tn.createBoard(`{"name":"outbox"}`)
	call := func(base, method, path string, body any) int {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, strings.NewReader(string(raw)))
		req.Header.Set("Authorization", "Bearer "+b.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// The webhook first (its call is held back by nothing: it may arrive
	// before or after the kill), then five sign-in links.
	if code := call(p.base, "POST", "/v1/boards/"+b.Board.ID+"/webhooks", map[string]any{"url": recv.URL, "events": []string{"vote"}}); code != 201 {
		t.Fatalf("webhook: %d", code)
	}
	if code := call(p.base, "POST", "/v1/boards/"+b.Board.ID+"/voting", map[string]any{"dots": 0}); code != 200 {
		t.Fatalf("voting: %d", code)
	}
	if code := call(p.base, "POST", "/v1/boards/"+b.Board.ID+"/voting/close", nil); code != 200 {
		t.Fatalf("close voting: %d", code)
	}
	const n = 5
	for i := 0; i < n; i++ {
		if code := call(p.base, "POST", "/v1/signin", map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}); code != 202 {
			t.Fatalf("sign-in link %d: %d", i, code)
		}
	}
	// The relay holds the first message it gets: the sender is mid-send.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-srv.Hung():
	case <-ctx.Done():
		t.Fatal("no e-mail reached the relay")
	}
	p.kill(t)
	inFlight := len(srv.Messages())

	// Restart on the same data, the relay healthy again.
	srv.SetHang(nil)
	p2 := startCorkboard(t, bin, dir, args...)
	_ = p2
	ids := map[string]int{}
	perRecipient := map[string]map[string]bool{}
	for want := 0; ; {
		msgs, err := srv.Wait(ctx, want+1)
		if err != nil {
			t.Fatalf("e-mails after restart: %d distinct of %d (%v)", len(ids), n, err)
		}
		for _, m := range msgs[want:] {
			ids[m.MessageID()]++
			rcpt := m.To[0]
			if perRecipient[rcpt] == nil {
				perRecipient[rcpt] = map[string]bool{}
			}
			perRecipient[rcpt][m.MessageID()] = true
		}
		want = len(msgs)
		if len(ids) == n {
			break
		}
	}
	for i := 0; i < n; i++ {
		if got := perRecipient[fmt.Sprintf("p%d@example.com", i)]; len(got) != 1 {
			t.Errorf("p%d got %d distinct e-mails, want 1", i, len(got))
		}
	}
	dups := len(srv.Messages()) - n
	if dups > inFlight {
		t.Errorf("%d duplicate e-mails, but only %d were in flight at the kill", dups, inFlight)
	}
	t.Logf("%d e-mails, %d duplicates (in flight at the kill: %d)", n, dups, inFlight)
	select {
	case <-hookGot:
	case <-ctx.Done():
		t.Fatal("the webhook call never arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 1 {
		t.Fatalf("webhook deliveries by id: %v", hooks)
	}
}
