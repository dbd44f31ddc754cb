// Command licenses writes and checks the project's NOTICE file.
//
//	go run ./.ci/licenses          # check (make licenses; .ci/run)
//	go run ./.ci/licenses -write   # regenerate NOTICE (make notice)
//
// NOTICE lists every piece of third-party software that ships in what the
// project distributes, with its licence:
//
//   - the Go modules linked into the corkboard binary (./server/cmd/corkboard),
//     as `go list -deps` reports them for every platform the binary is built
//     for, with cgo on and off, so a module linked on one platform only (for
//     instance github.com/google/go-tpm on Windows) is not left out; plus the
//     modules of the web client's WebAssembly module (./webclient/wasm);
//   - the Go standard library and runtime (in the binary, and compiled to
//     WebAssembly with wasm_exec.js in the web client);
//   - the npm packages bundled into the web client, which the binary embeds:
//     webclient/package.json's "dependencies" (not devDependencies) and their
//     own dependencies, resolved in webclient/node_modules as Node resolves
//     them; plus Vite, whose module-preload helpers the build puts into the
//     bundle.
//
// Each licence is read from the package's licence files (LICENSE, COPYING,
// ZSTD_LICENSE, licenses/*, ...) and classified by the clauses of its text
// (classify); an npm package's "license" field is checked too. The check
// fails, naming the package, when a licence is not in the allow-list
// (allowed), when a package has no licence file or a text that is not
// recognised, when NOTICE is not what -write would write, or when LICENSE is
// not the Apache License 2.0 unmodified.
//
// NOTICE holds the text of every licence other than the standard Apache 2.0
// text (which LICENSE holds once), verbatim, and the NOTICE files of the
// Apache-2.0 components, as section 4(d) of that licence asks. Since the
// texts are in NOTICE, a dependency whose licence text changes in an update
// makes NOTICE stale, and the check fails until someone regenerates it and
// reviews the difference: the classifier only has to be right about the
// texts it has seen, not about every text that could exist.
//
// Rejected alternatives: github.com/google/go-licenses (a new dependency of
// the build, with its own classifier database, and it knows nothing of npm);
// a NOTICE written by hand (it goes stale with the first dependency update,
// and nobody notices); classifying by npm's "license" field alone (it is
// what the author typed, and Go modules have no such field).
//
// This directory starts with a dot, so `go test ./...` and `go vet ./...`
// leave it out; `make licenses` runs its tests and then the check.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// apacheSHA256 is the SHA-256 of the Apache License 2.0 as
// https://www.apache.org/licenses/LICENSE-2.0.txt serves it: LICENSE must be
// that file, byte for byte.
const apacheSHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

// allowed lists the licences (SPDX identifiers) that may ship in the binary
// or the web client. A non-nil list restricts a licence to the packages it
// names ("go:module" or "npm:package").
var allowed = map[string][]string{
	"Apache-2.0":       nil,
	"MIT":              nil,
	"BSD-2-Clause":     nil,
	"BSD-3-Clause":     nil,
	"ISC":              nil,
	"0BSD":             nil,
	"MPL-2.0":          nil,
	"Unicode-DFS-2016": nil,
	"CC0-1.0":          nil,
	// WTFPL grants every permission and asks nothing, so it is compatible
	// with Apache-2.0; licence scanners flag it for its wording. It is
	// accepted for d3-flextree only, and any other WTFPL package must be
	// looked at first (wtfplNote).
	"WTFPL": {"npm:d3-flextree"},
	// CC-BY-ND-4.0 is a licence for works, not software: go-mail (MIT)
	// ships it in LICENSES/ for its logo alone (assets/gopher2.svg, by its
	// REUSE sidecar), which is not compiled into the binary. Accepted for
	// go-mail only; anywhere else it must be looked at first.
	"CC-BY-ND-4.0": {"go:github.com/wneessen/go-mail"},
}

// wtfplNote is printed in NOTICE: why d3-flextree's licence is acceptable.
const wtfplNote = `d3-flextree is under the WTFPL ("Do What The Fuck You Want To Public
License", version 2), which corporate licence scanners flag for its wording.
It grants everyone every right in the software and imposes no condition, so
it is compatible with the Apache License 2.0 and asks nothing of whoever
uses or redistributes Corkboard. The web client uses it to lay out mind maps
(a tidy tree with nodes of different sizes); replacing it would mean writing
that layout again, so it is kept, and listed here.`

