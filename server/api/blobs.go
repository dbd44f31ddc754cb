package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/blob"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
	"github.com/corkboard/corkboard/storage"
)

// BlobInfo is the answer to an upload.
type BlobInfo struct {
	ID   string `json:"id"`   // sha256 of the bytes, lowercase hex
	URL  string `json:"url"`  // /v1/boards/{board}/blobs/{id}
	Type string `json:"type"` // image/png, image/jpeg, image/gif or image/webp
	Size int    `json:"size"` // bytes
}

// uploadBlob is POST /v1/boards/{board}/blobs: the raw bytes as the body.
func (srv *Server) uploadBlob(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may upload images")
		return
	}
	if srv.spaceLow(w) {
		return
	}
	declared := r.Header.Get("Content-Type")
	if declared == "image/svg+xml" {
		writeError(w, 415, protocol.CodeMalformed, "SVG images are not accepted: upload PNG, JPEG, GIF or WebP")
		return
	}
	if !blob.Types[declared] {
		writeError(w, 415, protocol.CodeMalformed, "Content-Type must be image/png, image/jpeg, image/gif or image/webp")
		return
	}
	if r.ContentLength > blob.MaxSize {
		writeError(w, 413, protocol.CodeTooLarge, "an image may have at most "+strconv.Itoa(blob.MaxSize)+" bytes")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, blob.MaxSize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, 413, protocol.CodeTooLarge, "an image may have at most "+strconv.Itoa(blob.MaxSize)+" bytes")
		return
	}
	if err != nil {
		writeError(w, 400, protocol.CodeMalformed, "body: "+err.Error())
		return
	}
	if _, who, ok = srv.againAfterBody(w, r, who, false); !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only editors and owners may upload images")
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
	if err := blob.CheckImage(declared, data, srv.cfg.Quotas.MaxImagePixels); errors.Is(err, blob.ErrImageSize) {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	} else if err != nil {
		writeError(w, 415, protocol.CodeMalformed, err.Error())
		return
	}
	sum := sha256.Sum256(data)
	status, stored := srv.storeBlob(w, r, who, id, sum, declared, data)
	if status == 0 {
		return
	}
	if stored {
		srv.cfg.Blobs.Push(id, sum, declared, data)
	}
	hexID := hex.EncodeToString(sum[:])
	info := BlobInfo{ID: hexID, URL: "/v1/boards/" + id.String() + "/blobs/" + hexID, Type: declared, Size: len(data)}
	w.Header().Set("Location", info.URL)
	writeJSON(w, status, info)
}

// storeBlob stores an upload within the quotas: the board's picture
// bytes (413) and the uploader's daily bytes (429). A picture the board
// has already is not stored again and costs nothing (200). It returns the
// status to answer with (0: it wrote the error itself) and whether it
// stored the bytes. The quotas are checked under the lock of the board's
// count (blob.Store.Put), so parallel uploads cannot overshoot it
// together.
func (srv *Server) storeBlob(w http.ResponseWriter, r *http.Request, who access.Identity, id storage.BoardID, sum [32]byte, typ string, data []byte) (int, bool) {
	stored, err := srv.cfg.Blobs.Put(r.Context(), id, sum, typ, data, func(used int64) error {
		if limit := srv.cfg.Quotas.BoardBlobBytes; !within(used+int64(len(data)), limit) {
			writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("this board's pictures take %d of its %d MiB: delete some, or use smaller ones", used>>20, limit>>20))
			return blob.ErrRefused
		}
		if !srv.uploadAllowed(w, r, who, len(data)) {
			return blob.ErrRefused
		}
		return nil
	})
	switch {
	case errors.Is(err, blob.ErrRefused):
		return 0, false
	case err != nil:
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return 0, false
	case !stored:
		return 200, false
	}
	return 201, true
}

// getBlob is GET /v1/boards/{board}/blobs/{blob}: anyone who may read the
// board (viewers too).
func (srv *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	id, _, _, ok := srv.enter(w, r)
	if !ok {
		return
	}
	sum, ok := blob.ParseID(r.PathValue("blob"))
	if !ok {
		writeError(w, 400, protocol.CodeMalformed, "blob id must be 64 lowercase hex digits (a sha256)")
		return
	}
	typ, data, err := srv.cfg.Blobs.Get(r.Context(), id, sum)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, 404, "not_found", "no such blob on this board")
		return
	}
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
