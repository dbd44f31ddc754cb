package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

// openAPI is the node's /v1/openapi.json, with a validator of JSON values
// against its schemas: enough of JSON Schema for what the document uses
// (type, required, properties, items, additionalProperties, enum, const,
// anyOf, $ref).
type openAPI struct {
	doc map[string]any
}

func loadOpenAPI(t *testing.T, base string) *openAPI {
	t.Helper()
	resp, err := http.Get(base + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		t.Fatalf("GET /v1/openapi.json: %s", resp.Status)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	return &openAPI{doc: doc}
}

// ref resolves a local $ref ("#/components/...").
func (o *openAPI) ref(r string) map[string]any {
	var cur any = o.doc
	for _, p := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
		cur = cur.(map[string]any)[p]
	}
	return cur.(map[string]any)
}

func (o *openAPI) deref(m map[string]any) map[string]any {
	for m != nil && m["$ref"] != nil {
		m = o.ref(m["$ref"].(string))
	}
	return m
}

// operation finds the operation of a route pattern ("GET /v1/x/{id}").
func (o *openAPI) operation(pattern string) map[string]any {
	method, path, _ := strings.Cut(pattern, " ")
	item, _ := o.doc["paths"].(map[string]any)[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	return op
}

// validate checks v against schema s, naming where it fails.
func (o *openAPI) validate(s map[string]any, v any, at string) error {
	s = o.deref(s)
	if s == nil {
		return nil
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, alt := range anyOf {
			err := o.validate(alt.(map[string]any), v, at)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: none of anyOf: %s", at, strings.Join(errs, "; "))
		}
	}
	if c, ok := s["const"]; ok && c != v {
		return fmt.Errorf("%s: %v, want %v", at, v, c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return jsonIs(v, t) }) {
			return fmt.Errorf("%s: %T (%v) is not %v", at, v, v, types)
		}
	}
	obj, isObj := v.(map[string]any)
	if isObj {
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: no %q", at, r)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				if err := o.validate(ps, val, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: %q is not described", at, k)
				}
			case map[string]any:
				if err := o.validate(ap, val, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				if err := o.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func jsonIs(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// checkAnswer validates a real answer against the operation's documented
// responses: its status must be one, a body's media type one documented
// for it (when any is), and a JSON body must fit its schema.
func (o *openAPI) checkAnswer(pattern string, status int, ctype string, body []byte) error {
	op := o.operation(pattern)
	if op == nil {
		return fmt.Errorf("%s: not in the OpenAPI description", pattern)
	}
	resp, ok := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
	if !ok {
		return fmt.Errorf("%s answered %d, not a documented status (%s)", pattern, status, body)
	}
	resp = o.deref(resp)
	content, _ := resp["content"].(map[string]any)
	if mt, _, _ := strings.Cut(ctype, ";"); len(content) > 0 && len(body) > 0 && content[strings.TrimSpace(mt)] == nil {
		return fmt.Errorf("%s %d: answered %s, documented %v", pattern, status, ctype, slices.Sorted(maps.Keys(content)))
	}
	if !strings.HasPrefix(ctype, "application/json") || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	media, ok := content["application/json"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %d: answered JSON, documented %v", pattern, status, content)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	schema, _ := media["schema"].(map[string]any)
	if err := o.validate(schema, v, "body"); err != nil {
		return fmt.Errorf("%s %d: %v\n%s", pattern, status, err, body)
	}
	return nil
}

// The OpenAPI description and the node agree: every route is described and
// every described operation is a route; real answers of the routes, good
// and bad, have documented statuses and fit their schemas.
func TestOpenAPIDescribesTheRealHandlers(t *testing.T) {
	e := newAsyncEnv(t, secStart)
	api := loadOpenAPI(t, e.tn.base)

	routes := e.tn.n.Routes()
	described := map[string]bool{}
	for path, item := range api.doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range routes {
		if !described[r] {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
		delete(described, r)
	}
	for d := range described {
		t.Errorf("docs/openapi.yaml describes %s, which is no route", d)
	}

	// Real answers, through a scenario that touches most resources.
	call := func(pattern, path, cred string, body any, hdr ...string) map[string]any {
		t.Helper()
		method, _, _ := strings.Cut(pattern, " ")
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, e.tn.base+path, rd)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		switch {
		case strings.Contains(cred, "."):
			req.Header.Set("Authorization", "Bearer "+cred)
		case cred != "":
			req.Header.Set("Authorization", "Session "+cred)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if err := api.checkAnswer(pattern, resp.StatusCode, resp.Header.Get("Content-Type"), raw); err != nil {
			t.Error(err)
		}
		var out map[string]any
		json.Unmarshal(raw, &out)
		return out
	}
	owner := e.signIn("owner@example.com")
	created := call("POST /v1/boards", "/v1/boards", owner, map[string]any{"name": "described"})
	board := boardID(t, created)
	b := "/v1/boards/" + board
	tok := created["token"].(string)
	call("GET /healthz", "/healthz", "", nil)
	call("GET /readyz", "/readyz", "", nil)
	call("GET /v1/me", "/v1/me", owner, nil)
	call("GET /v1/me", "/v1/me", "", nil)
	call("PATCH /v1/me", "/v1/me", owner, map[string]any{"name": "Olive"})
	call("GET /v1/boards/{board}", b, owner, nil)
	call("GET /v1/boards/{board}", b, "", nil)
	call("GET /v1/boards/{board}", "/v1/boards/"+crdt.ElementID{1}.String(), owner, nil)
	call("PATCH /v1/boards/{board}", b, tok, map[string]any{"name": "described too"})
	call("GET /v1/boards/{board}/state", b+"/state", owner, nil)
	call("GET /v1/boards/{board}/ops", b+"/ops", owner, nil)
	call("GET /v1/boards/{board}/ops", b+"/ops?since=nope", owner, nil)
	link := call("POST /v1/boards/{board}/links", b+"/links", owner, map[string]any{"role": "editor"})
	call("GET /v1/boards/{board}/links", b+"/links", owner, nil)
	call("DELETE /v1/boards/{board}/links/{link}", b+"/links/"+link["link"].(map[string]any)["id"].(string), owner, nil)
	call("GET /v1/boards/{board}/members", b+"/members", owner, nil)
	call("GET /v1/boards/{board}/notify", b+"/notify", owner, nil)
	call("PUT /v1/boards/{board}/notify", b+"/notify", owner, map[string]any{"mode": "each", "batchMinutes": 5})
	inv := call("POST /v1/boards/{board}/invites", b+"/invites", owner, map[string]any{"email": "ben@example.com", "role": "editor"})
	call("POST /v1/boards/{board}/invites", b+"/invites", owner, map[string]any{"email": "ben@example.com", "role": "commenter"})
	call("GET /v1/boards/{board}/invites", b+"/invites", owner, nil)
	call("DELETE /v1/boards/{board}/invites/{invite}", b+"/invites/"+inv["invite"].(map[string]any)["id"].(string), owner, nil)
	made := call("POST /v1/boards/{board}/elements", b+"/elements", owner, map[string]any{"kind": "note", "text": "idea"})
	el := made["elements"].([]any)[0].(string)
	call("PATCH /v1/boards/{board}/elements/{element}", b+"/elements/"+el, owner, map[string]any{"props": map[string]any{"x": 5}})
	call("POST /v1/boards/{board}/elements/{element}/comments", b+"/elements/"+el+"/comments", owner, map[string]any{"text": "why?"})
	call("POST /v1/boards/{board}/changes", b+"/changes", owner, map[string]any{"actions": []any{map[string]any{"op": "create", "kind": "frame"}}}, "Idempotency-Key", "k1")
	call("POST /v1/boards/{board}/changes", b+"/changes", owner, map[string]any{"actions": []any{map[string]any{"op": "nope"}}})
	call("POST /v1/boards/{board}/voting/vote", b+"/voting/vote", owner, map[string]any{"element": el, "value": 1})
	call("POST /v1/boards/{board}/voting", b+"/voting", owner, map[string]any{"dots": 3, "anonymous": true})
	call("POST /v1/boards/{board}/voting/vote", b+"/voting/vote", owner, map[string]any{"element": el, "value": 2})
	call("POST /v1/boards/{board}/voting/vote", b+"/voting/vote", owner, map[string]any{"element": el, "value": 1.5})
	call("POST /v1/boards/{board}/voting", b+"/voting", owner, map[string]any{"dots": 3})
	call("PUT /v1/boards/{board}/elements/{element}/vote", b+"/elements/"+el+"/vote", owner, nil)
	call("GET /v1/boards/{board}/voting", b+"/voting", owner, nil)
	call("POST /v1/boards/{board}/voting/close", b+"/voting/close", owner, nil)
	call("GET /v1/boards/{board}/changes", b+"/changes", owner, nil)
	call("GET /v1/boards/{board}/summary", b+"/summary?format=json", owner, nil)
	call("GET /v1/boards/{board}/summary", b+"/summary?format=html", owner, nil)
	call("GET /v1/boards/{board}/summary", b+"/summary?format=txt", owner, nil)
	call("GET /v1/boards/{board}/summary", b+"/summary?format=csv", owner, nil)
	call("POST /v1/boards/{board}/webhooks", b+"/webhooks", owner, map[string]any{"url": "https://example.com/hook"})
	call("GET /v1/boards/{board}/webhooks", b+"/webhooks", owner, nil)
	call("DELETE /v1/boards/{board}/elements/{element}", b+"/elements/"+el, owner, nil)
	call("GET /v1/boards/{board}/export", b+"/export", owner, nil)
	call("GET /v1/boards/{board}/history", b+"/history", owner, nil)
	call("GET /v1/boards/{board}/history/state", b+"/history/state?seq=1", owner, nil)
	call("POST /v1/boards/{board}/restore", b+"/restore", owner, map[string]any{"seq": 1})
	call("POST /v1/boards/{board}/import", b+"/import?format=csv", owner, nil)
	call("POST /v1/signout", "/v1/signout", owner, nil)
	call("DELETE /v1/boards/{board}", b, tok, nil)
}