// wtfplPackages names the packages wtfplNote is about.
var wtfplPackages = []string{"npm:d3-flextree"}

// platforms are those the binary's Go dependencies are listed for (each with
// cgo on and off): the union is what NOTICE lists.
var platforms = []string{
	"linux/amd64", "linux/arm64",
	"darwin/amd64", "darwin/arm64",
	"windows/amd64", "windows/arm64",
}

func main() {
	write := flag.Bool("write", false, "write NOTICE instead of checking it")
	root := flag.String("root", "", "the repository's root (default: the directory of go.mod above the working directory)")
	flag.Parse()
	if *root == "" {
		r, err := findRoot()
		if err != nil {
			fail(err)
		}
		*root = r
	}
	problems, err := run(*root, *write)
	if err != nil {
		fail(err)
	}
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "licence check failed:")
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "  - "+p)
		}
		os.Exit(1)
	}
	if *write {
		fmt.Println("wrote NOTICE")
	} else {
		fmt.Println("licences: NOTICE is up to date and every licence is allowed")
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "licences:", err)
	os.Exit(1)
}

// run gathers the components, checks their licences, and writes NOTICE or
// compares it. It returns the problems found (the check fails with them).
func run(root string, write bool) ([]string, error) {
	var problems []string
	lic, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(lic); hex.EncodeToString(sum[:]) != apacheSHA256 {
		problems = append(problems, "LICENSE is not the Apache License 2.0 as apache.org publishes it (its SHA-256 differs)")
	}
	goComps, err := goComponents(root)
	if err != nil {
		return nil, err
	}
	npmComps, err := npmComponents(filepath.Join(root, "webclient"))
	if err != nil {
		return nil, err
	}
	all := append(slices.Clone(goComps), npmComps...)
	for _, c := range all {
		problems = append(problems, c.problems(lic)...)
	}
	notice := render(goComps, npmComps, lic)
	path := filepath.Join(root, "NOTICE")
	if write {
		if len(problems) > 0 {
			return problems, nil
		}
		return nil, os.WriteFile(path, notice, 0o644)
	}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		problems = append(problems, "NOTICE is missing: run `make notice`")
	case err != nil:
		return nil, err
	case !bytes.Equal(old, notice):
		problems = append(problems, "NOTICE is not up to date ("+firstDiff(old, notice)+"): run `make notice` and review the difference")
	}
	return problems, nil
}

// component is one piece of third-party software and its licence files.
type component struct {
	eco      string // "go" or "npm"
	name     string
	version  string
	declared string // npm: the package.json "license" field
	note     string // shown under the component in NOTICE
	files    []licenseFile
	notices  []licenseFile // NOTICE files
}

// key names the component in allowed's lists and in messages.
func (c component) key() string { return c.eco + ":" + c.name }

func (c component) String() string {
	if c.version == "" {
		return c.name
	}
	return c.name + " " + c.version
}

// licenseFile is one licence (or NOTICE) file of a component.
type licenseFile struct {
	name string // relative to the component's directory
	text string
	ids  []string // classify(text)
}

