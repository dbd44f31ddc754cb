package node

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
)

// tinyWebP is a 1×1 lossless WebP.
var tinyWebP, _ = base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

func encoded(t testing.TB, typ string) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	var err error
	switch typ {
	case "image/png":
		err = png.Encode(&b, img)
	case "image/gif":
		err = gif.Encode(&b, img, nil)
	case "image/jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "image/webp":
		return tinyWebP
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckImage(t *testing.T) {
	for _, typ := range []string{"image/png", "image/gif", "image/jpeg", "image/webp"} {
		data := encoded(t, typ)
		if err := checkImage(typ, data, 50_000_000); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		if err := checkImage(typ, data[:len(data)/2], 50_000_000); err == nil && typ != "image/jpeg" && typ != "image/gif" {
			// JPEG and GIF are checked up to their headers only.
			t.Errorf("%s cut in half: accepted", typ)
		}
	}
	if err := checkImage("image/png", encoded(t, "image/png"), 5); !errors.Is(err, errImageSize) {
		t.Errorf("6 pixels with at most 5: %v", err)
	}
	// A WebP whose RIFF length is not the file's.
	bad := append(append([]byte{}, tinyWebP...), 0, 0, 0, 0)
	if err := checkImage("image/webp", bad, 0); err == nil {
		t.Error("WebP with bytes after its RIFF: accepted")
	}
	// VP8X with 20000×1 pixels.
	vp8x := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x1f\x4e\x00\x00\x00\x00")
	vp8x[4] = byte(len(vp8x) - 8)
	if err := checkImage("image/webp", vp8x, 0); !errors.Is(err, errImageSize) {
		t.Errorf("VP8X 20000×1: %v", err)
	}
}

// FuzzCheckImage: no input panics the picture check, and what it accepts
// has sane dimensions.
func FuzzCheckImage(f *testing.F) {
	types := []string{"image/png", "image/gif", "image/jpeg", "image/webp"}
	for i, typ := range types {
		f.Add(uint8(i), encoded(f, typ))
	}
	f.Add(uint8(3), []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := types[int(which)%len(types)]
		err := checkImage(typ, data, 1_000_000)
		if err != nil {
			return
		}
		var cfg image.Config
		switch typ {
		case "image/png":
			cfg, err = png.DecodeConfig(bytes.NewReader(data))
		case "image/gif":
			cfg, err = gif.DecodeConfig(bytes.NewReader(data))
		case "image/jpeg":
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		case "image/webp":
			cfg, err = webpConfig(data)
		}
		if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide || cfg.Width*cfg.Height > 1_000_000 {
			t.Fatalf("%s accepted with %d×%d (%v)", typ, cfg.Width, cfg.Height, err)
		}
	})
}

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

// fakeNow is a clock the limiter tests move by hand.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

// TestLimiterPrunes: expired windows leave as new ones come, without a
// scan: after a burst of 10 000 keys, once their window is over, 3 000
// calls on fresh keys leave the map with those 3 000 only.
func TestLimiterPrunes(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	for i := 0; i < 10_000; i++ {
		l.allow(fmt.Sprint("burst-", i), 5, time.Minute)
		l.allow(fmt.Sprint("day-", i%10), 5, 24*time.Hour)
	}
	if got := l.size(); got != 10_010 {
		t.Fatalf("%d windows, want 10010", got)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	for i := 0; i < 3_000; i++ {
		l.allow(fmt.Sprint("later-", i), 5, time.Minute)
	}
	if got := l.size(); got != 3_000+10 {
		t.Fatalf("%d windows after the burst's window, want 3010", got)
	}
	// Counting is unchanged: the sixth event of a window is refused,
	// used() sees it, and a window renews once its period is over.
	for i := 0; i < 5; i++ {
		if !l.allow("k", 5, time.Minute) {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if l.allow("k", 5, time.Minute) || !l.used("k", 5, time.Minute) {
		t.Fatal("sixth event allowed")
	}
	clk.t = clk.t.Add(time.Minute)
	if !l.allow("k", 5, time.Minute) || l.used("k", 5, time.Minute) {
		t.Fatal("the window did not renew")
	}
	// allowUpTo does not count what it refuses.
	if !l.allowUpTo("bytes", 60, 100, time.Hour) || l.allowUpTo("bytes", 50, 100, time.Hour) || !l.allowUpTo("bytes", 40, 100, time.Hour) {
		t.Fatal("allowUpTo")
	}
}

// TestLimiterCap: past maxKeys the oldest window is dropped; the map
// never grows past the cap and recent windows keep counting.
func TestLimiterCap(t *testing.T) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	l.maxKeys = 100
	for i := 0; i < 1000; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.allow(fmt.Sprint("k", i), 1, time.Hour)
		if got := l.size(); got > 100 {
			t.Fatalf("%d windows with a cap of 100", got)
		}
	}
	if l.allow("k999", 1, time.Hour) {
		t.Fatal("the newest window forgot its event")
	}
	if !l.allow("k0", 1, time.Hour) {
		t.Fatal("the oldest window was not the one dropped")
	}
}

// BenchmarkLimiterFreshKeys: the cost of a call when every call is a new
// key and old windows expire all the time (the pruning's worst case).
func BenchmarkLimiterFreshKeys(b *testing.B) {
	clk := &fakeNow{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(clk.now)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("signin-ip:10.0.", i>>8, ".", i&255)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.t = clk.t.Add(time.Millisecond)
		l.allow(keys[i&(len(keys)-1)], 20, time.Second)
	}
	b.ReportMetric(float64(l.size()), "windows")
}
