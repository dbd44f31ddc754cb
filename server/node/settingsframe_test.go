package node_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/protocol"
)

// TestSettingsFrameReachesEveryNode: a deadline set, a vote opened and a
// facilitation timer started through node a reach a connection on node b
// as "settings" frames, without the client asking; an editor may run the
// timer, a viewer may not, and bad timer actions are refused.
func TestSettingsFrameReachesEveryNode(t *testing.T) {
	e, onB := twoNodes(t)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "settings"})
	board := boardID(t, created)
	links := created["links"].(map[string]any)
	editor, viewer := tokenOf(t, links["editor"].(string)), tokenOf(t, links["viewer"].(string))
	u := "ws" + strings.TrimPrefix(onB.tn.base, "http") + "/v1/boards/" + board + "/ws?token=" + viewer
	c := rawJoin(t, u, 0x9001, nil)
	next := func(what string, pred func(f protocol.SettingsFrame) bool) protocol.SettingsFrame {
		t.Helper()
		var got protocol.SettingsFrame
		c.until(func(typ string, data []byte) bool {
			if typ != protocol.TypeSettings {
				return false
			}
			got = protocol.SettingsFrame{}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			return pred(got)
		})
		if got.Now == 0 {
			t.Fatalf("%s: settings frame without the node's clock", what)
		}
		return got
	}

	dl := e.clk.Now().UnixMilli() + 3_600_000
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"deadline": dl})
	next("deadline", func(f protocol.SettingsFrame) bool { return f.Deadline == dl && !f.Closed })
	e.must(200, "POST", "/v1/boards/"+board+"/voting", owner, map[string]any{"dots": 3})
	next("voting", func(f protocol.SettingsFrame) bool { return f.Voting == "open" })

	// The timer: editors run it, viewers may not; bad actions are refused.
	call := func(want int, cred string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", e.tn.base+"/v1/boards/"+board+"/timer", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("timer %v: %d %v, want %d", body, resp.StatusCode, out, want)
		}
		return out
	}
	call(403, viewer, map[string]any{"action": "start", "seconds": 60})
	call(400, editor, map[string]any{"action": "start", "seconds": 0})
	call(400, editor, map[string]any{"action": "explode"})
	call(409, editor, map[string]any{"action": "pause"})
	started := call(200, editor, map[string]any{"action": "start", "seconds": 300})
	end := int64(started["timer"].(map[string]any)["end"].(float64))
	if end != e.clk.Now().UnixMilli()+300_000 {
		t.Fatalf("timer end %d, want now+300 s", end)
	}
	f := next("timer", func(f protocol.SettingsFrame) bool { return f.Timer != nil })
	var tm struct {
		End, Duration int64
	}
	if err := json.Unmarshal(f.Timer, &tm); err != nil || tm.End != end || tm.Duration != 300_000 {
		t.Fatalf("timer in the settings frame: %s (%v)", f.Timer, err)
	}
	call(200, editor, map[string]any{"action": "pause"})
	next("paused", func(f protocol.SettingsFrame) bool { return strings.Contains(string(f.Timer), `"left":300000`) })
	call(200, editor, map[string]any{"action": "reset"})
	next("reset", func(f protocol.SettingsFrame) bool { return f.Timer == nil && f.Voting == "open" })
	e.must(200, "PATCH", "/v1/boards/"+board, owner, map[string]any{"deadline": 0})
	next("deadline cleared", func(f protocol.SettingsFrame) bool { return f.Deadline == 0 })
}

// TestTimerBoundedPerBoard: the facilitation timer is editor-level (on a
// public board, anyone with its link), and each change is a quorum write
// and a frame to every connection on every node; one board's timer changes
// are bounded per minute whoever makes them, so a second caller (a fresh
// link, a fresh guest) gains nothing.
func TestTimerBoundedPerBoard(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "timer"})
	board := boardID(t, created)
	editor := tokenOf(t, created["links"].(map[string]any)["editor"].(string))
	post := func(cred string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", e.tn.base+"/v1/boards/"+board+"/timer", strings.NewReader(`{"action":"start","seconds":60}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 20 {
		if code := post(editor); code != 200 {
			t.Fatalf("timer change %d: %d", i+1, code)
		}
	}
	if code := post(editor); code != 429 {
		t.Fatalf("the 21st timer change in a minute: %d, want 429", code)
	}
	if code := post(created["token"].(string)); code != 429 {
		t.Fatalf("another caller on the same board: %d, want 429", code)
	}
}
