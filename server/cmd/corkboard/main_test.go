package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corkboard/corkboard/server/bus"
)

// A clustered node or an open NATS client port needs the shared secret:
// without --secret the command stops before opening anything and says so.
func TestNATSPortsNeedSecret(t *testing.T) {
	for _, env := range []string{"CORKBOARD_SECRET", "CORKBOARD_NATS_URL", "CORKBOARD_NATS_CLUSTER", "CORKBOARD_NATS_LISTEN"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--nats-cluster", "127.0.0.1:0"},
		{"--nats-listen", "127.0.0.1:0"},
		{"--print-nats-nkey"},
	} {
		err := run(append(args, "--data-dir", dir+"/data", "--addr", "127.0.0.1:0"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--secret") {
			t.Errorf("%v: %v, want an error asking for --secret", args, err)
		}
	}
	if _, err := os.Stat(dir + "/data"); !os.IsNotExist(err) {
		t.Errorf("the store was opened: %v", err)
	}
}

// unsetEnv removes the environment variables for the test's duration.
func unsetEnv(t *testing.T, names ...string) {
	t.Helper()
	for _, env := range names {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
}

// secretEnv lists the environment variables of the secret flags and their
// file forms.
var secretEnv = []string{
	"CORKBOARD_SECRET", "CORKBOARD_SECRET_FILE",
	"CORKBOARD_SMTP_PASSWORD", "CORKBOARD_SMTP_PASSWORD_FILE",
	"CORKBOARD_NATS_URL", "CORKBOARD_NATS_URL_FILE",
	"CORKBOARD_NATS_CLUSTER", "CORKBOARD_NATS_LISTEN",
}

// writeSecret writes content to a 0600 file in dir and returns its path.
func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The cluster secret given as a file, by --secret-file or by
// CORKBOARD_SECRET_FILE, is the secret: the nkey seed derived from it is
// the one derived from the secret itself, and the secret is in neither argv
// nor the environment. The file's trailing newline (as `echo` or an editor
// leaves it) is not part of the secret.
func TestSecretFromFile(t *testing.T) {
	unsetEnv(t, secretEnv...)
	secret := strings.Repeat("5e", 32)
	seed, err := bus.NodeSeed(bytes.Repeat([]byte{0x5e}, 32))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, content := range []string{secret, secret + "\n", secret + "\r\n"} {
		path := writeSecret(t, dir, "secret", content)
		for _, viaEnv := range []bool{false, true} {
			args := []string{"--print-nats-nkey", "--data-dir", filepath.Join(dir, "data")}
			if viaEnv {
				t.Setenv("CORKBOARD_SECRET_FILE", path)
			} else {
				os.Unsetenv("CORKBOARD_SECRET_FILE")
				args = append(args, "--secret-file", path)
			}
			for _, a := range append(args, os.Environ()...) {
				if strings.Contains(a, secret) {
					t.Fatalf("the secret is in argv or the environment: %q", a)
				}
			}
			var out bytes.Buffer
			if err := run(args, &out); err != nil {
				t.Fatalf("%q (env %v): %v", args, viaEnv, err)
			}
			if got := strings.TrimSpace(out.String()); got != string(seed) {
				t.Errorf("%q (env %v, file %q): printed %q, want the seed of the secret %q", args, viaEnv, content, got, seed)
			}
		}
	}

	// A file holding a bad secret is refused as the value itself would be.
	t.Setenv("CORKBOARD_SECRET_FILE", writeSecret(t, dir, "short", "abcd\n"))
	if err := run([]string{"--print-nats-nkey"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--secret: want at least 64 hex digits") {
		t.Errorf("short secret in a file: %v", err)
	}
}

// A secret given both as a value and as a file, in any mix of the command
// line and the environment, is refused with a message naming both, before
// the store is opened; so is an unreadable or empty file, named.
func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeSecret(t, dir, "secret", strings.Repeat("5e", 32)+"\n")
	data := filepath.Join(dir, "data")
	// A bad --log-level, checked after the secrets: should a secret error
	// be missed, run stops at it instead of starting a node.
	base := []string{"--data-dir", data, "--addr", "127.0.0.1:0", "--log-level", "bogus"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"secret: both flags", nil, []string{"--secret", strings.Repeat("5e", 32), "--secret-file", file},
			[]string{"--secret and --secret-file are both given"}},
		{"secret: value in env, file flag", map[string]string{"CORKBOARD_SECRET": strings.Repeat("5e", 32)}, []string{"--secret-file", file},
			[]string{"CORKBOARD_SECRET and --secret-file are both given"}},
		{"secret: both in env", map[string]string{"CORKBOARD_SECRET": strings.Repeat("5e", 32), "CORKBOARD_SECRET_FILE": file}, nil,
			[]string{"CORKBOARD_SECRET and CORKBOARD_SECRET_FILE are both given"}},
		{"smtp password: both", nil, []string{"--smtp-password", "hunter2", "--smtp-password-file", file},
			[]string{"--smtp-password and --smtp-password-file are both given"}},
		{"smtp password: file in env", map[string]string{"CORKBOARD_SMTP_PASSWORD_FILE": file}, []string{"--smtp-password", "hunter2"},
			[]string{"--smtp-password and CORKBOARD_SMTP_PASSWORD_FILE are both given"}},
		{"nats url: both", nil, []string{"--nats-url", "nats://u:p@127.0.0.1:1", "--nats-url-file", file},
			[]string{"--nats-url and --nats-url-file are both given"}},
		{"missing file", nil, []string{"--smtp-password-file", filepath.Join(dir, "nope")},
			[]string{"--smtp-password-file", filepath.Join(dir, "nope"), "no such file"}},
		{"missing file in env", map[string]string{"CORKBOARD_SECRET_FILE": filepath.Join(dir, "nope")}, nil,
			[]string{"CORKBOARD_SECRET_FILE", filepath.Join(dir, "nope")}},
		{"a directory", nil, []string{"--secret-file", dir},
			[]string{"--secret-file", dir}},
		{"empty file", nil, []string{"--smtp-password-file", writeSecret(t, dir, "empty", "\n")},
			[]string{"--smtp-password-file", filepath.Join(dir, "empty"), "is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsetEnv(t, secretEnv...)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := run(append(tc.args, base...), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the store was opened: %v", err)
			}
		})
	}
}

// readSecretFiles sets every secret flag from its file: the SMTP password
// and the NATS URL as well as the cluster secret.
func TestReadSecretFiles(t *testing.T) {
	dir := t.TempDir()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	secret := fs.String("secret", "", "")
	pass := fs.String("smtp-password", "", "")
	url := fs.String("nats-url", "", "")
	other := fs.String("smtp-user", "", "")
	files := addSecretFileFlags(fs)
	if len(files) != 3 || fs.Lookup("smtp-user-file") != nil {
		t.Fatalf("file flags %v, want one for each secret flag only", files)
	}
	err := fs.Parse([]string{
		"--secret-file", writeSecret(t, dir, "s", "00ff\n"),
		"--smtp-password-file", writeSecret(t, dir, "p", "pass word \n"),
		"--nats-url-file", writeSecret(t, dir, "u", "nats://u:p@127.0.0.1:4222\n"),
		"--smtp-user", "ada",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := readSecretFiles(fs, files); err != nil {
		t.Fatal(err)
	}
	if *secret != "00ff" || *pass != "pass word " || *url != "nats://u:p@127.0.0.1:4222" || *other != "ada" {
		t.Errorf("read %q %q %q %q", *secret, *pass, *url, *other)
	}
}
