package node_test

import (
	"encoding/json"
	"testing"
)

// A board made from a template starts with its elements (and the
// brainstorm with dot voting open); an unknown template is refused.
func TestBoardTemplates(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	owner := e.signIn("owner@example.com")
	want := map[string]map[string]int{
		"brainstorm": {"frame": 1, "note": 2, "text": 1},
		"retro":      {"frame": 3, "note": 3, "text": 1},
		"swot":       {"frame": 4, "note": 4, "text": 1},
		"mindmap":    {"mindmap": 4},
		"kanban":     {"frame": 3, "note": 3, "text": 1},
	}
	for name, kinds := range want {
		created := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": name, "template": name})
		board := boardID(t, created)
		_, st := e.call("GET", "/v1/boards/"+board+"/state", owner, nil)
		var state struct {
			Elements []struct {
				Kind   string            `json:"kind"`
				Parent string            `json:"parent"`
				Text   map[string]string `json:"text"`
			} `json:"elements"`
		}
		raw, _ := json.Marshal(st)
		json.Unmarshal(raw, &state)
		got := map[string]int{}
		inFrames := 0
		for _, el := range state.Elements {
			got[el.Kind]++
			if el.Kind == "note" && el.Parent != "" {
				inFrames++
			}
		}
		for k, n := range kinds {
			if got[k] != n {
				t.Errorf("%s: %d %s, want %d (%v)", name, got[k], k, n, got)
			}
		}
		if name == "retro" && inFrames != 3 {
			t.Errorf("retro: %d notes in frames, want 3", inFrames)
		}
		voting := created["board"].(map[string]any)["voting"]
		if (name == "brainstorm") != (voting != nil) {
			t.Errorf("%s: voting %v", name, voting)
		}
		// The board is live: the template's change is in its history.
		if h := e.must(200, "GET", "/v1/boards/"+board+"/history", owner, nil)["entries"].([]any); len(h) != 1 {
			t.Errorf("%s: history %v", name, h)
		}
	}
	if code, out := e.call("POST", "/v1/boards", owner, map[string]any{"name": "x", "template": "nope"}); code != 400 {
		t.Fatalf("an unknown template: %d %v", code, out)
	}
}
