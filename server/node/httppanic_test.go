package node_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/protocol"
)

// TestHandlerPanicAnswered500: a bug a request trips (here a hook that
// panics inside GET …/changes) ended the request with the connection
// closed and no answer (net/http's own recovery). It is answered 500 with
// a JSON body, counted, and the node goes on serving, that board too.
func TestHandlerPanicAnswered500(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "bug"})
	board, owner := boardID(t, created), created["token"].(string)
	e.must(201, "POST", "/v1/boards/"+board+"/elements", owner, map[string]any{"kind": "note", "text": "idea"})
	restore := node.SetChangesHook(func() { panic("a bug") })
	res := e.tn.do("GET", "/v1/boards/"+board+"/changes?since="+url.QueryEscape("{}"), owner, "", nil, nil)
	restore()
	expectError(t, "a handler's panic", res, 500, protocol.CodeInternal)
	e.must(200, "GET", "/v1/boards/"+board+"/changes?since="+url.QueryEscape("{}"), owner, nil)
	m := e.tn.do("GET", "/metrics", "", "", nil, nil)
	if m.status != 200 || !strings.Contains(string(m.body), `corkboard_panics_total{where="http"} 1`) {
		t.Fatalf("the panic is not counted: %d", m.status)
	}
}
