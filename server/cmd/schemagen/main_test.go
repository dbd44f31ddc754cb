package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/crdt"
)

// The artefacts in the tree are what crdt.Kinds makes now: a change to the
// schema comes with its JSON Schema and TypeScript types (go run
// ./server/cmd/schemagen).
func TestArtefactsUpToDate(t *testing.T) {
	for path, want := range artefacts() {
		got, err := os.ReadFile(filepath.Join("..", "..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go run ./server/cmd/schemagen", path)
		}
	}
}

// The JSON Schema names every kind and every property of the schema.
func TestJSONSchemaCoversKinds(t *testing.T) {
	var doc struct {
		Defs map[string]struct {
			Properties struct {
				Kind  struct{ Const string } `json:"kind"`
				Props struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"props"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(jsonSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	for k, spec := range crdt.Kinds {
		def, ok := doc.Defs[strings.ToUpper(k[:1])+k[1:]]
		if !ok || def.Properties.Kind.Const != k {
			t.Fatalf("kind %s missing", k)
		}
		for p := range spec.Props {
			if _, ok := def.Properties.Props.Properties[p]; !ok {
				t.Fatalf("%s.%s missing", k, p)
			}
		}
	}
}
