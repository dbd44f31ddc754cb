package node_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// pendingCall is a request whose headers the node has and whose body it
// waits for: sent with "Expect: 100-continue" over a raw connection, it is
// pending once the node answers 100 Continue, which Go's server does when
// the handler (or anything before it) first reads the body.
type pendingCall struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	body string
}

func startPending(t *testing.T, base, method, path, cred, ctype, body string) *pendingCall {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := "Bearer " + cred
	if !strings.Contains(cred, ".") {
		auth = "Session " + cred
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		method, path, u.Host, auth, ctype, len(body))
	p := &pendingCall{t: t, conn: conn, br: bufio.NewReader(conn), body: body}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 100 {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s before the body was sent, want 100 Continue", method, path, resp.StatusCode, raw)
	}
	return p
}

// finish sends the body and reads the answer.
func (p *pendingCall) finish() (int, map[string]any) {
	p.t.Helper()
	if _, err := io.WriteString(p.conn, p.body); err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// TestPendingBodyAfterRevoke: a call's credential was checked when its
// headers came, and the call acted when its body came, on the board's
// settings then: a body held back for seconds outlived a revoke. Someone
// given an owner link kept a settings change pending, the owner revoked
// every link, and the pending change, finished after it, answered a new
// owner token (and the owner's own new token was dead once it bumped the
// epoch again): the board taken back for good. The same held for the
// write API (a revoked link's pending write applied), the import and a
// picture's upload. A call is now judged once its body is in: the node
// reads a body of up to 64 KiB before the handler checks the caller (the
// settings change, the small write), and the routes that read bigger
// bodies themselves check the caller again once they have (the import,
// the upload; the write API past 64 KiB the same way). Each answers 401.
func TestPendingBodyAfterRevoke(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "taken"})
	board, owner := boardID(t, created), created["token"].(string)
	path := "/v1/boards/" + board
	coFacilitator := e.must(201, "POST", path+"/links", owner, map[string]any{"role": "owner"})["token"].(string)
	editor := tokenOf(t, created["links"].(map[string]any)["editor"].(string))

	const js = "application/json"
	settings := startPending(t, e.tn.base, "PATCH", path, coFacilitator, js, `{"revokeLinks":true}`)
	write := startPending(t, e.tn.base, "POST", path+"/elements", editor, js, `{"kind":"note","text":"after the revoke"}`)
	imp := startPending(t, e.tn.base, "POST", path+"/import?format=list", editor, "text/plain", "an idea after the revoke\n")
	var pic bytes.Buffer
	png.Encode(&pic, image.NewRGBA(image.Rect(0, 0, 2, 2)))
	upload := startPending(t, e.tn.base, "POST", path+"/blobs", editor, "image/png", pic.String())

	out := e.must(200, "PATCH", path, owner, map[string]any{"revokeLinks": true})
	owner = out["token"].(string)

	if code, out := settings.finish(); code != 401 {
		t.Errorf("the revoked owner link's pending settings change: %d %s, want 401", code, brief(out))
	}
	if code, out := write.finish(); code != 401 {
		t.Errorf("the revoked editor link's pending write: %d %s, want 401", code, brief(out))
	}
	if code, out := upload.finish(); code != 401 {
		t.Errorf("the revoked editor link's pending upload: %d %s, want 401", code, brief(out))
	}
	if code, out := imp.finish(); code != 401 {
		t.Errorf("the revoked editor link's pending import: %d %s, want 401", code, brief(out))
	}
	if code, out := e.call("GET", path, owner, nil); code != 200 {
		t.Fatalf("the owner's token after the revoke: %d %v", code, out)
	}
	st := e.must(200, "GET", path+"/state", owner, nil)
	if raw, _ := json.Marshal(st); strings.Contains(string(raw), "after the revoke") {
		t.Errorf("the board has what the revoked links sent: %s", raw)
	}
}
