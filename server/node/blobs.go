package node

// Blobs: the bytes of images placed on a board (docs/API.md, "Blobs").
//
// A blob is stored content-addressed in the store's meta namespace "blob"
// under the key board id (16 bytes) + sha256 (32 bytes), so uploading the
// same picture twice stores it once, and a blob belongs to one board (a
// token for another board cannot read it).
//
// Choices, and what was rejected:
//   - SVG is refused (415). An SVG is a document that may carry script and
//     links; served from the node's origin it could act for whoever opens
//     its URL. Serving it as an attachment under a strict CSP would make it
//     useless for <img>-less clients and still invites mistakes; a picture
//     format is enough for a whiteboard.
//   - The declared Content-Type must agree with what
//     http.DetectContentType sniffs from the bytes: a mismatch is refused
//     rather than corrected, so a client bug or a disguised file shows.
//   - Blobs live in the meta namespace of the node's own store, not in a
//     separate file tree: one backup, one crash-safety story. The price:
//     a blob is as large as a meta value can reasonably be (10 MiB here),
//     and blobs are not replicated to other nodes yet (a documented limit).

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// MaxBlobSize is the largest blob a node accepts (10 MiB).
const MaxBlobSize = 10 << 20

const blobNamespace = "blob"

// blobTypes are the accepted image types: what the client declares must be
// one of these and must equal what the bytes sniff as.
var blobTypes = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// BlobInfo is the answer to an upload.
type BlobInfo struct {
	ID   string `json:"id"`   // sha256 of the bytes, lowercase hex
	URL  string `json:"url"`  // /v1/boards/{board}/blobs/{id}
	Type string `json:"type"` // image/png, image/jpeg, image/gif or image/webp
	Size int    `json:"size"` // bytes
}

// The stored value: a format byte, the type's length (uvarint), the type,
// then the bytes.
const blobFormat = 1

func encodeBlob(typ string, data []byte) []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(typ)+len(data))
	out = append(out, blobFormat)
	out = binary.AppendUvarint(out, uint64(len(typ)))
	out = append(out, typ...)
	return append(out, data...)
}

// decodeBlob reads what encodeBlob wrote; anything else is ErrCorrupt.
func decodeBlob(v []byte) (typ string, data []byte, err error) {
	if len(v) < 2 || v[0] != blobFormat {
		return "", nil, fmt.Errorf("blob: bad format: %w", storage.ErrCorrupt)
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || n > 255 || n > uint64(len(v)-1-k) {
		return "", nil, fmt.Errorf("blob: bad type length: %w", storage.ErrCorrupt)
	}
	typ = string(v[1+k : 1+k+int(n)])
	if !blobTypes[typ] {
		return "", nil, fmt.Errorf("blob: unknown type %q: %w", typ, storage.ErrCorrupt)
	}
	return typ, v[1+k+int(n):], nil
}

func blobKey(board storage.BoardID, sum []byte) []byte {
	return append(append(make([]byte, 0, len(board)+len(sum)), board[:]...), sum...)
}

// parseBlobID checks a blob id: 64 lowercase hex digits.
func parseBlobID(s string) ([]byte, bool) {
	if len(s) != 64 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// uploadBlob is POST /v1/boards/{board}/blobs: the raw bytes as the body.
func (n *Node) uploadBlob(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := n.enter(w, r)
	if !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may upload images")
		return
	}
	declared := r.Header.Get("Content-Type")
	if declared == "image/svg+xml" {
		writeError(w, 415, protocol.CodeMalformed, "SVG images are not accepted: upload PNG, JPEG, GIF or WebP")
		return
	}
	if !blobTypes[declared] {
		writeError(w, 415, protocol.CodeMalformed, "Content-Type must be image/png, image/jpeg, image/gif or image/webp")
		return
	}
	if r.ContentLength > MaxBlobSize {
		writeError(w, 413, protocol.CodeTooLarge, "an image may have at most "+strconv.Itoa(MaxBlobSize)+" bytes")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBlobSize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, 413, protocol.CodeTooLarge, "an image may have at most "+strconv.Itoa(MaxBlobSize)+" bytes")
		return
	}
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return
	}
	if len(data) == 0 {
		writeError(w, 400, protocol.CodeMalformed, "empty body")
		return
	}
	if sniffed := http.DetectContentType(data); sniffed != declared {
		writeError(w, 415, protocol.CodeMalformed, fmt.Sprintf("the bytes are %s, not %s", sniffed, declared))
		return
	}
	sum := sha256.Sum256(data)
	key := blobKey(id, sum[:])
	status := 201
	if _, err := n.store.GetMeta(r.Context(), blobNamespace, key); err == nil {
		status = 200 // already stored: content-addressed, nothing to write
	} else if !errors.Is(err, storage.ErrNotFound) {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	} else if err := n.store.PutMeta(r.Context(), blobNamespace, key, encodeBlob(declared, data)); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	hexID := hex.EncodeToString(sum[:])
	info := BlobInfo{ID: hexID, URL: "/v1/boards/" + id.String() + "/blobs/" + hexID, Type: declared, Size: len(data)}
	w.Header().Set("Location", info.URL)
	writeJSON(w, status, info)
}

// getBlob is GET /v1/boards/{board}/blobs/{blob}: anyone who may read the
// board (viewers too).
func (n *Node) getBlob(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := n.enter(w, r)
	if !ok {
		return
	}
	sum, ok := parseBlobID(r.PathValue("blob"))
	if !ok {
		writeError(w, 400, protocol.CodeMalformed, "blob id must be 64 lowercase hex digits (a sha256)")
		return
	}
	v, err := n.store.GetMeta(r.Context(), blobNamespace, blobKey(id, sum))
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, 404, "not_found", "no such blob on this board")
		return
	}
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	typ, data, err := decodeBlob(v)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return
	}
	etag := `"` + r.PathValue("blob") + `"`
	hd := w.Header()
	hd.Set("ETag", etag)
	// The content never changes under its id; private, because the board
	// may need a token to read.
	hd.Set("Cache-Control", "private, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", typ)
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(200)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}
