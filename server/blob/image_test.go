package blob

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
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
		if err := CheckImage(typ, data, 50_000_000); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		if err := CheckImage(typ, data[:len(data)/2], 50_000_000); err == nil && typ != "image/jpeg" && typ != "image/gif" {
			// JPEG and GIF are checked up to their headers only.
			t.Errorf("%s cut in half: accepted", typ)
		}
	}
	if err := CheckImage("image/png", encoded(t, "image/png"), 5); !errors.Is(err, ErrImageSize) {
		t.Errorf("6 pixels with at most 5: %v", err)
	}
	// A WebP whose RIFF length is not the file's.
	bad := append(append([]byte{}, tinyWebP...), 0, 0, 0, 0)
	if err := CheckImage("image/webp", bad, 0); err == nil {
		t.Error("WebP with bytes after its RIFF: accepted")
	}
	// VP8X with 20000×1 pixels.
	vp8x := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x1f\x4e\x00\x00\x00\x00")
	vp8x[4] = byte(len(vp8x) - 8)
	if err := CheckImage("image/webp", vp8x, 0); !errors.Is(err, ErrImageSize) {
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
		err := CheckImage(typ, data, 1_000_000)
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
		if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > 1_000_000 {
			t.Fatalf("%s accepted with %d×%d (%v)", typ, cfg.Width, cfg.Height, err)
		}
	})
}
