package node_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// rawGet is a GET with a credential (a session, a bearer token, or none),
// answering the status, the headers and the body as bytes.
func (e *asyncEnv) rawGet(path, cred string, hdr map[string]string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.tn.base+path, nil)
	switch {
	case cred == "":
	case strings.Contains(cred, "."):
		req.Header.Set("Authorization", "Bearer "+cred)
	default:
		req.Header.Set("Authorization", "Session "+cred)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// TestThumbnail: GET /v1/boards/{board}/thumbnail.svg is an SVG of boxes
// drawn from the board's state, the same for the same version (ETag,
// 304), bounded in elements, and answered to exactly those GET /state
// answers: a stranger, a visitor without the password, a token of
// another board and nobody get the same refusal as for the state.
func TestThumbnail(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	stranger := e.signIn("stranger@example.com")
	members := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "m", "access": "members"})
	mb := members["board"].(map[string]any)["id"].(string)
	pw := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "pw", "access": "password", "password": "open sesame"})
	pb := pw["board"].(map[string]any)["id"].(string)
	pwToken := pw["token"].(string)
	other := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "other"})
	otherToken := other["token"].(string)

	c := e.dial(mb, owner, 0x7100)
	mustEdit(t, c, e.clk.Now(), noteTx(newID("n1"), "secret words"))
	mustEdit(t, c, e.clk.Now(), func(tx *crdt.Tx) error {
		id := newID("n2")
		if err := tx.Create(id, "note"); err != nil {
			return err
		}
		tx.Set(id, "x", crdt.Number(400))
		return tx.Set(id, "color", crdt.String("pink"))
	})

	path := "/v1/boards/" + mb + "/thumbnail.svg"
	code, hdr, svg := e.rawGet(path, owner, nil)
	if code != 200 || hdr.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("owner: %d %s %s", code, hdr.Get("Content-Type"), svg)
	}
	if !strings.HasPrefix(string(svg), "<svg") || strings.Count(string(svg), "<rect") != 3 || !strings.Contains(string(svg), "#f8bbd0") {
		t.Fatalf("thumbnail: want a background and two notes (one pink): %s", svg)
	}
	if strings.Contains(string(svg), "secret") {
		t.Fatalf("the thumbnail carries text: %s", svg)
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(hdr.Get("Cache-Control"), "private") {
		t.Fatalf("headers: %v", hdr)
	}
	if lm, err := http.ParseTime(hdr.Get("Last-Modified")); err != nil || lm.Year() < 2020 {
		t.Fatalf("Last-Modified %q: %v", hdr.Get("Last-Modified"), err)
	}
	etag := hdr.Get("ETag")
	code2, hdr2, svg2 := e.rawGet(path, owner, nil)
	if code2 != 200 || string(svg2) != string(svg) || hdr2.Get("ETag") != etag || etag == "" {
		t.Fatalf("not deterministic: %q vs %q", etag, hdr2.Get("ETag"))
	}
	if code, _, body := e.rawGet(path, owner, map[string]string{"If-None-Match": etag}); code != 304 || len(body) != 0 {
		t.Fatalf("If-None-Match: %d %q", code, body)
	}
	mustEdit(t, c, e.clk.Now(), noteTx(newID("n3"), "three"))
	if code, hdr, body := e.rawGet(path, owner, map[string]string{"If-None-Match": etag}); code != 200 || hdr.Get("ETag") == etag || strings.Count(string(body), "<rect") != 4 {
		t.Fatalf("after a change: %d %s %s", code, hdr.Get("ETag"), body)
	}

	// Refused exactly as the state is.
	for _, tc := range []struct{ who, board, cred string }{
		{"anonymous on members", mb, ""},
		{"stranger on members", mb, stranger},
		{"another board's token on members", mb, otherToken},
		{"anonymous on password", pb, ""},
		{"stranger on password", pb, stranger},
		{"another board's token on password", pb, otherToken},
		{"no such board", "00000000-0000-4000-8000-000000000000", owner},
	} {
		sc, _, sb := e.rawGet("/v1/boards/"+tc.board+"/state", tc.cred, nil)
		tc2, _, tb := e.rawGet("/v1/boards/"+tc.board+"/thumbnail.svg", tc.cred, nil)
		if sc < 400 || tc2 != sc {
			t.Errorf("%s: state %d, thumbnail %d (%s)", tc.who, sc, tc2, tb)
		}
		if tc2 != 401 && tc2 != 403 && tc2 != 404 {
			t.Errorf("%s: thumbnail %d, want 401, 403 or 404", tc.who, tc2)
		}
		if strings.Contains(string(tb), "<svg") || !strings.Contains(string(tb), `"error"`) {
			t.Errorf("%s: body %s (state said %s)", tc.who, tb, sb)
		}
	}
	// The password board's own token reads it.
	if code, _, _ := e.rawGet("/v1/boards/"+pb+"/thumbnail.svg", pwToken, nil); code != 200 {
		t.Fatalf("owner token on the password board: %d", code)
	}

	// Bounded: a board of 700 notes draws at most 500 of them.
	oc := e.dial(pb, pwToken, 0x7200)
	for batch := 0; batch < 7; batch++ {
		mustEdit(t, oc, e.clk.Now(), func(tx *crdt.Tx) error {
			for i := 0; i < 100; i++ {
				id := newID(fmt.Sprintf("b%d-%d", batch, i))
				if err := tx.Create(id, "note"); err != nil {
					return err
				}
				if err := tx.Set(id, "x", crdt.Number(float64(i*220))); err != nil {
					return err
				}
				if err := tx.Set(id, "y", crdt.Number(float64(batch*220))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	code, _, big := e.rawGet("/v1/boards/"+pb+"/thumbnail.svg", pwToken, nil)
	if n := strings.Count(string(big), "<rect"); code != 200 || n != 501 || len(big) > 64<<10 {
		t.Fatalf("700 notes: %d, %d rects, %d bytes", code, n, len(big))
	}
}
