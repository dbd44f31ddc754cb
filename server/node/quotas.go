package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/storage"
)

// Quotas: what one person or one address may make the node store. Every
// refusal is a 429 (rate_limited: try again later) or a 413 (too_large:
// this will not fit), with a JSON error that names the limit.

// Quotas bound what anonymous and signed-in people may store. Zero values
// take the stated defaults; a negative number means no limit.
type Quotas struct {
	// RequireSignInToCreate: only signed-in people may create boards
	// (401 for anyone else). Off by default, so a node started with
	// `make run` works at once; a node on the internet should turn it on.
	RequireSignInToCreate bool
	// BoardsPerHour: boards one client address may create per hour
	// without signing in (default 20).
	BoardsPerHour int
	// SignedInBoardsPerHour: boards one signed-in person may create per
	// hour (default 100).
	SignedInBoardsPerHour int
	// BoardBlobBytes: the pictures of one board, in bytes (default 100
	// MiB), as this node has stored them.
	BoardBlobBytes int64
	// UploadBytesPerDay: picture bytes one client address, and one
	// signed-in person, may upload per day (default 256 MiB). Uploading
	// a picture the board already has costs nothing.
	UploadBytesPerDay int64
	// MaxImagePixels: width × height of a picture (default 50
	// megapixels); a side may have at most 16384 pixels.
	MaxImagePixels int64
	// GuestNamesPerBoard: display names of anonymous guests kept per
	// board per day (default 200); GuestNamesPerHour: per node per hour
	// (default 2000). Past them, a guest still joins, but its name is not
	// stored: activity and digests call it "Guest".
	GuestNamesPerBoard, GuestNamesPerHour int
}

func (q *Quotas) defaults() {
	if q.BoardsPerHour == 0 {
		q.BoardsPerHour = 20
	}
	if q.SignedInBoardsPerHour == 0 {
		q.SignedInBoardsPerHour = 100
	}
	if q.BoardBlobBytes == 0 {
		q.BoardBlobBytes = 100 << 20
	}
	if q.UploadBytesPerDay == 0 {
		q.UploadBytesPerDay = 256 << 20
	}
	if q.MaxImagePixels == 0 {
		q.MaxImagePixels = 50_000_000
	}
	if q.GuestNamesPerBoard == 0 {
		q.GuestNamesPerBoard = 200
	}
	if q.GuestNamesPerHour == 0 {
		q.GuestNamesPerHour = 2000
	}
}

// within says whether used (after the new one) is within a limit (<0: none).
func within[T int | int64](used, limit T) bool { return limit < 0 || used <= limit }

// mayCreateBoard is the gate of POST /v1/boards, before its body is read:
// a JSON body, a signed-in person when the node requires one, and the
// creation rate of the address (anonymous) or the person (signed in).
// It writes the refusal itself.
func (n *Node) mayCreateBoard(w http.ResponseWriter, r *http.Request) bool {
	if !jsonContent(w, r) {
		return false
	}
	u, err := n.signedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return false
	}
	q := n.cfg.Quotas
	switch {
	case u == nil && q.RequireSignInToCreate:
		writeError(w, 401, protocol.CodeUnauthorized, "sign in to create boards on this node (POST /v1/signin)")
		return false
	case u == nil && q.BoardsPerHour > 0 && !n.limits.allowUpTo("boards-ip:"+clientIP(r), 1, q.BoardsPerHour, time.Hour):
		writeError(w, 429, protocol.CodeRateLimited, "too many boards created from your address this hour (at most "+strconv.Itoa(q.BoardsPerHour)+"); sign in, or try again later")
		return false
	case u != nil && q.SignedInBoardsPerHour > 0 && !n.limits.allowUpTo("boards-user:"+u.ID, 1, q.SignedInBoardsPerHour, time.Hour):
		writeError(w, 429, protocol.CodeRateLimited, "too many boards created this hour (at most "+strconv.Itoa(q.SignedInBoardsPerHour)+"); try again later")
		return false
	}
	return true
}

// ---- pictures ----

