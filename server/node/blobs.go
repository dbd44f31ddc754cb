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
//     a blob is as large as a meta value can reasonably be (10 MiB here).
//     Other nodes get copies over the bus (see "copies on the other
//     nodes" below).

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/corkboard/corkboard/server/bus"
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
	if err := checkImage(declared, data, n.cfg.Quotas.MaxImagePixels); errors.Is(err, errImageSize) {
		writeError(w, 413, protocol.CodeTooLarge, err.Error())
		return
	} else if err != nil {
		writeError(w, 415, protocol.CodeMalformed, err.Error())
		return
	}
	sum := sha256.Sum256(data)
	key := blobKey(id, sum[:])
	status, stored := n.storeBlob(w, r, who, id, key, declared, data)
	if status == 0 {
		return
	}
	if stored {
		n.pushBlob(id, sum, declared, data)
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
// stored the bytes. The board's count is read and written under
// blobUsageMu, so parallel uploads cannot overshoot it together.
func (n *Node) storeBlob(w http.ResponseWriter, r *http.Request, who identity, id storage.BoardID, key []byte, typ string, data []byte) (int, bool) {
	ctx := r.Context()
	bc := n.blobCopies()
	bc.usageMu.Lock()
	defer bc.usageMu.Unlock()
	if _, err := n.store.GetMeta(ctx, blobNamespace, key); err == nil {
		return 200, false // already stored: content-addressed, nothing to write
	} else if !errors.Is(err, storage.ErrNotFound) {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return 0, false
	}
	used, err := n.blobUsage(ctx, id)
	if err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return 0, false
	}
	if limit := n.cfg.Quotas.BoardBlobBytes; !within(used+int64(len(data)), limit) {
		writeError(w, 413, protocol.CodeTooLarge, fmt.Sprintf("this board's pictures take %d of its %d MiB: delete some, or use smaller ones", used>>20, limit>>20))
		return 0, false
	}
	if !n.uploadAllowed(w, r, who, len(data)) {
		return 0, false
	}
	if err := n.store.PutMeta(ctx, blobNamespace, key, encodeBlob(typ, data)); err != nil {
		writeError(w, 500, protocol.CodeInternal, err.Error())
		return 0, false
	}
	if err := n.setBlobUsage(ctx, id, used+int64(len(data))); err != nil {
		n.log.Warn("blob: storing the board's picture bytes failed", "err", err)
	}
	return 201, true
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
		// Uploaded through another node while this one was away: ask.
		v, err = n.fetchBlob(r.Context(), id, sum)
	}
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

// ---- copies on the other nodes ----
//
// A blob is pushed to the other nodes when it is uploaded, in chunks over
// the bus (kind "blob" on the board's subject), and a node that lacks one
// when it is asked for it (it was down or cut off at the upload) asks the
// others for it (kind "blobwant") and waits a moment for the chunks. The bus
// delivers at most once, so a lost chunk leaves a copy missing until the
// next want; the uploading node's store stays the reference.
//
// Rejected: a shared blob store (S3, a NATS object store) — it would make
// every node depend on one more service to show a picture; and copying
// blobs in the anti-entropy of the op log — blobs are large, rare, and
// immutable, a poor fit for a version-vector exchange.

const (
	kindBlob     bus.Kind = "blob"     // board: one chunk of a blob (blobChunk)
	kindBlobWant bus.Kind = "blobwant" // board: "send me this blob" (its sha256)
	// blobChunkSize keeps each message well under NATS's default 1 MiB
	// max payload.
	blobChunkSize = 512 << 10
	// maxAssemblies bounds the blobs being received at once per node.
	maxAssemblies = 16
	assemblyTTL   = time.Minute
)

// blobWantWait is how long a GET of a blob this node lacks waits for
// another node to send it.
var blobWantWait = 3 * time.Second

