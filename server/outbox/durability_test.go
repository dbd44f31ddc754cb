package outbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/mail/smtptest"
	"github.com/corkboard/corkboard/server/outbox"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

// The kill -9 test. The test binary runs itself as a child process (env
// childEnv) that opens a Pebble store in a directory of the parent's,
// enqueues n e-mails and n webhooks, says so on its stdout, and delivers
// them to an SMTP server and an HTTP receiver living in the parent. Both
// receivers keep one chosen item and then hang without answering, so the
// child has two deliveries in flight that the receivers already hold. Once
// both hung, the parent kills the child with SIGKILL, reopens the store
// itself and runs the outbox until it is empty. Then every item must have
// arrived, exactly once after deduplication by Message-ID / delivery id,
// and the duplicates must be exactly the items that were in flight.

const (
	childEnv = "CORKBOARD_OUTBOX_CHILD"
	secret   = "hook-secret"
	// perLane is each kind's slots (e-mail and webhooks are lanes of
	// their own), concurrency the slots in all: what may be in flight at
	// the kill.
	perLane     = 1
	concurrency = 2 * perLane
)

func mailID(i int) string { return fmt.Sprintf("mail/%03d", i) }
func hookID(i int) string { return fmt.Sprintf("hook/%03d", i) }

func items(n int, hookURL string) ([]outbox.Item, error) {
	var out []outbox.Item
	for i := range n {
		it, err := mail.NewItem(mail.Message{
			ID: mailID(i), From: "noreply@cork.example", To: fmt.Sprintf("user%d@example.com", i),
			Subject: fmt.Sprintf("Digest %d", i), Text: fmt.Sprintf("digest number %d", i),
			Unsubscribe: "https://cork.example/u/" + strconv.Itoa(i),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		it, err = webhook.NewItem(webhook.Request{
			ID: hookID(i), URL: hookURL, Event: "element.created",
			Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Secret: secret,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

func register(o *outbox.Outbox, smtpAddr string) {
	o.Register(mail.Kind, mail.Deliverer(mail.NewSMTP(mail.SMTPConfig{Addr: smtpAddr, TLS: "none"})))
	o.Register(webhook.Kind, webhook.Deliverer(&http.Client{Timeout: time.Minute}))
}

// TestDurabilityChild is the child's side; it does nothing in a normal run.
func TestDurabilityChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("the child process of TestKillDuringDelivery")
	}
	n, _ := strconv.Atoi(os.Getenv("OUTBOX_N"))
	st, err := storage.OpenPebble(os.Getenv("OUTBOX_DIR"), storage.PebbleOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	o := outbox.New(st, outbox.Config{Concurrency: perLane, MinBackoff: 50 * time.Millisecond})
	register(o, os.Getenv("OUTBOX_SMTP"))
	its, err := items(n, os.Getenv("OUTBOX_HOOK"))
	if err == nil {
		err = o.Enqueue(context.Background(), its...)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("enqueued")
	o.Run(context.Background()) // until killed
}

// hookReceiver records webhook deliveries and hangs on one of them.
type hookReceiver struct {
	hangOn  string
	hung    chan string
	release chan struct{}

	mu      sync.Mutex
	got     []string
	badSigs int
	hangs   int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("Corkboard-Delivery")
	h.mu.Lock()
	if webhook.Verify(secret, r.Header.Get("Corkboard-Signature"), body, time.Now(), time.Minute) != nil {
		h.badSigs++
	}
	h.got = append(h.got, id)
	hang := id == h.hangOn && h.hangs == 0
	if hang {
		h.hangs++
	}
	h.mu.Unlock()
	if hang {
		h.hung <- id
		<-h.release
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

func TestKillDuringDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	const n = 20
	hangMail, hangHook := mailID(5), hookID(3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	smtpSrv, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer smtpSrv.Close()
	wantMID := (&mail.Message{ID: hangMail, From: "noreply@cork.example"}).MessageID()
	smtpSrv.SetHang(func(r smtptest.Received) bool { return r.MessageID() == wantMID })

	hooks := &hookReceiver{hangOn: hangHook, hung: make(chan string, 1), release: make(chan struct{})}
	httpSrv := httptest.NewServer(hooks)
	defer httpSrv.Close()
	defer close(hooks.release) // runs before httpSrv.Close: Close waits for the hung handler

	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDurabilityChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "OUTBOX_DIR="+dir, "OUTBOX_N="+strconv.Itoa(n),
		"OUTBOX_SMTP="+smtpSrv.Addr(), "OUTBOX_HOOK="+httpSrv.URL)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "enqueued" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q (%v), want \"enqueued\"", sc.Text(), sc.Err())
	}
	// Both receivers now hold an item whose delivery the child is waiting on.
	for _, ch := range []func() (string, error){
		func() (string, error) {
			select {
			case r := <-smtpSrv.Hung():
				return r.MessageID(), nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		},
		func() (string, error) {
			select {
			case id := <-hooks.hung:
				return id, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		},
	} {
		if _, err := ch(); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("waiting for the receivers to hang: %v", err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	go io.Copy(io.Discard, stdout)

	mailsBefore := len(smtpSrv.Messages())
	hooksBefore := len(hooks.received())
	received := map[string]bool{}
	for _, m := range smtpSrv.Messages() {
		received[m.MessageID()] = true
	}
	for _, id := range hooks.received() {
		received[id] = true
	}
	t.Logf("before the kill the receivers had %d e-mails and %d webhooks of %d each", mailsBefore, hooksBefore, n)
	if mailsBefore == n && hooksBefore == n {
		t.Fatalf("everything was delivered before the kill: the test proves nothing")
	}

	// Restart: reopen the store in this process and deliver the rest.
	smtpSrv.SetHang(nil)
	st, err := storage.OpenPebble(dir, storage.PebbleOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := outbox.New(st, outbox.Config{Concurrency: perLane, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	register(o, smtpSrv.Addr())
	pending, err := o.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inFlight := 0 // pending, yet already held by a receiver
	for _, it := range pending {
		key := it.ID
		if it.Kind == mail.Kind {
			key = (&mail.Message{ID: it.ID, From: "noreply@cork.example"}).MessageID()
		}
		if received[key] {
			inFlight++
		}
		if it.Attempts != 0 {
			t.Errorf("item %s has %d failed attempts recorded; none failed", it.ID, it.Attempts)
		}
	}
	if inFlight != 2 {
		t.Errorf("%d delivered items were still queued at the kill, want the 2 hung ones", inFlight)
	}
	for round := 0; ; round++ {
		if _, err := o.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		p, err := o.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if round == 5 {
			t.Fatalf("still pending after %d passes: %+v", round+1, p)
		}
	}
	if dead, _ := o.Dead(ctx); len(dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}

	count := map[string]int{}
	for _, m := range smtpSrv.Messages() {
		count[m.MessageID()]++
	}
	for _, id := range hooks.received() {
		count[id]++
	}
	dups := 0
	for i := range n {
		for _, key := range []string{(&mail.Message{ID: mailID(i), From: "noreply@cork.example"}).MessageID(), hookID(i)} {
			switch c := count[key]; {
			case c == 0:
				t.Errorf("%s was never delivered", key)
			case c > 1:
				dups += c - 1
			}
		}
	}
	if len(count) != 2*n {
		t.Errorf("%d distinct items received, want %d", len(count), 2*n)
	}
	if dups != inFlight || dups > concurrency {
		t.Errorf("%d duplicates, want exactly the %d in flight (at most %d)", dups, inFlight, concurrency)
	}
	if hooks.badSigs != 0 {
		t.Errorf("%d webhooks with a bad signature", hooks.badSigs)
	}
}
