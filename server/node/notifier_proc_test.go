package node_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/mail/smtptest"
)

// Three node processes in a cluster; a notification is due for ana when
// the node holding the notifier lease is killed with kill -9. Another node
// takes the lease and ana gets exactly one e-mail about the change — also
// after the killed node comes back with whatever its outbox held.
func TestNotifierLeaderKilledSendsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	smtp, err := smtptest.Start(smtptest.Options{NoSTARTTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	bin := buildCorkboard(t)
	routes := freePorts(t, 3)
	secret := hex.EncodeToString(bytes.Repeat([]byte{0x4d}, 32))
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	args := func(i int) []string {
		var rs []string
		for j, p := range routes {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		return []string{"--node-id", fmt.Sprintf("node%d", i), "--secret", secret,
			"--nats-cluster", fmt.Sprintf("127.0.0.1:%d", routes[i]), "--nats-routes", strings.Join(rs, ","),
			"--smtp-addr", smtp.Addr(), "--smtp-tls", "none", "--notify-interval", "300ms",
			"--ws-per-ip", "-1", "--boards-per-hour", "-1"}
	}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startCorkboard(t, bin, dirs[i], args(i)...)
	}
	readyz := func(p *proc) map[string]any {
		code, body, err := httpGet(p.base + "/readyz")
		var r map[string]any
		if err != nil || code != 200 || json.Unmarshal(body, &r) != nil {
			return nil
		}
		return r
	}
	for i, p := range procs {
		// Three processes forming a JetStream cluster on a busy machine: as long
		// as TestClusterOfProcesses gives it.
		pollFor(t, fmt.Sprintf("node%d to reach the metadata quorum", i), 90*time.Second, func() bool { return readyz(p)["metadata"] == "fresh" })
	}
	base := procs[0].base
	do := func(method, url, cookie, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Origin", base)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	mailsTo := func(board string) []smtptest.Received {
		var out []smtptest.Received
		for _, m := range to(smtp.Messages(), "ana@example.com") {
			if board == "" || m.Header.Get("X-Corkboard-Board") == board {
				out = append(out, m)
			}
		}
		return out
	}

	// ana signs in with the link e-mailed to her.
	if resp, b := do("POST", base+"/v1/signin", "", `{"email":"ana@example.com"}`); resp.StatusCode != 202 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, b)
	}
	poll(t, "the sign-in e-mail", func() bool { return len(mailsTo("")) == 1 })
	resp, _ := do("POST", linkIn(t, mailsTo("")[0], "/v1/signin/"), "", "")
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "cb_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no session from the sign-in link: %d", resp.StatusCode)
	}
	// Her board; she wants an e-mail for every change by others.
	resp, b := do("POST", base+"/v1/boards", cookie, `{"name":"Kill the leader"}`)
	var made struct {
		Board struct {
			ID string `json:"id"`
		} `json:"board"`
		Links map[string]string `json:"links"`
	}
	if resp.StatusCode != 201 || json.Unmarshal(b, &made) != nil {
		t.Fatalf("create board: %d %s", resp.StatusCode, b)
	}
	id := made.Board.ID
	if resp, b := do("PUT", base+"/v1/boards/"+id+"/notify", cookie, `{"mode":"each","batchMinutes":1}`); resp.StatusCode != 200 {
		t.Fatalf("notify prefs: %d %s", resp.StatusCode, b)
	}

	// Someone else adds a note on node 2: an e-mail to ana is due.
	poll(t, "node 2 to learn the board", func() bool {
		code, _, _ := httpGet(procs[2].base + "/v1/boards/" + id + "?token=" + tokenOf(t, made.Links["editor"]))
		return code == 200
	})
	ctx := ctx10(t)
	ben := dial(t, procs[2].node(t).wsURL(id, tokenOf(t, made.Links["editor"])), 0x4d01)
	seq, err := ben.Edit(ctx, 0, func(tx *crdt.Tx) error { return tx.Create(elem(1), "note") })
	if err != nil {
		t.Fatal(err)
	}
	if err := ben.WaitAck(ctx, seq); err != nil {
		t.Fatal(err)
	}
	// kill -9 whichever node holds the notifier lease now.
	leader := -1
	poll(t, "a notifier leader", func() bool {
		for i, p := range procs {
			if readyz(p)["leader"] == true {
				leader = i
				return true
			}
		}
		return false
	})
	procs[leader].kill(t)
	t.Logf("killed node%d, the notifier leader", leader)

	poll(t, "the e-mail about the change", func() bool { return len(mailsTo(id)) >= 1 })
	// The killed node comes back with its outbox; then wait for three
	// passes of the leader and empty outboxes everywhere, so a second
	// e-mail, if any were to come, would have come.
	procs[leader] = startCorkboard(t, bin, dirs[leader], args(leader)...)
	pollFor(t, "the restarted node to reach the quorum", 90*time.Second, func() bool { return readyz(procs[leader])["metadata"] == "fresh" })
	passes := func() (int, float64) {
		for i, p := range procs {
			if readyz(p)["leader"] == true {
				v, _ := strconv.ParseFloat(p.node(t).metric("corkboard_notifier_passes_total"), 64)
				return i, v
			}
		}
		return -1, 0
	}
	var who int
	var from float64
	poll(t, "a leader after the restart", func() bool { who, from = passes(); return who >= 0 })
	poll(t, "three more passes and empty outboxes", func() bool {
		i, v := passes()
		if i != who || v < from+3 {
			return false
		}
		for _, p := range procs {
			if p.node(t).metric(`corkboard_outbox_pending{kind="mail"}`) != "0" {
				return false
			}
		}
		return true
	})
	if got := mailsTo(id); len(got) != 1 {
		t.Fatalf("ana got %d e-mails about the one change, want exactly 1", len(got))
	}
}
