package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/corkboard/corkboard/crdt"
	"github.com/corkboard/corkboard/server/protocol"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

// buildCorkboard builds the node's binary into a temp dir.
func buildCorkboard(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "corkboard")
	start := time.Now()
	out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/corkboard").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// proc is a corkboard process.
type proc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{} // closed when stderr is drained (the process ended)
	mu   sync.Mutex
	log  bytes.Buffer
}

// startCorkboard starts the binary on a free loopback port and returns once
// it serves: the port is read from its "serving" log line, and /healthz
// must answer.
func startCorkboard(t *testing.T, bin, dir string, extra ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "info"}, extra...)
	p.cmd = exec.Command(bin, args...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("corkboard log:\n%s", p.log.String())
			p.mu.Unlock()
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.log.Write(line)
			p.log.WriteByte('\n')
			p.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("corkboard exited before serving:\n%s", p.log.String())
	case <-time.After(30 * time.Second):
		t.Fatal("corkboard did not start serving in 30s")
	}
	// The listener is bound before the log line; a few attempts cover the
	// moment before the server loop runs.
	for attempt := 0; ; attempt++ {
		code, body, err := httpGet(p.base + "/healthz")
		if err == nil && code == 200 && strings.Contains(string(body), `"ok"`) {
			break
		}
		if attempt == 50 {
			t.Fatalf("/healthz: %d %s %v", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

// node returns a testNode view of the process for the REST helpers.
func (p *proc) node(t *testing.T) *testNode { return &testNode{t: t, base: p.base} }

// Acked ops survive kill -9: a client sends batches as fast as it can,
// the process is killed right after some acks arrive, and after a restart
// on the same data every acked change is in the board's state and log.
func TestCrashKeepsAckedOps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the corkboard binary")
	}
	bin := buildCorkboard(t)
	dir := t.TempDir()
	p := startCorkboard(t, bin, dir)
	b := p.node(t).createBoard(`{"name":"crash"}`)

	a := newAuthor(1)
	type sent struct {
		c    crdt.Change
		note crdt.ElementID
		text string
		x    float64
	}
	bySeq := map[uint64]sent{}
	acked := map[uint64]bool{}
	const rounds, perRound, killAfter = 2, 300, 150
	for round := range rounds {
		tn := p.node(t)
		raw := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 1, a.d.Version())
		// One goroutine sends batches as fast as it can while this one reads
		// acks; the process is killed as soon as killAfter of this round's
		// batches are acked, with the rest in flight.
		frames := make([][]byte, perRound)
		for i := range perRound {
			k := round*perRound + i
			s := sent{note: elem(k), text: fmt.Sprintf("note %d", k), x: float64(k)}
			s.c = a.edit(t, func(tx *crdt.Tx) error {
				if err := tx.Create(s.note, "note"); err != nil {
					return err
				}
				if err := tx.Set(s.note, "x", crdt.Number(s.x)); err != nil {
					return err
				}
				return tx.InsertText(s.note, "text", 0, s.text)
			})
			bySeq[uint64(k+1)] = s
			frames[i] = protocol.EncodeOpsFrame(uint64(k+1), []crdt.Change{s.c})
		}
		sender := make(chan int, 1)
		go func() {
			n := 0
			for _, f := range frames {
				if raw.c.Write(context.Background(), websocket.MessageBinary, f) != nil {
					break // the process is gone
				}
				n++
			}
			sender <- n
		}()
		n := 0
		raw.until(func(typ string, data []byte) bool {
			switch typ {
			case protocol.TypeError:
				t.Fatalf("refused: %s", data)
			case protocol.TypeAck:
				var ack struct{ Seq uint64 }
				json.Unmarshal(data, &ack)
				acked[ack.Seq] = true
				n++
			}
			return n == killAfter
		})
		p.kill(t)
		t.Logf("round %d: killed after %d acks, %d batches written", round, n, <-sender)

		p = startCorkboard(t, bin, dir)
		tn = p.node(t)
		var st struct {
			Version  crdt.VersionVector `json:"version"`
			Elements []crdt.ElementJSON `json:"elements"`
		}
		if err := json.Unmarshal(tn.state(b.Board.ID, b.Token), &st); err != nil {
			t.Fatal(err)
		}
		byID := map[crdt.ElementID]crdt.ElementJSON{}
		for _, e := range st.Elements {
			byID[e.ID] = e
		}
		missing := 0
		for seq := range acked {
			s := bySeq[seq]
			e, ok := byID[s.note]
			if !ok || e.Kind != "note" || e.Text["text"] != s.text || e.Props["x"].AsNumber() != s.x {
				missing++
				if missing < 5 {
					t.Errorf("acked batch %d (note %v) lost or damaged after kill -9: %+v", seq, s.note, e)
				}
			}
			if !st.Version.Contains(s.c.LastID()) {
				t.Errorf("acked batch %d: version %v lacks %v", seq, st.Version, s.c.LastID())
			}
		}
		if missing > 0 {
			t.Fatalf("%d of %d acked batches lost", missing, len(acked))
		}
		// The log has each acked change, each once; changes stored but not
		// yet acked may be there too, and nothing else.
		checkOpsOnce(t, tn, b.Board.ID, b.Token)
		_, entries := tn.ops(b.Board.ID, b.Token)
		inLog := map[uint64]bool{}
		for _, e := range entries {
			inLog[e.Start] = true
		}
		for seq := range acked {
			if c := bySeq[seq].c; !inLog[c.Start] {
				t.Errorf("acked change %d@%v not in /ops", c.Start, c.Replica)
			}
		}
		if len(entries) < len(acked) || len(entries) > (round+1)*perRound {
			t.Fatalf("/ops lists %d changes; %d were acked, %d sent", len(entries), len(acked), (round+1)*perRound)
		}
		t.Logf("round %d: %d acked, %d in the log after restart", round, len(acked), len(entries))
		// As a client does, resend what was not acked (stored or not), so
		// the next round builds on a node with everything the author has.
		raw2 := rawJoin(t, tn.wsURL(b.Board.ID, b.Token), 1, a.d.Version())
		var resend []crdt.Change
		for seq := uint64(1); seq <= uint64((round+1)*perRound); seq++ {
			if !acked[seq] {
				resend = append(resend, bySeq[seq].c)
			}
		}
		raw2.seq = uint64((round + 1) * perRound)
		if len(resend) > 0 {
			ack := raw2.expectAck(raw2.send(resend...))
			if ack.Applied+ack.Duplicate != len(resend) || ack.Held != 0 {
				t.Fatalf("resend of %d unacked changes: %+v", len(resend), ack)
			}
			for seq := range bySeq {
				acked[seq] = true
			}
		}
		raw2.c.CloseNow()
	}
	// Finally the node's board is exactly the author's.
	if got, want := p.node(t).state(b.Board.ID, b.Token), docJSON(t, a.d); !bytes.Equal(got, want) {
		t.Fatalf("final state differs from the author's doc")
	}
}

func httpGet(url string) (int, []byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
