package api

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// browserTarget is where a browser on https://node.example goes for a
// Location header p: it drops tabs and newlines, reads a backslash as a
// slash, and resolves p against the page.
func browserTarget(p string) (string, error) {
	p = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(p)
	base, _ := url.Parse("https://node.example/v1/signin/x")
	ref, err := url.Parse(p)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(ref).Host, nil
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/b/x?y=1#z": "/b/x?y=1#z", "": "/", "b": "/", "//evil": "/", "/\\evil": "/",
		"/\t/evil": "/", "/\n/evil": "/", "/x/\r": "/", "/a\\b": "/", "/\x7f": "/", "/\u0085": "/",
		"https://evil": "/", "/\xff": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever a sign-in's "next" is, the redirect stays on
// the node, as a browser reads it.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/b/x", "//evil", "/\t/evil", "/\\evil", "/ /evil", "/%2f/evil", "/..//evil", "/\u2028/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out := localPath(p)
		if out != "/" && out != p {
			t.Fatalf("localPath(%q) = %q: neither the input nor /", p, out)
		}
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
			t.Fatalf("localPath(%q) = %q", p, out)
		}
		for _, c := range out {
			if c == '\\' || unicode.IsControl(c) {
				t.Fatalf("localPath(%q) = %q keeps %q", p, out, c)
			}
		}
		if host, err := browserTarget(out); err == nil && host != "node.example" {
			t.Fatalf("localPath(%q) = %q leads a browser to %q", p, out, host)
		}
	})
}