// ids returns every licence a component's files name, sorted.
func (c component) ids() []string {
	var ids []string
	for _, f := range c.files {
		ids = append(ids, f.ids...)
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}

// problems returns what is wrong with a component's licences.
func (c component) problems(license []byte) []string {
	var ps []string
	if len(c.files) == 0 {
		ps = append(ps, fmt.Sprintf("%s (%s): no licence file found", c, c.eco))
	}
	for _, f := range c.files {
		if len(f.ids) == 0 {
			ps = append(ps, fmt.Sprintf("%s (%s): the licence text in %s is not one this check recognises; classify it in .ci/licenses", c, c.eco, f.name))
		}
	}
	// A NOTICE file may grant a licence too (go.yaml.in/yaml/v3's names
	// Apache-2.0): its licences must be allowed as well.
	for _, f := range append(slices.Clone(c.files), c.notices...) {
		for _, id := range f.ids {
			if !isAllowed(id, c.key()) {
				ps = append(ps, fmt.Sprintf("%s (%s): licence %s (%s) is not allowed (allowed: %s)", c, c.eco, id, f.name, allowedList()))
			}
		}
	}
	if c.declared != "" {
		for _, alt := range declaredAlternatives(c.declared) {
			ok := true
			for _, id := range alt {
				ok = ok && isAllowed(id, c.key())
			}
			if ok {
				return ps
			}
		}
		ps = append(ps, fmt.Sprintf("%s (%s): package.json declares licence %q, which is not allowed (allowed: %s)", c, c.eco, c.declared, allowedList()))
	}
	return ps
}

func isAllowed(id, key string) bool {
	only, ok := allowed[id]
	return ok && (only == nil || slices.Contains(only, key))
}

func allowedList() string {
	var ids []string
	for id, only := range allowed {
		if only != nil {
			id += " (for " + strings.Join(only, ", ") + " only)"
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// declaredAlternatives reads an SPDX expression of npm's "license" field
// as alternatives (split at OR), each a list of licences that all apply
// (split at AND). Parentheses are ignored, which is right for the flat
// expressions packages use ("MIT", "(MIT OR Apache-2.0)").
func declaredAlternatives(expr string) [][]string {
	expr = strings.NewReplacer("(", " ", ")", " ").Replace(expr)
	var alts [][]string
	for _, alt := range regexp.MustCompile(`\s+OR\s+`).Split(expr, -1) {
		var ids []string
		for _, id := range regexp.MustCompile(`\s+AND\s+`).Split(alt, -1) {
			ids = append(ids, strings.TrimSpace(id))
		}
		alts = append(alts, ids)
	}
	return alts
}

// licenseName matches the names of licence files at a package's top level.
var licenseName = regexp.MustCompile(`(?i)^([a-z0-9]+[_-])?(licen[cs]e|copying|unlicen[cs]e)([._-][a-z0-9]+)*$`)

// noticeName matches the names of NOTICE files.
var noticeName = regexp.MustCompile(`(?i)^notice(\.(txt|md))?$`)

// readLicenses returns the licence files and the NOTICE files of the package
// in dir: those at its top level, and every file of a top-level licenses/ or
// LICENSES/ directory.
func readLicenses(dir string) (files, notices []licenseFile, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	add := func(list *[]licenseFile, rel string) error {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		text := string(b)
		*list = append(*list, licenseFile{name: filepath.ToSlash(rel), text: text, ids: classify(text)})
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && strings.EqualFold(name, "licenses"):
			sub, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				return nil, nil, err
			}
			for _, s := range sub {
				if !s.IsDir() {
					if err := add(&files, filepath.Join(name, s.Name())); err != nil {
						return nil, nil, err
					}
				}
			}
		case e.IsDir():
		case licenseName.MatchString(name):
			if err := add(&files, name); err != nil {
				return nil, nil, err
			}
		case noticeName.MatchString(name):
			if err := add(&notices, name); err != nil {
				return nil, nil, err
			}
		}
	}
	return files, notices, nil
}

// goComponents returns the Go modules linked into the binary (on every
// platform of platforms, cgo on and off) and into the web client's
// WebAssembly module, then the Go standard library.
func goComponents(root string) ([]component, error) {
	type mod struct{ path, version, dir string }
	mods := map[string]mod{}
	list := func(pkg string, env ...string) error {
		cmd := exec.Command("go", "list", "-deps", "-f",
			`{{with .Module}}{{if not .Main}}{{with .Replace}}{{.Path}}	{{.Version}}	{{.Dir}}{{else}}{{.Path}}	{{.Version}}	{{.Dir}}{{end}}{{end}}{{end}}`, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("go list -deps %s (%s): %w", pkg, strings.Join(env, " "), err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" {
				continue
			}
			f := strings.Split(line, "\t")
			if len(f) != 3 || f[2] == "" {
				return fmt.Errorf("go list: module %q has no directory (run `go mod download`)", line)
			}
			mods[f[0]] = mod{f[0], f[1], f[2]}
		}
		return nil
	}
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		for _, cgo := range []string{"1", "0"} {
			if err := list("./server/cmd/corkboard", "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED="+cgo); err != nil {
				return nil, err
			}
		}
	}
	if err := list("./webclient/wasm", "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"); err != nil {
		return nil, err
	}
	var comps []component
	for _, m := range mods {
		files, notices, err := readLicenses(m.dir)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", m.path, m.version, err)
		}
		comps = append(comps, component{eco: "go", name: m.path, version: m.version, files: files, notices: notices})
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].name < comps[j].name })

	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	b, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("the Go distribution's licence: %w", err)
	}
	comps = append(comps, component{
		eco:   "go",
		name:  "Go standard library and runtime",
		note:  "in the binary, and in the web client: crdt.wasm, wasm_exec.js",
		files: []licenseFile{{name: "LICENSE", text: string(b), ids: classify(string(b))}},
	})
	return comps, nil
}