// blobChunk is one piece of a blob on the bus:
//
//	sum[32] uvarint(len(type)) type uvarint(total) uvarint(offset) data
type blobChunk struct {
	Sum    [32]byte
	Type   string
	Total  int
	Offset int
	Data   []byte
}

func (c *blobChunk) encode() []byte {
	out := make([]byte, 0, 32+3*binary.MaxVarintLen64+len(c.Type)+len(c.Data))
	out = append(out, c.Sum[:]...)
	out = binary.AppendUvarint(out, uint64(len(c.Type)))
	out = append(out, c.Type...)
	out = binary.AppendUvarint(out, uint64(c.Total))
	out = binary.AppendUvarint(out, uint64(c.Offset))
	return append(out, c.Data...)
}

// decodeBlobChunk reads a chunk and checks that it is a well-formed piece
// of a blob of an accepted type and size.
func decodeBlobChunk(b []byte) (blobChunk, error) {
	var c blobChunk
	bad := func(what string) (blobChunk, error) { return blobChunk{}, errors.New("blob chunk: " + what) }
	if len(b) < 32 {
		return bad("short")
	}
	copy(c.Sum[:], b)
	b = b[32:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 255 || n > uint64(len(b)-k) {
		return bad("type length")
	}
	c.Type = string(b[k : k+int(n)])
	b = b[k+int(n):]
	if !blobTypes[c.Type] {
		return bad("type")
	}
	total, k := binary.Uvarint(b)
	if k <= 0 || total == 0 || total > MaxBlobSize {
		return bad("total")
	}
	b = b[k:]
	off, k := binary.Uvarint(b)
	if k <= 0 || off >= total || off%blobChunkSize != 0 {
		return bad("offset")
	}
	c.Data = b[k:]
	want := min(uint64(blobChunkSize), total-off)
	if uint64(len(c.Data)) != want {
		return bad("chunk length")
	}
	c.Total, c.Offset = int(total), int(off)
	return c, nil
}

type assemblyKey struct {
	board storage.BoardID
	sum   [32]byte
}

type assembly struct {
	typ     string
	buf     []byte
	have    map[int]bool
	started time.Time
}

// blobCopies is one node's state of blobs in flight: assemblies of chunks
// and the GETs waiting for a blob.
type blobCopies struct {
	// usageMu serialises the read-modify-write of boards' picture byte
	// counts (blobUsageNS) with the blob writes they count.
	usageMu    sync.Mutex
	mu         sync.Mutex
	assemblies map[assemblyKey]*assembly
	waiters    map[assemblyKey][]chan struct{}
}

// Kept beside the Node rather than in it: the Node's fields are the
// node's core; this is one feature's in-flight state.
var nodeBlobCopies sync.Map // *Node → *blobCopies

func (n *Node) blobCopies() *blobCopies {
	v, _ := nodeBlobCopies.LoadOrStore(n, &blobCopies{assemblies: map[assemblyKey]*assembly{}, waiters: map[assemblyKey][]chan struct{}{}})
	return v.(*blobCopies)
}

// pushBlob sends a stored blob to the other nodes.
func (n *Node) pushBlob(board storage.BoardID, sum [32]byte, typ string, data []byte) {
	for off := 0; off < len(data); off += blobChunkSize {
		c := blobChunk{Sum: sum, Type: typ, Total: len(data), Offset: off, Data: data[off:min(off+blobChunkSize, len(data))]}
		if err := n.bus.Publish(board, kindBlob, c.encode()); err != nil {
			n.log.Warn("blob: push failed", "err", err)
			return
		}
	}
}

// onBlobChunk collects another node's chunks and stores a complete blob
// whose bytes hash to its id, for a board this node knows.
func (n *Node) onBlobChunk(msg bus.Message) {
	c, err := decodeBlobChunk(msg.Data)
	if err != nil {
		return
	}
	board := storage.BoardID(msg.Board)
	key := assemblyKey{board, c.Sum}
	bc := n.blobCopies()
	bc.mu.Lock()
	a := bc.assemblies[key]
	now := time.Now()
	if a == nil || a.typ != c.Type || len(a.buf) != c.Total {
		for k, old := range bc.assemblies {
			if now.Sub(old.started) > assemblyTTL {
				delete(bc.assemblies, k)
			}
		}
		if len(bc.assemblies) >= maxAssemblies {
			bc.mu.Unlock()
			return
		}
		a = &assembly{typ: c.Type, buf: make([]byte, c.Total), have: map[int]bool{}, started: now}
		bc.assemblies[key] = a
	}
	copy(a.buf[c.Offset:], c.Data)
	a.have[c.Offset/blobChunkSize] = true
	if len(a.have) < (c.Total+blobChunkSize-1)/blobChunkSize {
		bc.mu.Unlock()
		return
	}
	delete(bc.assemblies, key)
	bc.mu.Unlock()
	if sha256.Sum256(a.buf) != c.Sum || http.DetectContentType(a.buf) != a.typ {
		n.log.Warn("blob: a copy from another node does not match its id", "node", msg.Node)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.loadBoard(ctx, board); err != nil {
		return // not a board this node knows (yet)
	}
	k := blobKey(board, c.Sum[:])
	bc.usageMu.Lock()
	if _, err := n.store.GetMeta(ctx, blobNamespace, k); errors.Is(err, storage.ErrNotFound) {
		// Copies are stored whatever the board's count says (the node
		// that took the upload checked it) and counted, so this node's
		// count is the board's total too.
		used, err := n.blobUsage(ctx, board)
		if err == nil {
			err = n.store.PutMeta(ctx, blobNamespace, k, encodeBlob(a.typ, a.buf))
		}
		if err != nil {
			bc.usageMu.Unlock()
			n.log.Warn("blob: storing a copy failed", "err", err)
			return
		}
		n.setBlobUsage(ctx, board, used+int64(len(a.buf)))
	}
	bc.usageMu.Unlock()
	bc.mu.Lock()
	ws := bc.waiters[key]
	delete(bc.waiters, key)
	bc.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// onBlobWant sends a blob another node asks for, when this node has it.
func (n *Node) onBlobWant(msg bus.Message) {
	if len(msg.Data) != 32 {
		return
	}
	var sum [32]byte
	copy(sum[:], msg.Data)
	board := storage.BoardID(msg.Board)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := n.store.GetMeta(ctx, blobNamespace, blobKey(board, sum[:]))
		if err != nil {
			return
		}
		typ, data, err := decodeBlob(v)
		if err != nil {
			return
		}
		n.pushBlob(board, sum, typ, data)
	}()
}

// fetchBlob asks the other nodes for a blob this node lacks and waits (up
// to blobWantWait, or until ctx ends) for it to be stored here. A node
// that knows no peers answers at once: there is nobody to ask.
func (n *Node) fetchBlob(ctx context.Context, board storage.BoardID, sum []byte) ([]byte, error) {
	if len(n.Peers()) == 0 {
		return nil, storage.ErrNotFound
	}
	var key assemblyKey
	key.board = board
	copy(key.sum[:], sum)
	bc := n.blobCopies()
	w := make(chan struct{})
	bc.mu.Lock()
	bc.waiters[key] = append(bc.waiters[key], w)
	bc.mu.Unlock()
	defer func() {
		bc.mu.Lock()
		ws := bc.waiters[key]
		for i, x := range ws {
			if x == w {
				bc.waiters[key] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(bc.waiters[key]) == 0 {
			delete(bc.waiters, key)
		}
		bc.mu.Unlock()
	}()
	n.bus.Publish(board, kindBlobWant, key.sum[:])
	t := time.NewTimer(blobWantWait)
	defer t.Stop()
	select {
	case <-w:
	case <-t.C:
	case <-ctx.Done():
	}
	return n.store.GetMeta(ctx, blobNamespace, blobKey(board, sum))
}
