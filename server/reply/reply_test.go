package reply

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/corkboard/corkboard/server/protocol"
)

// A refusal reaches the client as its own status and code, even wrapped;
// any other error is a 500. Both are the documented JSON error body.
func TestUpdateError(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   protocol.Code
	}{
		{Refuse(409, protocol.CodeTooLarge, "full"), 409, protocol.CodeTooLarge},
		{fmt.Errorf("wrapped: %w", Refuse(404, protocol.CodeUnknownBoard, "no such board")), 404, protocol.CodeUnknownBoard},
		{errors.New("disk on fire"), 500, protocol.CodeInternal},
	} {
		rec := httptest.NewRecorder()
		UpdateError(rec, c.err)
		var body struct {
			Error struct {
				Code    protocol.Code `json:"code"`
				Message string        `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", c.err, rec.Body, err)
		}
		if rec.Code != c.status || body.Error.Code != c.code || body.Error.Message == "" {
			t.Errorf("%v: %d %+v, want %d %s", c.err, rec.Code, body.Error, c.status, c.code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}
