package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corkboard/corkboard/server/access"
	"github.com/corkboard/corkboard/server/account"
	"github.com/corkboard/corkboard/server/httpguard"
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
	// ChangeBytesPerDay: bytes of changes one signed-in person (and 10
	// times as much the signed-in people of one client address), or one
	// client address for anyone not signed in, may send this node per day, over the WebSocket
	// (ops frames as received), the write API (its changes, encoded) and
	// board files (POST /v1/boards/import: their changes and snapshot),
	// whatever their boards (default 1 GiB). Every board's history has
	// its own bound, but anyone may create 20 boards an hour: one address
	// could write 480 GiB a day. Typing and drawing all day is some
	// megabytes.
	ChangeBytesPerDay int64
	// MaxImagePixels: width × height of a picture (default 50
	// megapixels); a side may have at most 16384 pixels.
	MaxImagePixels int64
	// GuestNamesPerBoard: display names of anonymous guests kept per
	// board per day (default 200); GuestNamesPerHour: per node per hour
	// (default 2000). Past them, a guest still joins, but its name is not
	// stored: activity and digests call it "Guest".
	GuestNamesPerBoard, GuestNamesPerHour int
}

// Defaults fills the zero quotas with the stated defaults.
func (q *Quotas) Defaults() {
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
	if q.ChangeBytesPerDay == 0 {
		q.ChangeBytesPerDay = 1 << 30
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
func (srv *Server) mayCreateBoard(w http.ResponseWriter, r *http.Request) bool {
	if !httpguard.JSONContent(w, r) {
		return false
	}
	u, err := srv.cfg.Access.SignedIn(r)
	if err != nil {
		writeError(w, 401, protocol.CodeUnauthorized, err.Error())
		return false
	}
	if srv.spaceLow(w) { // before the rate: a refusal spends nothing
		return false
	}
	q := srv.cfg.Quotas
	switch {
	case u == nil && q.RequireSignInToCreate:
		writeError(w, 401, protocol.CodeUnauthorized, "sign in to create boards on this node (POST /v1/signin)")
		return false
	case u == nil && q.BoardsPerHour > 0 && !srv.cfg.Limits.AllowUpTo("boards-ip:"+httpguard.ClientIP(r), 1, q.BoardsPerHour, time.Hour):
		writeError(w, 429, protocol.CodeRateLimited, "too many boards created from your address this hour (at most "+strconv.Itoa(q.BoardsPerHour)+"); sign in, or try again later")
		return false
	case u != nil && q.SignedInBoardsPerHour > 0 && !srv.cfg.Limits.AllowUpTo("boards-user:"+u.ID, 1, q.SignedInBoardsPerHour, time.Hour):
		writeError(w, 429, protocol.CodeRateLimited, "too many boards created this hour (at most "+strconv.Itoa(q.SignedInBoardsPerHour)+"); try again later")
		return false
	}
	return true
}

// ---- pictures ----

// uploadAllowed counts an upload of size bytes against the uploader's
// daily budget (its address, and its person when signed in), writing the
// 429 itself when it is spent.
func (srv *Server) uploadAllowed(w http.ResponseWriter, r *http.Request, who access.Identity, size int) bool {
	limit := srv.cfg.Quotas.UploadBytesPerDay
	if limit < 0 {
		return true
	}
	keys := []string{"upload-ip:" + httpguard.ClientIP(r)}
	if who.Via == access.ViaSession {
		keys = append(keys, "upload-user:"+who.User.ID)
	}
	for _, k := range keys {
		if !srv.cfg.Limits.AllowUpTo(k, size, int(min(limit, 1<<50)), 24*time.Hour) {
			writeError(w, 429, protocol.CodeRateLimited, "too many picture bytes uploaded today (at most "+strconv.FormatInt(limit>>20, 10)+" MiB a day); try again tomorrow")
			return false
		}
	}
	return true
}

// signedInPoolDays is how many days' bytes of changes (Quotas.
// ChangeBytesPerDay) the signed-in people of one client address share,
// each within their own day's bytes.
const signedInPoolDays = 10

// ChangeBytesAllowed counts n bytes of changes against the day's bytes
// (Quotas.ChangeBytesPerDay) of their sender, and says whether they are
// within them. Anyone not signed in is counted by their client address
// ip. A signed-in person (user, else "") is counted by their account,
// and by a pool their address's signed-in people share, of
// signedInPoolDays days' bytes.
//
// Rejected: counting a signed-in person against the address's own bytes
// (one person behind an office's NAT or a carrier's shared address who
// spent them, in seconds, to a board of their own, locked everyone behind
// it out of every board of the node for a day, signed in or not); their
// account alone (an account costs a sign-in e-mail, 20 an hour per
// address: 480 GiB a day from one address again).
func (srv *Server) ChangeBytesAllowed(ip, user string, n int) bool {
	ok, _ := srv.AllowChangeBytes(ip, user, n)
	return ok
}

// AllowChangeBytes is ChangeBytesAllowed, and on a refusal how long
// until the day that refused the bytes ends: when the same bytes may
// be sent again (an error frame's retryAfter, a 429's Retry-After). A
// client told only "later" sent the same batch again every second or
// two until then, for up to a day.
func (srv *Server) AllowChangeBytes(ip, user string, n int) (bool, time.Duration) {
	limit := srv.cfg.Quotas.ChangeBytesPerDay
	if limit < 0 || n <= 0 {
		return true, 0
	}
	day := int(min(limit, 1<<50))
	refused := func(key string) (bool, time.Duration) {
		return false, max(time.Second, srv.cfg.Limits.Retry(key, 24*time.Hour))
	}
	if user == "" {
		if key := "changes-ip:" + ip; !srv.cfg.Limits.AllowUpTo(key, n, day, 24*time.Hour) {
			return refused(key)
		}
		return true, 0
	}
	if key := "changes-user:" + user; !srv.cfg.Limits.AllowUpTo(key, n, day, 24*time.Hour) {
		ok, retry := refused(key)
		if pool := "changes-signed-ip:" + ip; srv.cfg.Limits.Used(pool, day*signedInPoolDays, 24*time.Hour) {
			retry = max(retry, srv.cfg.Limits.Retry(pool, 24*time.Hour)) // spent too: taken once both days end
		}
		return ok, retry
	}
	if key := "changes-signed-ip:" + ip; !srv.cfg.Limits.AllowUpTo(key, n, day*signedInPoolDays, 24*time.Hour) {
		srv.cfg.Limits.RefundUpTo("changes-user:"+user, n)
		return refused(key)
	}
	return true, 0
}

// RefundChangeBytes gives back n bytes ChangeBytesAllowed counted for
// changes that were then refused, not stored: a batch the disk's reserve,
// the board's history bound or its queue refuses is sent again, and
// counted at every sending it spent the sender's day of bytes on
// nothing.
func (srv *Server) RefundChangeBytes(ip, user string, n int) {
	if srv.cfg.Quotas.ChangeBytesPerDay < 0 || n <= 0 {
		return
	}
	if user == "" {
		srv.cfg.Limits.RefundUpTo("changes-ip:"+ip, n)
		return
	}
	srv.cfg.Limits.RefundUpTo("changes-user:"+user, n)
	srv.cfg.Limits.RefundUpTo("changes-signed-ip:"+ip, n)
}

// ErrChangeBytes is the refusal of changes past Quotas.ChangeBytesPerDay.
func (srv *Server) ErrChangeBytes() string {
	return "too many bytes of changes sent today (at most " +
		strconv.FormatInt(srv.cfg.Quotas.ChangeBytesPerDay>>20, 10) + " MiB a day); resend later"
}

// changeBytesError is a write refused past the day's bytes of changes,
// with how long until they may be sent again.
type changeBytesError struct {
	msg   string
	retry time.Duration
}

func (e *changeBytesError) Error() string { return e.msg }

// ---- guests' names ----

// rememberGuestOn keeps a guest's display name (rememberGuest), within
// the board's and the node's budgets of guest records: each is a
// replicated record, and a guest of a public board is anybody who
// connects.
func (srv *Server) rememberGuestOn(ctx context.Context, board storage.BoardID, u protocol.User) {
	srv.keepGuest(ctx, board.String(), u)
}

// guestNameAllowed counts a new guest record against the budgets.
func (srv *Server) guestNameAllowed(board string) bool {
	q := srv.cfg.Quotas
	if board != "" && q.GuestNamesPerBoard > 0 && !srv.cfg.Limits.AllowUpTo("guestnames:"+board, 1, q.GuestNamesPerBoard, 24*time.Hour) {
		return false
	}
	return q.GuestNamesPerHour < 0 || srv.cfg.Limits.AllowUpTo("guestnames", 1, q.GuestNamesPerHour, time.Hour)
}

// keepGuest is rememberGuest with the board it happens on ("" unknown).
// The owner of a board made without signing in (access.OwnerPrefix) is
// kept the same way, outside the guests' budgets: one person per board
// made (which has budgets of its own), named by their token.
func (srv *Server) keepGuest(ctx context.Context, board string, u protocol.User) {
	guest, owner := strings.HasPrefix(u.ID, access.GuestPrefix), strings.HasPrefix(u.ID, access.OwnerPrefix)
	if !(guest || owner) || u.Name == "" || account.CheckName(u.Name) != nil {
		return
	}
	var cur account.User
	if srv.cfg.Records.Get(ctx, account.NSUser, []byte(u.ID), &cur) == nil && cur.Name == u.Name {
		return
	}
	if guest && !srv.guestNameAllowed(board) {
		return
	}
	now := srv.cfg.Now().UnixMilli()
	srv.cfg.Records.Update(ctx, account.NSUser, []byte(u.ID), &cur, func(found bool) error {
		if found && cur.Name == u.Name {
			return errUnchanged
		}
		created := now
		if found && cur.Created != 0 {
			created = cur.Created
		}
		cur = account.User{ID: u.ID, Name: u.Name, Color: u.Color, Created: created, Updated: srv.cfg.Records.Stamp(cur.Updated)}
		return nil
	})
}

// spaceLow answers 503 (with Retry-After) when the node's disk is below
// its free-space reserve (Config.SpaceLow): a new board, an import or a
// picture would be stored in the reserve, which is kept for what the
// node already took (the changes of other nodes, the boards' snapshots).
func (srv *Server) spaceLow(w http.ResponseWriter) bool {
	if srv.cfg.SpaceLow == nil || !srv.cfg.SpaceLow() {
		return false
	}
	w.Header().Set("Retry-After", "60")
	writeError(w, 503, protocol.CodeUnavailable, "this node's disk is nearly full: it stores nothing new until space is freed; try again later")
	return true
}
