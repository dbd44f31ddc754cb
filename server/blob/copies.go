package blob

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/storage"
)

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
	KindChunk bus.Kind = "blob"     // board: one chunk of a blob (blobChunk)
	KindWant  bus.Kind = "blobwant" // board: "send me this blob" (its sha256)
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
	if !Types[c.Type] {
		return bad("type")
	}
	total, k := binary.Uvarint(b)
	if k <= 0 || total == 0 || total > MaxSize {
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

// Push sends a stored blob to the other nodes.
func (s *Store) Push(board storage.BoardID, sum [32]byte, typ string, data []byte) {
	for off := 0; off < len(data); off += blobChunkSize {
		c := blobChunk{Sum: sum, Type: typ, Total: len(data), Offset: off, Data: data[off:min(off+blobChunkSize, len(data))]}
		if err := s.bus.Publish(board, KindChunk, c.encode()); err != nil {
			s.log.Warn("blob: push failed", "err", err)
			return
		}
	}
}

// OnChunk collects another node's chunks and stores a complete blob
// whose bytes hash to its id, for a board this node knows.
func (s *Store) OnChunk(msg bus.Message) {
	c, err := decodeBlobChunk(msg.Data)
	if err != nil {
		return
	}
	board := storage.BoardID(msg.Board)
	key := assemblyKey{board, c.Sum}
	bc := s
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
		s.log.Warn("blob: a copy from another node does not match its id", "node", msg.Node)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.knows(ctx, board); err != nil {
		return // not a board this node knows (yet)
	}
	k := Key(board, c.Sum[:])
	bc.usageMu.Lock()
	if _, err := s.store.GetMeta(ctx, Namespace, k); errors.Is(err, storage.ErrNotFound) {
		// Copies are stored whatever the board's count says (the node
		// that took the upload checked it) and counted, so this node's
		// count is the board's total too.
		used, err := s.usage(ctx, board)
		if err == nil {
			err = s.store.PutMeta(ctx, Namespace, k, Encode(a.typ, a.buf))
		}
		if err != nil {
			bc.usageMu.Unlock()
			s.log.Warn("blob: storing a copy failed", "err", err)
			return
		}
		s.setUsage(ctx, board, used+int64(len(a.buf)))
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

// OnWant sends a blob another node asks for, when this node has it.
func (s *Store) OnWant(msg bus.Message) {
	if len(msg.Data) != 32 {
		return
	}
	var sum [32]byte
	copy(sum[:], msg.Data)
	board := storage.BoardID(msg.Board)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := s.store.GetMeta(ctx, Namespace, Key(board, sum[:]))
		if err != nil {
			return
		}
		typ, data, err := Decode(v)
		if err != nil {
			return
		}
		s.Push(board, sum, typ, data)
	}()
}

// fetch asks the other nodes for a blob this node lacks and waits (up
// to blobWantWait, or until ctx ends) for it to be stored here. A node
// that knows no peers answers at once: there is nobody to ask.
func (s *Store) fetch(ctx context.Context, board storage.BoardID, sum []byte) ([]byte, error) {
	if s.peers() == 0 {
		return nil, storage.ErrNotFound
	}
	var key assemblyKey
	key.board = board
	copy(key.sum[:], sum)
	bc := s
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
	s.bus.Publish(board, KindWant, key.sum[:])
	t := time.NewTimer(blobWantWait)
	defer t.Stop()
	select {
	case <-w:
	case <-t.C:
	case <-ctx.Done():
	}
	return s.store.GetMeta(ctx, Namespace, Key(board, sum))
}
