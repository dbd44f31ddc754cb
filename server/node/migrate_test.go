package node_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corkboard/corkboard/server/node"
)

// testdata/store-v1.tar.gz is a data directory written by the version
// before the metadata buckets (commit fcb2762), through its REST API:
// ana signed in (her session below), made a members-only board, set its
// publicRole to commenter and invited ben as an editor. Then it shut down.
const (
	v1Session = "b8b_2wLZjNwlaQvrRdRAYJte50aFqepKo0cTHCDXuyM"
	v1Board   = "01a23b48-eb4f-7161-ba66-871955484207"
	v1Made    = 1796290964407 // unix ms, when it was written
)

func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		out, err := os.Create(filepath.Join(dir, filepath.Base(h.Name)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}

// A store written by the version before the buckets starts on this one:
// its records move into the buckets at first start, and every credential
// and setting in it works as before — after a second restart too, when the
// view comes from the buckets alone.
func TestMigrationFromTheStoreBeforeBuckets(t *testing.T) {
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "store-v1.tar.gz"), dir)
	clock := func() time.Time { return time.UnixMilli(v1Made + 60_000) }
	start := func() *testNode {
		return startNode(t, func(c *node.Config) { c.DataDir, c.Now, c.NotifyInterval = dir, clock, -1 })
	}
	call := func(tn *testNode, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, tn.base+path, strings.NewReader(body))
		req.Header.Set("Cookie", "cb_session="+v1Session)
		req.Header.Set("Origin", tn.base)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	check := func(tn *testNode, name string) {
		t.Helper()
		code, me := call(tn, "GET", "/v1/me", "")
		if code != 200 {
			t.Fatalf("the old session: GET /v1/me %d %v", code, me)
		}
		code, b := call(tn, "GET", "/v1/boards/"+v1Board, "")
		board, _ := b["board"].(map[string]any)
		if code != 200 || board["name"] != name || board["publicRole"] != "commenter" || board["access"] != "members" {
			t.Fatalf("the old board: %d %v", code, b)
		}
		code, inv := call(tn, "GET", "/v1/boards/"+v1Board+"/invites", "")
		if raw, _ := json.Marshal(inv); code != 200 || !strings.Contains(string(raw), "ben@example.com") {
			t.Fatalf("the old invite: %d %s", code, raw)
		}
	}
	tn := start()
	check(tn, "Before the buckets")
	if code, v := call(tn, "PATCH", "/v1/boards/"+v1Board, `{"name":"After the buckets"}`); code != 200 {
		t.Fatalf("a settings change after migration: %d %v", code, v)
	}
	check(tn, "After the buckets")
	if err := tn.stop(); err != nil {
		t.Fatal(err)
	}
	// The second start migrates nothing (the old copy would say "Before").
	check(start(), "After the buckets")
}
