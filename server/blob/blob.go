// Package blob keeps the images placed on boards (docs/API.md, "Blobs"):
// content-addressed in the node's store, counted per board, checked
// before they are taken, and copied between the nodes over the bus. The
// HTTP handlers that take and serve them are not its concern.
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
package blob

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/storage"
)

// MaxSize is the largest blob a node accepts (10 MiB).
const MaxSize = 10 << 20

const Namespace = "blob"

// Types are the accepted image types: what the client declares must be
// one of these and must equal what the bytes sniff as.
var Types = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// Config is what a Store needs from its node.
type Config struct {
	Store storage.Store // the node's own store: blobs and their counts live in its meta namespaces
	Bus   bus.Bus       // copies to and from the other nodes
	Log   *slog.Logger
	// Peers is how many other nodes are live: with none, a missing blob
	// is not asked for.
	Peers func() int
	// Knows says whether board is a board this node knows (nil error):
	// a copy for any other is dropped.
	Knows func(ctx context.Context, board storage.BoardID) error
}

// Store is one node's blobs: stored, counted, and in flight between the
// nodes.
type Store struct {
	store storage.Store
	bus   bus.Bus
	log   *slog.Logger
	peers func() int
	knows func(ctx context.Context, board storage.BoardID) error

	// usageMu serialises the read-modify-write of boards' picture byte
	// counts (usageNS) with the blob writes they count.
	usageMu sync.Mutex
	// mu guards the blobs in flight: assemblies of chunks and the GETs
	// waiting for a blob.
	mu         sync.Mutex
	assemblies map[assemblyKey]*assembly
	waiters    map[assemblyKey][]chan struct{}
}

// New makes a node's blob store.
func New(cfg Config) *Store {
	return &Store{store: cfg.Store, bus: cfg.Bus, log: cfg.Log, peers: cfg.Peers, knows: cfg.Knows,
		assemblies: map[assemblyKey]*assembly{}, waiters: map[assemblyKey][]chan struct{}{}}
}

// ErrRefused is returned by Put when its admit function refused the blob.
var ErrRefused = errors.New("blob: refused")

// Put stores a blob under its sum, unless the board has it already
// (content-addressed: nothing to write, stored is false). Before it
// writes, admit is called with the board's current picture bytes, under
// the lock of the board's count, so parallel uploads cannot overshoot a
// quota together; an error from admit is returned as it is and nothing is
// stored. The new count is kept after the write (a failure to keep it is
// logged).
func (s *Store) Put(ctx context.Context, board storage.BoardID, sum [32]byte, typ string, data []byte, admit func(used int64) error) (stored bool, err error) {
	key := Key(board, sum[:])
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if _, err := s.store.GetMeta(ctx, Namespace, key); err == nil {
		return false, nil // already stored: content-addressed, nothing to write
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	used, err := s.usage(ctx, board)
	if err != nil {
		return false, err
	}
	if err := admit(used); err != nil {
		return false, err
	}
	if err := s.store.PutMeta(ctx, Namespace, key, Encode(typ, data)); err != nil {
		return false, err
	}
	if err := s.setUsage(ctx, board, used+int64(len(data))); err != nil {
		s.log.Warn("blob: storing the board's picture bytes failed", "err", err)
	}
	return true, nil
}

// Get returns a board's blob: from this node's store, or, when this node
// lacks it (uploaded through another node while this one was away), from
// the other nodes (fetch). storage.ErrNotFound: no such blob.
func (s *Store) Get(ctx context.Context, board storage.BoardID, sum []byte) (typ string, data []byte, err error) {
	v, err := s.store.GetMeta(ctx, Namespace, Key(board, sum))
	if errors.Is(err, storage.ErrNotFound) {
		// Uploaded through another node while this one was away: ask.
		v, err = s.fetch(ctx, board, sum)
	}
	if err != nil {
		return "", nil, err
	}
	return Decode(v)
}

// The stored value: a format byte, the type's length (uvarint), the type,
// then the bytes.
const blobFormat = 1

func Encode(typ string, data []byte) []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(typ)+len(data))
	out = append(out, blobFormat)
	out = binary.AppendUvarint(out, uint64(len(typ)))
	out = append(out, typ...)
	return append(out, data...)
}

// Decode reads what Encode wrote; anything else is ErrCorrupt.
func Decode(v []byte) (typ string, data []byte, err error) {
	if len(v) < 2 || v[0] != blobFormat {
		return "", nil, fmt.Errorf("blob: bad format: %w", storage.ErrCorrupt)
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || n > 255 || n > uint64(len(v)-1-k) {
		return "", nil, fmt.Errorf("blob: bad type length: %w", storage.ErrCorrupt)
	}
	typ = string(v[1+k : 1+k+int(n)])
	if !Types[typ] {
		return "", nil, fmt.Errorf("blob: unknown type %q: %w", typ, storage.ErrCorrupt)
	}
	return typ, v[1+k+int(n):], nil
}

func Key(board storage.BoardID, sum []byte) []byte {
	return append(append(make([]byte, 0, len(board)+len(sum)), board[:]...), sum...)
}

// ParseID checks a blob id: 64 lowercase hex digits.
func ParseID(s string) ([]byte, bool) {
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

// usageNS keeps, per board (key: the board id), the bytes of the
// pictures this node has stored for it (8 bytes, big-endian). Not
// replicated: each node counts what it stores, copies from the other
// nodes included, so every node's count converges on the board's total.
// A board stored before the count existed is counted once by a scan.
const usageNS = "blobusage"

// usage returns a board's picture bytes on this node (usageMu held).
func (s *Store) usage(ctx context.Context, board storage.BoardID) (int64, error) {
	v, err := s.store.GetMeta(ctx, usageNS, board[:])
	if err == nil && len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, err
	}
	var total int64
	err = s.store.ScanMeta(ctx, Namespace, board[:], func(_, val []byte) error {
		if _, data, err := Decode(val); err == nil {
			total += int64(len(data))
		}
		return nil
	})
	return total, err
}

// setUsage stores a board's new picture byte count (usageMu held).
func (s *Store) setUsage(ctx context.Context, board storage.BoardID, total int64) error {
	return s.store.PutMeta(ctx, usageNS, board[:], binary.BigEndian.AppendUint64(nil, uint64(max(total, 0))))
}
