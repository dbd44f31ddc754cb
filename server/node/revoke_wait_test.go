package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
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

// TestAbandonedPasswordChangesLeave: a settings change with a password
// waited for one of the node's two password slots with no regard for its
// call: one whose client was gone (it timed out, or never meant to wait)
// stayed queued, a goroutine and its request each, and was hashed when
// its turn came (19 MiB of argon2id and some 50 ms of a core). The queue
// had no bound: anyone signed in (or not: a board made with a password
// waits the same) sending password changes faster than two a hash time
// and hanging up grew the node's memory without end, and kept its slots
// busy long after they stopped. A call that ends while it waits leaves.
func TestAbandonedPasswordChangesLeave(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	flooder := e.signIn("flood@example.com")
	own := "/v1/boards/" + boardID(t, e.must(201, "POST", "/v1/boards", flooder, map[string]any{"name": "flood"}))
	const calls = 200
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"password": fmt.Sprintf("abandoned password %d", i)})
			req, _ := http.NewRequest("PATCH", e.tn.base+own, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Session "+flooder)
			if resp, err := (&http.Client{Timeout: 300 * time.Millisecond}).Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait() // every client gone
	// The calls leave as their requests end; queued, they would take
	// seconds to drain (two hashes at a time): a second is enough to
	// tell, on any machine.
	buf := make([]byte, 64<<20)
	waiting := 0
	for deadline := time.Now().Add(time.Second); ; {
		waiting = strings.Count(string(buf[:runtime.Stack(buf, true)]), "access.(*Checker).HashPassword")
		if waiting <= 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the count, not waiting for it
	}
	if waiting > 10 {
		t.Errorf("%d calls whose clients are gone still wait for a password slot, or hash; want them gone", waiting)
	}
}
