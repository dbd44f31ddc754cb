package node_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/node"
)

// pngBytes encodes a small real PNG whose pixels depend on seed.
func pngBytes(t testing.TB, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = seed + uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (tn *testNode) do(method, path, token, ctype string, body []byte, hdr map[string]string) httpResult {
	tn.t.Helper()
	req, err := http.NewRequest(method, tn.base+path, bytes.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

// wantError checks a JSON error answer: its status and code.
func wantError(t *testing.T, what string, r httpResult, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (%s), want %d", what, r.status, r.body, status)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("%s: body %s, want a JSON error with code %q", what, r.body, code)
	}
}

func TestBlobUploadAndServe(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, func(c *node.Config) { c.DataDir = dir })
	b := tn.createBoard(`{"name":"pictures"}`)
	editor := tokenOf(t, b.Links["editor"])
	viewer := tokenOf(t, b.Links["viewer"])
	pic := pngBytes(t, 1)
	sum := sha256.Sum256(pic)
	wantID := hex.EncodeToString(sum[:])
	path := "/v1/boards/" + b.Board.ID + "/blobs"

	r := tn.do("POST", path, editor, "image/png", pic, nil)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var info node.BlobInfo
	if err := json.Unmarshal(r.body, &info); err != nil {
		t.Fatal(err)
	}
	want := node.BlobInfo{ID: wantID, URL: path + "/" + wantID, Type: "image/png", Size: len(pic)}
	if info != want {
		t.Fatalf("upload answered %+v, want %+v", info, want)
	}
	if r.header.Get("Location") != want.URL {
		t.Errorf("Location %q", r.header.Get("Location"))
	}

	// The same bytes again: the same id, nothing new stored.
	r = tn.do("POST", path, b.Token, "image/png", pic, nil)
	if r.status != 200 || !strings.Contains(string(r.body), wantID) {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}

	// A viewer reads it, with the type and cache headers.
	r = tn.do("GET", info.URL, viewer, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("get: %d, %d bytes, want the %d uploaded", r.status, len(r.body), len(pic))
	}
	for k, v := range map[string]string{
		"Content-Type":           "image/png",
		"ETag":                   `"` + wantID + `"`,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "private, max-age=31536000, immutable",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	r = tn.do("GET", info.URL, viewer, "", nil, map[string]string{"If-None-Match": `"` + wantID + `"`})
	if r.status != 304 || len(r.body) != 0 {
		t.Errorf("conditional get: %d with %d bytes, want 304 and none", r.status, len(r.body))
	}

	// Stored durably: a restarted node still serves it.
	if err := tn.stop(); err != nil {
		t.Fatal(err)
	}
	tn2 := startNode(t, func(c *node.Config) { c.DataDir = dir })
	r = tn2.do("GET", info.URL, viewer, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("after restart: %d, %d bytes", r.status, len(r.body))
	}
}

func TestBlobBadInput(t *testing.T) {
	tn := startNode(t, nil)
	b := tn.createBoard(`{"name":"pictures"}`)
	other := tn.createBoard(`{"name":"other","access":"private"}`)
	editor := tokenOf(t, b.Links["editor"])
	path := "/v1/boards/" + b.Board.ID + "/blobs"
	pic := pngBytes(t, 7)

	// A good blob first, to check nothing below disturbs it.
	r := tn.do("POST", path, editor, "image/png", pic, nil)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var info node.BlobInfo
	json.Unmarshal(r.body, &info)

	wantError(t, "viewer upload", tn.do("POST", path, tokenOf(t, b.Links["viewer"]), "image/png", pngBytes(t, 8), nil), 403, "forbidden")
	wantError(t, "commenter upload", tn.do("POST", path, tokenOf(t, b.Links["commenter"]), "image/png", pngBytes(t, 8), nil), 403, "forbidden")
	wantError(t, "gif declared as png", tn.do("POST", path, editor, "image/png", gifBytes(t), nil), 415, "malformed")
	wantError(t, "text", tn.do("POST", path, editor, "text/plain", []byte("hello"), nil), 415, "malformed")
	wantError(t, "png bytes declared as text", tn.do("POST", path, editor, "text/plain", pic, nil), 415, "malformed")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	wantError(t, "svg", tn.do("POST", path, editor, "image/svg+xml", svg, nil), 415, "malformed")
	wantError(t, "empty", tn.do("POST", path, editor, "image/png", nil, nil), 400, "malformed")
	big := append(pngBytes(t, 9), make([]byte, node.MaxBlobSize)...)
	wantError(t, "oversize", tn.do("POST", path, editor, "image/png", big, nil), 413, "too_large")
	wantError(t, "unknown board", tn.do("POST", "/v1/boards/0190d3a2-7f00-7000-8000-000000000000/blobs", editor, "image/png", pic, nil), 404, "unknown_board")
	wantError(t, "bad board id", tn.do("POST", "/v1/boards/nope/blobs", editor, "image/png", pic, nil), 400, "malformed")
	wantError(t, "private board without a token", tn.do("POST", "/v1/boards/"+other.Board.ID+"/blobs", "", "image/png", pic, nil), 401, "unauthorized")
	wantError(t, "token of another board", tn.do("POST", "/v1/boards/"+other.Board.ID+"/blobs", editor, "image/png", pic, nil), 401, "unauthorized")

	wantError(t, "bad blob id", tn.do("GET", path+"/XYZ", editor, "", nil, nil), 400, "malformed")
	wantError(t, "upper-case blob id", tn.do("GET", path+"/"+strings.ToUpper(info.ID), editor, "", nil, nil), 400, "malformed")
	missing := sha256.Sum256([]byte("never uploaded"))
	wantError(t, "unknown blob", tn.do("GET", path+"/"+hex.EncodeToString(missing[:]), editor, "", nil, nil), 404, "not_found")
	// A blob belongs to its board: the owner of another board cannot read it there.
	wantError(t, "blob of another board", tn.do("GET", "/v1/boards/"+other.Board.ID+"/blobs/"+info.ID, other.Token, "", nil, nil), 404, "not_found")

	// Nothing refused was stored, and the good blob is intact.
	r = tn.do("GET", info.URL, editor, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("good blob after bad input: %d, %d bytes", r.status, len(r.body))
	}
	for _, seed := range []uint8{8, 9} {
		s := sha256.Sum256(pngBytes(t, seed))
		wantError(t, "refused blob", tn.do("GET", path+"/"+hex.EncodeToString(s[:]), editor, "", nil, nil), 404, "not_found")
	}
}

// Blobs reach the other nodes of a cluster: pushed at upload to the nodes
// that are there, fetched on demand by a node that was cut off then.
func TestBlobCopiesAcrossNodes(t *testing.T) {
	hub := bus.NewHub()
	mb := meta.NewMemory()
	secret := bytes.Repeat([]byte{9}, 32)
	mk := func(id string) *testNode {
		return startNode(t, func(c *node.Config) { c.NodeID, c.Bus, c.Secret, c.Meta = id, hub.Node(id), secret, mb })
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	board := a.createBoard(`{"name":"shared pictures"}`)
	viewer := tokenOf(t, board.Links["viewer"])
	// A picture of several chunks, so that assembling them is tested.
	big := image.NewRGBA(image.Rect(0, 0, 700, 700))
	x := uint32(12345) // noise (an LCG): PNG cannot compress it
	for i := range big.Pix {
		x = x*1664525 + 1013904223
		big.Pix[i] = uint8(x >> 24)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, big); err != nil {
		t.Fatal(err)
	}
	pic := buf.Bytes()
	if len(pic) < 1<<20 {
		t.Fatalf("test picture of %d bytes: want more than one chunk", len(pic))
	}

	hub.Cut("c", true)
	r := a.do("POST", "/v1/boards/"+board.Board.ID+"/blobs", board.Token, "image/png", pic, nil)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var info node.BlobInfo
	json.Unmarshal(r.body, &info)

	// b got its copy at the upload: it serves it with a gone.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	r = b.do("GET", info.URL, viewer, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("b: %d, %d bytes, want the %d uploaded", r.status, len(r.body), len(pic))
	}
	// c was cut off during the upload: back (and knowing b is there, from
	// b's next heartbeat), it asks b for it.
	hub.Cut("c", false)
	b.n.Heartbeat()
	r = c.do("GET", info.URL, viewer, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("c: %d, %d bytes, want the %d uploaded", r.status, len(r.body), len(pic))
	}
	if r.header.Get("ETag") != `"`+info.ID+`"` {
		t.Errorf("c's ETag %q", r.header.Get("ETag"))
	}
	// And keeps it: stored, not just passed through.
	hub.Cut("c", true)
	r = c.do("GET", info.URL, viewer, "", nil, nil)
	if r.status != 200 || !bytes.Equal(r.body, pic) {
		t.Fatalf("c, cut off again: %d", r.status)
	}
}
