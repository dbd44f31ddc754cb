package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/corkboard/corkboard/server/meta"
	"github.com/corkboard/corkboard/server/protocol"
	"github.com/corkboard/corkboard/server/room"
)

// maxTimer is the longest facilitation timer (ms): a session's activity,
// not a deadline (the board's deadline is for days).
const maxTimer = 24 * 60 * 60 * 1000

// timerPerMinute bounds the timer's changes of one board, whoever makes
// them: each is a quorum write of the board's record and a "settings" frame
// to every connection of the board on every node, and on a public board any
// stranger with the link may be an editor. A facilitator starts, pauses and
// resets a few times an hour.
const timerPerMinute = 20

// POST /v1/boards/{board}/timer (owner or editor): {"action": "start",
// "seconds"} starts (or restarts) the board's facilitation timer;
// "pause", "resume" and "reset" do what they say. The timer is board
// settings (meta.Timer), so the change reaches every node's connections
// with the "settings" frame (node/metadata.go), like the deadline.
// Rejected: a CRDT element for the timer (a timer is not content: undo,
// history and exports would carry it, and the crdt package would need a
// new kind).
func (srv *Server) postTimer(w http.ResponseWriter, r *http.Request) {
	id, _, who, ok := srv.enter(w, r)
	if !ok {
		return
	}
	if who.User.Role != room.RoleOwner && who.User.Role != room.RoleEditor {
		writeError(w, 403, protocol.CodeForbidden, "only the owner and editors may run the timer")
		return
	}
	if !srv.cfg.Limits.Allow("timer-board:"+id.String(), timerPerMinute, time.Minute) {
		w.Header().Set("Retry-After", "60")
		writeError(w, 429, protocol.CodeRateLimited, fmt.Sprintf("at most %d timer changes a minute per board", timerPerMinute))
		return
	}
	var req struct {
		Action  string `json:"action"`
		Seconds int64  `json:"seconds"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Action == "start" && (req.Seconds <= 0 || req.Seconds > maxTimer/1000) { // not Seconds*1000: it overflows
		writeError(w, 400, protocol.CodeMalformed, "seconds: 1 to 86400")
		return
	}
	now := srv.cfg.Now().UnixMilli()
	var m *meta.Board
	err := srv.cfg.Boards.Update(r.Context(), id.String(), func(cur *meta.Board) error {
		t := cur.Timer
		switch req.Action {
		case "start":
			cur.Timer = &meta.Timer{Duration: req.Seconds * 1000, End: now + req.Seconds*1000, By: who.User.Name}
		case "pause":
			if t == nil || t.End == 0 {
				return refuse(409, protocol.CodeMalformed, "the timer is not running")
			}
			cur.Timer = &meta.Timer{Duration: t.Duration, Left: max(t.End-now, 0), By: who.User.Name}
		case "resume":
			if t == nil || t.Left == 0 {
				return refuse(409, protocol.CodeMalformed, "the timer is not paused")
			}
			cur.Timer = &meta.Timer{Duration: t.Duration, End: now + t.Left, By: who.User.Name}
		case "reset":
			cur.Timer = nil
		default:
			return refuse(400, protocol.CodeMalformed, `action: "start", "pause", "resume" or "reset"`)
		}
		m = cur
		return nil
	})
	if err != nil {
		writeUpdateError(w, err)
		return
	}
	out := map[string]any{"now": now}
	if m.Timer != nil {
		out["timer"] = m.Timer
	}
	writeJSON(w, 200, out)
}
