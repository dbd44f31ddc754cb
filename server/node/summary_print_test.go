package node_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/crdt"
)

// TestSummaryHTMLPicture: the printable summary (format=html) opens with
// an SVG picture of the board with one numbered box per idea (1..3 for
// three notes, the numbers of the list below), and a note's "<script>"
// reaches the page escaped in the list and nowhere else: not raw, and not
// in the picture at all. The JSON summary carries no picture.
func TestSummaryHTMLPicture(t *testing.T) {
	e := newAsyncEnv(t, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	owner := e.signIn("owner@example.com")
	out := e.must(201, "POST", "/v1/boards", owner, map[string]any{"name": "Offsite", "access": "members"})
	board := out["board"].(map[string]any)["id"].(string)
	c := e.dial(board, owner, 0x7200)
	texts := []string{"Lake walk", `<script>alert("x")</script>`, "Sauna night"}
	for i, text := range texts {
		id := newID("print-" + string(rune('a'+i)))
		mustEdit(t, c, e.clk.Now(), func(tx *crdt.Tx) error {
			if err := noteTx(id, text)(tx); err != nil {
				return err
			}
			return tx.Set(id, "x", crdt.Number(float64(300*i)))
		})
	}
	mustEdit(t, c, e.clk.Now(), commentTx(newID("print-comment"), newID("print-a"), e.userID(owner), "Bring boots"))

	code, hdr, body := e.rawGet("/v1/boards/"+board+"/summary?format=html", owner, nil)
	page := string(body)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("html summary: %d %s %s", code, hdr.Get("Content-Type"), page)
	}
	svgAt, ideasAt := strings.Index(page, "<svg"), strings.Index(page, "<h2>Ideas")
	end := strings.Index(page, "</svg>")
	if svgAt < 0 || end < svgAt || ideasAt < end {
		t.Fatalf("no board picture before the ideas:\n%s", page)
	}
	svg := page[svgAt : end+len("</svg>")]
	if n := strings.Count(svg, "<rect"); n != 1+len(texts) {
		t.Errorf("picture: want a background and %d boxes, got %d rects: %s", len(texts), n, svg)
	}
	labels := regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1)
	var got []string
	for _, m := range labels {
		got = append(got, m[1])
	}
	if strings.Join(got, ",") == "" || len(got) != len(texts) || strings.Count(svg, "<circle") != len(texts) {
		t.Fatalf("picture: want %d numbered boxes, got labels %q: %s", len(texts), got, svg)
	}
	for n := 1; n <= len(texts); n++ {
		if !strings.Contains(svg, ">"+string(rune('0'+n))+"</text>") {
			t.Errorf("picture lacks number %d: %s", n, svg)
		}
	}
	// Numbers only in the picture: none of the notes' words.
	for _, w := range []string{"Lake", "Sauna", "script", "alert", "boots"} {
		if strings.Contains(svg, w) {
			t.Errorf("the picture carries user text %q: %s", w, svg)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Fatalf("raw <script> in the page:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("the note's text is not in the list, escaped:\n%s", page)
	}
	for _, want := range []string{"Lake walk", "Sauna night", "Bring boots", "break-inside:avoid", "@page"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Each idea's number in the list is the number on its box: the list
	// numbers 1..3 are the ideas' divs, in order.
	if n := strings.Count(page, `<div class="idea" data-n=`); n != len(texts) {
		t.Errorf("want %d ideas in the list, got %d", len(texts), n)
	}

	code, _, js := e.rawGet("/v1/boards/"+board+"/summary?format=json", owner, nil)
	if code != 200 || strings.Contains(string(js), "<svg") || strings.Contains(string(js), "icture") {
		t.Fatalf("json summary: %d %s", code, js)
	}
}
