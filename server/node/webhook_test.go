package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/webhook"
)

// TestWebhooks: a board's webhook gets signed deliveries from the durable
// outbox, one per event class (element, comment, vote) for changes made
// within one debounce window.
func TestWebhooks(t *testing.T) {
	type delivery struct {
		event, id string
		body      map[string]any
		sigErr    error
	}
	got := make(chan delivery, 64)
	var secret string
	ready := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(b, &body)
		got <- delivery{r.Header.Get("Corkboard-Event"), r.Header.Get("Corkboard-Delivery"), body,
			webhook.Verify(secret, r.Header.Get("Corkboard-Signature"), b, time.Now(), 5*time.Minute)}
		w.WriteHeader(204)
	}))
	defer recv.Close()
	// The outbox runs by itself here: deliveries are due at once, and the
	// receiver's channel is the signal.
	e := newAsyncEnv(t, time.Now(), func(c *node.Config) {
		c.OutboxManual = false
		c.WebhookClient = webhook.PrivateClient(0) // the receiver is on loopback
	})
	owner := e.signIn("owner@example.com")
	board := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "hooks"})["board"].(map[string]any)["id"].(string)
	wh := e.must(201, "POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": recv.URL + "/hook"})["webhook"].(map[string]any)
	secret = wh["secret"].(string)
	close(ready)
	if list := e.must(200, "GET", "/v1/boards/"+board+"/webhooks", owner, nil)["webhooks"].([]any); len(list) != 1 || list[0].(map[string]any)["secret"] != nil {
		t.Fatalf("webhook list shows secrets or lacks the hook: %v", list)
	}
	if code, _ := e.call("POST", "/v1/boards/"+board+"/webhooks", owner, map[string]any{"url": "ftp://x"}); code != 400 {
		t.Fatalf("a non-http webhook: %d", code)
	}

	c := e.dial(board, owner, 0x7001)
	note := newID("hooked")
	uid := e.userID(owner)
	mustEdit(t, c, e.clk.Now(), noteTx(note, "hello"))
	mustEdit(t, c, e.clk.Now(), commentTx(newID("hooked-c"), note, uid, "a comment"))
	mustEdit(t, c, e.clk.Now(), voteTx(note, uid, 1))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := map[string]int{}
	ids := map[string]bool{}
	for len(events) < 3 {
		select {
		case d := <-got:
			if d.sigErr != nil {
				t.Fatalf("bad signature on %s: %v", d.event, d.sigErr)
			}
			if ids[d.id] {
				t.Fatalf("delivery %s twice", d.id)
			}
			if d.body["board"] != board || d.body["event"] != d.event || d.body["id"] != d.id {
				t.Fatalf("delivery body %v", d.body)
			}
			ids[d.id] = true
			events[d.event]++
		case <-ctx.Done():
			t.Fatalf("deliveries so far: %v", events)
		}
	}
	if events["element"] != 1 || events["comment"] != 1 || events["vote"] != 1 {
		t.Fatalf("deliveries by event: %v", events)
	}
}
