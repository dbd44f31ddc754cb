package api

import (
	"context"
	"net/http/httptest"
	"testing"
)

// At most maxHeavy imports hold their files at once; one more waits, and
// is answered 503 (with Retry-After) when no slot frees.
func TestHeavyCallsBounded(t *testing.T) {
	srv := New(Config{})
	var releases []func()
	for range maxHeavy {
		rel, ok := srv.holdHeavy(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
		if !ok {
			t.Fatal("a free slot was refused")
		}
		releases = append(releases, rel)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller gives up at once instead of waiting 10 s
	w := httptest.NewRecorder()
	if _, ok := srv.holdHeavy(w, httptest.NewRequest("POST", "/", nil).WithContext(ctx)); ok || w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("one more heavy call: ok %v, %d %v", ok, w.Code, w.Header())
	}
	releases[0]()
	if rel, ok := srv.holdHeavy(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil)); !ok {
		t.Fatal("a released slot was not given again")
	} else {
		rel()
	}
}
