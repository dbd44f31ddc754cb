package blob

import (
	"bytes"
	"errors"
	"testing"

	"github.com/corkboard/corkboard/storage"
)

func TestBlobCodec(t *testing.T) {
	data := []byte("\x89PNG\r\n\x1a\nrest")
	typ, got, err := Decode(Encode("image/png", data))
	if err != nil || typ != "image/png" || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %q %q %v", typ, got, err)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0}, {1, 200}, {1, 3, 'a', 'b'}, Encode("text/html", data)} {
		if _, _, err := Decode(bad); !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("Decode(%q): %v, want ErrCorrupt", bad, err)
		}
	}
}

// FuzzDecodeBlob: any stored value decodes or fails with ErrCorrupt, never
// panics, and what decodes re-encodes to the same bytes.
func FuzzDecodeBlob(f *testing.F) {
	f.Add(Encode("image/png", []byte("x")))
	f.Add(Encode("image/webp", nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, v []byte) {
		typ, data, err := Decode(v)
		if err != nil {
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if re := Encode(typ, data); !bytes.Equal(re, v) {
			// Only a non-minimal uvarint may differ; the content must not.
			t2, d2, err := Decode(re)
			if err != nil || t2 != typ || !bytes.Equal(d2, data) {
				t.Fatalf("re-encoding changed the blob")
			}
		}
	})
}

func TestParseBlobID(t *testing.T) {
	good := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if b, ok := ParseID(good); !ok || len(b) != 32 {
		t.Fatalf("ParseID(%q) = %x, %v", good, b, ok)
	}
	for _, bad := range []string{"", good[:63], good + "0", "E" + good[1:], "g" + good[1:]} {
		if _, ok := ParseID(bad); ok {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestBlobChunkCodec(t *testing.T) {
	data := bytes.Repeat([]byte{7}, blobChunkSize+10)
	c := blobChunk{Sum: [32]byte{1, 2}, Type: "image/gif", Total: len(data), Offset: blobChunkSize, Data: data[blobChunkSize:]}
	got, err := decodeBlobChunk(c.encode())
	if err != nil || got.Sum != c.Sum || got.Type != c.Type || got.Total != c.Total || got.Offset != c.Offset || !bytes.Equal(got.Data, c.Data) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for name, bad := range map[string]blobChunk{
		"type":          {Type: "text/html", Total: 1, Data: []byte{1}},
		"empty":         {Type: "image/png", Total: 0},
		"too big":       {Type: "image/png", Total: MaxSize + 1, Data: make([]byte, blobChunkSize)},
		"offset beyond": {Type: "image/png", Total: 10, Offset: blobChunkSize, Data: make([]byte, 10)},
		"unaligned":     {Type: "image/png", Total: blobChunkSize * 2, Offset: 5, Data: make([]byte, blobChunkSize)},
		"short chunk":   {Type: "image/png", Total: blobChunkSize * 2, Data: make([]byte, 10)},
		"long last":     {Type: "image/png", Total: 10, Data: make([]byte, 11)},
	} {
		if _, err := decodeBlobChunk(bad.encode()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecodeBlobChunk: any bus message decodes or fails, never panics; what
// decodes is in bounds and re-encodes to an equal chunk.
func FuzzDecodeBlobChunk(f *testing.F) {
	f.Add((&blobChunk{Type: "image/png", Total: 3, Data: []byte{1, 2, 3}}).encode())
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeBlobChunk(b)
		if err != nil {
			return
		}
		if c.Offset < 0 || c.Offset+len(c.Data) > c.Total || c.Total > MaxSize || !Types[c.Type] {
			t.Fatalf("out of bounds: %+v", c)
		}
		again, err := decodeBlobChunk(c.encode())
		if err != nil || again.Sum != c.Sum || again.Type != c.Type || again.Total != c.Total || again.Offset != c.Offset || !bytes.Equal(again.Data, c.Data) {
			t.Fatalf("re-encoding changed the chunk")
		}
	})
}