// packageJSON is what this program reads of a package.json.
type packageJSON struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	License              json.RawMessage   `json:"license"`
	Dependencies         map[string]string `json:"dependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
}

// declaredLicense reads "license", a string or (in old packages) an object
// with a "type".
func (p packageJSON) declaredLicense() string {
	var s string
	if json.Unmarshal(p.License, &s) == nil {
		return s
	}
	var o struct{ Type string }
	if json.Unmarshal(p.License, &o) == nil {
		return o.Type
	}
	return ""
}

func readPackageJSON(dir string) (packageJSON, error) {
	var p packageJSON
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
	}
	return p, nil
}

// npmComponents returns the web client's production dependencies, direct
// and transitive, as installed in webclient/node_modules, then Vite (its
// runtime helpers are in the bundle).
func npmComponents(web string) ([]component, error) {
	top, err := readPackageJSON(web)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules")); err != nil {
		return nil, fmt.Errorf("webclient/node_modules is missing: run `npm install` in webclient first (%w)", err)
	}
	seen := map[string]bool{} // package directories
	var comps []component
	var visit func(from, name string, optional bool) error
	visit = func(from, name string, optional bool) error {
		dir, ok := resolve(web, from, name)
		if !ok {
			if optional {
				return nil // an optional dependency not installed here
			}
			return fmt.Errorf("npm package %s (needed by %s) is not installed: run `npm install` in webclient", name, from)
		}
		if seen[dir] {
			return nil
		}
		seen[dir] = true
		p, err := readPackageJSON(dir)
		if err != nil {
			return err
		}
		files, notices, err := readLicenses(dir)
		if err != nil {
			return err
		}
		comps = append(comps, component{eco: "npm", name: p.Name, version: p.Version, declared: p.declaredLicense(), files: files, notices: notices})
		for _, d := range sortedKeys(p.Dependencies) {
			if err := visit(dir, d, false); err != nil {
				return err
			}
		}
		for _, d := range sortedKeys(p.OptionalDependencies) {
			if err := visit(dir, d, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range sortedKeys(top.Dependencies) {
		if err := visit(web, d, false); err != nil {
			return nil, err
		}
	}
	sort.Slice(comps, func(i, j int) bool {
		if comps[i].name != comps[j].name {
			return comps[i].name < comps[j].name
		}
		return comps[i].version < comps[j].version
	})

	// Vite's MIT licence is the first part of its LICENSE.md; the rest lists
	// the licences of what Vite's own tools bundle, which stays out of ours.
	vite := filepath.Join(web, "node_modules", "vite")
	p, err := readPackageJSON(vite)
	if err != nil {
		return nil, fmt.Errorf("vite (run `npm install` in webclient): %w", err)
	}
	b, err := os.ReadFile(filepath.Join(vite, "LICENSE.md"))
	if err != nil {
		return nil, err
	}
	text, _, _ := strings.Cut(string(b), "# Licenses of bundled dependencies")
	text = strings.TrimSpace(text) + "\n"
	comps = append(comps, component{
		eco: "npm", name: p.Name, version: p.Version, declared: p.declaredLicense(),
		note:  "its module-preload helpers only, which the build puts into the bundle",
		files: []licenseFile{{name: "LICENSE.md (its first section)", text: text, ids: classify(text)}},
	})
	return comps, nil
}

// resolve finds package name as Node does from the package in dir: in
// dir/node_modules, then in each parent's node_modules up to web.
func resolve(web, dir, name string) (string, bool) {
	for {
		p := filepath.Join(dir, "node_modules", name)
		if _, err := os.Stat(filepath.Join(p, "package.json")); err == nil {
			return p, true
		}
		if dir == web || len(dir) <= len(web) {
			return "", false
		}
		dir = filepath.Dir(dir)
		if filepath.Base(dir) == "node_modules" {
			dir = filepath.Dir(dir)
		}
		if strings.HasPrefix(filepath.Base(dir), "@") { // a scope directory
			dir = filepath.Dir(filepath.Dir(dir))
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// firstDiff describes where two files first differ.
func firstDiff(old, new []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(new), "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y || i >= len(a) || i >= len(b) {
			return fmt.Sprintf("line %d is %q, expected %q", i+1, x, y)
		}
	}
	return "they differ"
}

// findRoot returns the directory of the go.mod at or above the working
// directory.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		dir = parent
	}
}
