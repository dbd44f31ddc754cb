package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The image cannot be built here (no container engine runs on the test
// machines), so this test checks what can go stale in the Dockerfile without
// a build: the Go and Node versions against go.mod and package.json, every
// file it copies from the repository, the packages it builds, a non-root
// user with the data volume, and that the flags and CORKBOARD_* variables it
// passes are ones the binary accepts.
func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}

	// Join continued lines, drop comments.
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		if s := strings.TrimSpace(cur + l); s != "" {
			lines = append(lines, s)
		}
		cur = ""
	}

	var (
		goImages, nodeImages int
		user, volume         string
		env                  = map[string]string{}
		entrypoint, cmd      []string
	)
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			image := strings.Fields(rest)[0]
			switch {
			case strings.HasPrefix(image, "golang:"):
				goImages++
				if v := strings.TrimPrefix(image, "golang:"); !strings.HasPrefix(v, string(goLine[1])+"-") && v != string(goLine[1]) {
					t.Errorf("FROM %s: go.mod says go %s", image, goLine[1])
				}
			case strings.HasPrefix(image, "node:"):
				nodeImages++
				major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(image, "node:"), "-", 2)[0])
				if major < 20 {
					t.Errorf("FROM %s: the web client's build needs Node 20 or later", image)
				}
			}
		case "COPY":
			f := strings.Fields(rest)
			if strings.HasPrefix(f[0], "--from=") {
				continue
			}
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			for _, src := range f[:len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(src))); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		case "RUN":
			for _, m := range regexp.MustCompile(`go build [^&]*?(\./[\w/]+)`).FindAllStringSubmatch(rest, -1) {
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(m[1]))); err != nil {
					t.Errorf("RUN builds %s: %v", m[1], err)
				}
			}
		case "USER":
			user = rest
		case "VOLUME":
			volume = rest
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			env[k] = v
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT is not an exec form: %v", err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &cmd); err != nil {
				t.Errorf("CMD is not an exec form: %v", err)
			}
		}
	}
	if goImages == 0 || nodeImages == 0 {
		t.Errorf("want Go and Node build stages, have %d and %d", goImages, nodeImages)
	}
	if uid := strings.SplitN(user, ":", 2)[0]; uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: the node must not run as root", user)
	}
	if volume != "/data" || env["CORKBOARD_DATA_DIR"] != volume {
		t.Errorf("VOLUME %q, CORKBOARD_DATA_DIR %q: the store must be on the volume", volume, env["CORKBOARD_DATA_DIR"])
	}
	if len(entrypoint) != 1 || filepath.Base(entrypoint[0]) != "corkboard" {
		t.Errorf("ENTRYPOINT %q: want the corkboard binary alone", entrypoint)
	}
	// The variables and flags are ones the binary accepts: run stops at
	// -h after setting them, and fails on an unknown flag or a bad value.
	for k, v := range env {
		if !strings.HasPrefix(k, "CORKBOARD_") {
			t.Errorf("ENV %s: not a setting of the node", k)
		}
		t.Setenv(k, v)
	}
	// -h prints the usage on stderr: not in the test's output.
	stderr := os.Stderr
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stderr = null
		defer func() { os.Stderr = stderr; null.Close() }()
	}
	if err := run(append(append([]string{}, cmd...), "-h"), io.Discard); err != nil {
		t.Errorf("CMD %q with ENV %v: %v", cmd, env, err)
	}
}
