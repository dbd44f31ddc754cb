// Package reply is how the server answers an HTTP request with JSON: a
// body, or an error as {"error": {"code": "...", "message": "..."}}. The
// REST handlers and the WebSocket endpoint (before its upgrade) answer
// through it, so every error has the same shape.
package reply

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/corkboard/corkboard/server/protocol"
)

// apiError is the JSON body of every REST error:
// {"error": {"code": "...", "message": "..."}}.
type apiError struct {
	Error struct {
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	} `json:"error"`
}

// JSON writes v as the answer's JSON body with status; answers are never
// cached.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// Error writes an error answer: status, and the body
// {"error": {"code": code, "message": msg}}.
func Error(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	JSON(w, status, e)
}

// Refusal is a change's answer to the client, carried as an error from
// the read-modify-write of a record back to the handler: the request is
// refused and the record stays as it was.
type Refusal struct {
	Status int
	Code   protocol.Code
	Msg    string
}

func (e *Refusal) Error() string { return e.Msg }

// Refuse is a Refusal as an error.
func Refuse(status int, code protocol.Code, msg string) error {
	return &Refusal{status, code, msg}
}

// UpdateError answers a failed read-modify-write: its Refusal, or a 500.
func UpdateError(w http.ResponseWriter, err error) {
	var ref *Refusal
	if errors.As(err, &ref) {
		Error(w, ref.Status, ref.Code, ref.Msg)
		return
	}
	Error(w, 500, protocol.CodeInternal, err.Error())
}
