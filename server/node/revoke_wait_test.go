package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// quietCall is asyncEnv.call for goroutines other than the test's: it
// never fails the test (an error is status 0).
func quietCall(base, method, path, cred string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if strings.Contains(cred, ".") {
		req.Header.Set("Authorization", "Bearer "+cred)
	} else if cred != "" {
		req.Header.Set("Authorization", "Session "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestSettingsChangeWaitingForAHashAfterRevoke: a settings change with a
// password was checked when it came in, then waited for one of the
// node's two password slots, which anyone keeps busy (here: setting the
// password of a board of one's own again and again; joins with a board's
// right password are as unlimited), for as long as the call may last.
// Someone given an owner link kept such a change waiting, the owner
// revoked every link, and the change, made after the revoke, bumped the
// epoch again and was answered a new owner token: the owner's own new
// token was dead, the board taken. The caller is now checked again once
// the hash is made, and the settings are changed only for a credential
// the current settings still take: 401.
func TestSettingsChangeWaitingForAHashAfterRevoke(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	created := e.must(201, "POST", "/v1/boards", "", map[string]any{"name": "taken"})
	board, owner := boardID(t, created), created["token"].(string)
	path := "/v1/boards/" + board
	coFacilitator := e.must(201, "POST", path+"/links", owner, map[string]any{"role": "owner"})["token"].(string)

	// The password slots kept busy.
	flooder := e.signIn("flood@example.com")
	own := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", flooder, map[string]any{"name": "flood"}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				quietCall(e.tn.base, "PATCH", own, flooder, map[string]any{"password": fmt.Sprintf("flood password %d", i)})
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(500 * time.Millisecond)

	type answer struct {
		code int
		out  map[string]any
	}
	taken := make(chan answer, 1)
	go func() {
		code, out := quietCall(e.tn.base, "PATCH", path, coFacilitator, map[string]any{"password": "the co-facilitator's now"})
		taken <- answer{code, out}
	}()
	time.Sleep(500 * time.Millisecond) // checked, and waiting for a slot

	out := e.must(200, "PATCH", path, owner, map[string]any{"revokeLinks": true})
	owner = out["token"].(string)
	var a answer
	select {
	case a = <-taken:
		t.Fatalf("the co-facilitator's change was answered (%d) before the revoke: the password slots were not busy; nothing tested", a.code)
	default:
	}
	a = <-taken
	if a.code != 401 {
		t.Errorf("the revoked owner link's change, made after the revoke: %d %v, want 401", a.code, brief(a.out))
	}
	if code, out := e.call("GET", path, owner, nil); code != 200 {
		t.Fatalf("the owner's token after the revoke: %d %v", code, out)
	}
}