// maxImageSide bounds each side of a picture, in pixels.
const maxImageSide = 16384

// errImageSize marks a picture that parses but is too large.
var errImageSize = errors.New("image too large")

// checkImage parses a picture's structure as far as it can without
// decoding its pixels: the header of its type (image.DecodeConfig, or
// the RIFF and VP8/VP8L/VP8X headers for WebP), its dimensions, and for
// PNG every chunk's length and CRC up to IEND, for WebP the RIFF length.
// So a file with the right magic bytes and anything after them is
// refused. Rejected: decoding the pixels (a 50-megapixel picture is 200
// MB of RGBA: the check would be the attack).
func checkImage(typ string, data []byte, maxPixels int64) error {
	var cfg image.Config
	var err error
	switch typ {
	case "image/png":
		if err = checkPNGChunks(data); err == nil {
			cfg, err = png.DecodeConfig(bytes.NewReader(data))
		}
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/gif":
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		cfg, err = webpConfig(data)
	default:
		return fmt.Errorf("type %s is not accepted", typ)
	}
	if err != nil {
		return fmt.Errorf("not a valid %s: %v", strings.TrimPrefix(typ, "image/"), err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("not a valid %s: %d×%d pixels", strings.TrimPrefix(typ, "image/"), cfg.Width, cfg.Height)
	}
	if cfg.Width > maxImageSide || cfg.Height > maxImageSide || (maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > maxPixels) {
		return fmt.Errorf("%w: %d×%d pixels; at most %d on a side and %d in all", errImageSize, cfg.Width, cfg.Height, maxImageSide, maxPixels)
	}
	return nil
}

// checkPNGChunks walks a PNG's chunks: each fits, has a valid CRC, and
// IEND ends the file.
func checkPNGChunks(data []byte) error {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return errors.New("no PNG signature")
	}
	b := data[len(sig):]
	for len(b) > 0 {
		if len(b) < 12 {
			return errors.New("truncated chunk")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-12) {
			return errors.New("chunk longer than the file")
		}
		body := b[4 : 8+n]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(b[8+n:]) {
			return fmt.Errorf("chunk %q: bad CRC", body[:4])
		}
		if string(body[:4]) == "IEND" {
			if len(b) != int(12+n) {
				return errors.New("bytes after IEND")
			}
			return nil
		}
		b = b[12+n:]
	}
	return errors.New("no IEND chunk")
}

// webpConfig reads a WebP's dimensions from its first chunk (VP8X, VP8L
// or VP8), after checking the RIFF header's length against the file's.
func webpConfig(d []byte) (image.Config, error) {
	var cfg image.Config
	if len(d) < 30 || string(d[:4]) != "RIFF" || string(d[8:12]) != "WEBP" {
		return cfg, errors.New("no RIFF WEBP header")
	}
	if riff := uint64(binary.LittleEndian.Uint32(d[4:])) + 8; riff != uint64(len(d)) && riff+1 != uint64(len(d)) {
		return cfg, fmt.Errorf("RIFF length %d, file %d bytes", riff, len(d))
	}
	chunk, body := string(d[12:16]), d[20:]
	if uint64(binary.LittleEndian.Uint32(d[16:])) > uint64(len(body)) {
		return cfg, errors.New("first chunk longer than the file")
	}
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	switch chunk {
	case "VP8X":
		cfg.Width, cfg.Height = 1+u24(body[4:]), 1+u24(body[7:])
	case "VP8L":
		if body[0] != 0x2f {
			return cfg, errors.New("bad VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(body[1:])
		cfg.Width, cfg.Height = 1+int(bits&0x3fff), 1+int(bits>>14&0x3fff)
	case "VP8 ":
		if body[3] != 0x9d || body[4] != 0x01 || body[5] != 0x2a {
			return cfg, errors.New("bad VP8 start code")
		}
		cfg.Width, cfg.Height = int(binary.LittleEndian.Uint16(body[6:])&0x3fff), int(binary.LittleEndian.Uint16(body[8:])&0x3fff)
	default:
		return cfg, fmt.Errorf("unknown first chunk %q", chunk)
	}
	return cfg, nil
}

// blobUsageNS keeps, per board (key: the board id), the bytes of the
// pictures this node has stored for it (8 bytes, big-endian). Not
// replicated: each node counts what it stores, copies from the other
// nodes included, so every node's count converges on the board's total.
// A board stored before the count existed is counted once by a scan.
const blobUsageNS = "blobusage"

// blobUsage returns a board's picture bytes on this node (blobUsageMu
// held).
func (n *Node) blobUsage(ctx context.Context, board storage.BoardID) (int64, error) {
	v, err := n.store.GetMeta(ctx, blobUsageNS, board[:])
	if err == nil && len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, err
	}
	var total int64
	err = n.store.ScanMeta(ctx, blobNamespace, board[:], func(_, val []byte) error {
		if _, data, err := decodeBlob(val); err == nil {
			total += int64(len(data))
		}
		return nil
	})
	return total, err
}

// setBlobUsage stores a board's new picture byte count (blobUsageMu held).
func (n *Node) setBlobUsage(ctx context.Context, board storage.BoardID, total int64) error {
	return n.store.PutMeta(ctx, blobUsageNS, board[:], binary.BigEndian.AppendUint64(nil, uint64(max(total, 0))))
}

// uploadAllowed counts an upload of size bytes against the uploader's
// daily budget (its address, and its person when signed in), writing the
// 429 itself when it is spent.
func (n *Node) uploadAllowed(w http.ResponseWriter, r *http.Request, who identity, size int) bool {
	limit := n.cfg.Quotas.UploadBytesPerDay
	if limit < 0 {
		return true
	}
	keys := []string{"upload-ip:" + clientIP(r)}
	if who.Via == viaSession {
		keys = append(keys, "upload-user:"+who.User.ID)
	}
	for _, k := range keys {
		if !n.limits.allowUpTo(k, size, int(min(limit, 1<<50)), 24*time.Hour) {
			writeError(w, 429, protocol.CodeRateLimited, "too many picture bytes uploaded today (at most "+strconv.FormatInt(limit>>20, 10)+" MiB a day); try again tomorrow")
			return false
		}
	}
	return true
}

// ---- guests' names ----

// rememberGuestOn keeps a guest's display name (rememberGuest), within
// the board's and the node's budgets of guest records: each is a
// replicated record, and a guest of a public board is anybody who
// connects.
func (n *Node) rememberGuestOn(ctx context.Context, board storage.BoardID, u protocol.User) {
	n.keepGuest(ctx, board.String(), u)
}

// guestNameAllowed counts a new guest record against the budgets.
func (n *Node) guestNameAllowed(board string) bool {
	q := n.cfg.Quotas
	if board != "" && q.GuestNamesPerBoard > 0 && !n.limits.allowUpTo("guestnames:"+board, 1, q.GuestNamesPerBoard, 24*time.Hour) {
		return false
	}
	return q.GuestNamesPerHour < 0 || n.limits.allowUpTo("guestnames", 1, q.GuestNamesPerHour, time.Hour)
}

// keepGuest is rememberGuest with the board it happens on ("" unknown).
func (n *Node) keepGuest(ctx context.Context, board string, u protocol.User) {
	if !strings.HasPrefix(u.ID, "guest-") || u.Name == "" || account.CheckName(u.Name) != nil {
		return
	}
	n.lockRecords()
	defer n.unlockRecords()
	var cur account.User
	found := n.getRecord(ctx, account.NSUser, []byte(u.ID), &cur) == nil
	if found && cur.Name == u.Name {
		return
	}
	if !n.guestNameAllowed(board) {
		return
	}
	now := n.cfg.Now().UnixMilli()
	rec := account.User{ID: u.ID, Name: u.Name, Color: u.Color, Created: max(cur.Created, now), Updated: n.stamp(cur.Updated)}
	if cur.Created != 0 {
		rec.Created = cur.Created
	}
	n.putRecordLocked(ctx, account.NSUser, []byte(u.ID), &rec)
}
